/**
 * npm run bench:ari:real — clean calls on a real Asterisk 22, in one run and alternating:
 *   spoofguard         the project's dialplan and `spoofguard ari` (ari.cleanCalls: dialplan, the default)
 *   spoofguard-stasis  the same app keeping clean calls in Stasis (ari.cleanCalls: stasis)
 *   minimal            a minimal ari-client app: one Redis look-up, dial the subscriber, bridge (bench/ari-real-minimal.ts)
 *   dialplan           a dialplan-only look-up (AstDB), then Dial(): the floor
 * sipp calls through its own trunk endpoint per variant (127.0.0.1 … 127.0.0.4); a sipp UAS answers as the
 * subscriber at once; every call is held 1 s, then the caller hangs up. Prints caller INVITE→200 p50/p99 at
 * 10 and 30 calls/s, the highest rate with 0 failed calls for BENCH_STEP_SEC (20) s, Asterisk's CPU per
 * call, the channels and bridges left after each run, and what spoofguard handed back above its rate.
 * Needs ASTERISK_BIN, ASTERISK_MODULES, ASTERISK_DATA, SIPP_BIN pointed at your own servers (docs/TESTING.md). Run as root.
 * Options: BENCH_STEP_SEC=20 BENCH_LADDER=20,40,60,80,100,130,160,200,250,300 BENCH_LATENCY_SEC=20
 * BENCH_OVER=1.25
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { openListAdmin } from '../services/screening';
import { seedEntries } from '../services/screening/seed';
import { spawnSpoofguard } from '../test/support/child';
import { freePort, PrivateRedis } from '../test/support/redis';
import { RealAsterisk, realServerEnv } from '../test/real/support/asterisk';
import { callerScenario, startSipp, subscriberScenario } from '../test/real/support/sipp';
import { fmt, report, summarize } from './stats';

const STEP_SEC = Number(process.env.BENCH_STEP_SEC ?? 20);
const LATENCY_SEC = Number(process.env.BENCH_LATENCY_SEC ?? 20);
/** The overload step's rate, as a multiple of spoofguard's highest clean rate. */
const OVER = Number(process.env.BENCH_OVER ?? 1.25);
const LADDER = (process.env.BENCH_LADDER ?? '20,40,60,80,100,130,160,200,250,300').split(',').map(Number);
const CALLED = '+4930901820';

type Variant = 'spoofguard' | 'spoofguard-stasis' | 'minimal' | 'dialplan';
const SOURCE: Record<Variant, string> = {
  spoofguard: '127.0.0.1',
  'spoofguard-stasis': '127.0.0.4',
  minimal: '127.0.0.2',
  dialplan: '127.0.0.3',
};

const endpoint = (name: string, context: string, address: string): string => `
[${name}]
type = endpoint
context = ${context}
disallow = all
allow = alaw,ulaw
direct_media = no

[${name}]
type = identify
endpoint = ${name}
match = ${address}
`;

/** The compared apps' way in: bench-only endpoints and contexts after the project's own (left as they are). */
const EXTRA = {
  pjsip:
    endpoint('bench-minimal', 'bench-minimal', SOURCE.minimal) +
    endpoint('bench-dialplan', 'bench-dialplan', SOURCE.dialplan) +
    endpoint('bench-sg-stasis', 'bench-sg-stasis', SOURCE['spoofguard-stasis']),
  extensions: `
[bench-minimal]
exten => _[+0-9].,1,Stasis(minimal,\${EXTEN})
 same => n,Hangup()

[bench-dialplan]
exten => _[+0-9].,1,Set(LISTED=\${DB(spoofguard/\${CALLERID(num)})})
 same => n,Dial(PJSIP/\${EXTEN}@subscribers,45)
 same => n,Hangup()

[bench-sg-stasis]
exten => _[+0-9].,1,Stasis(sgstasis,\${EXTEN},de-national,,)
 same => n,Dial(PJSIP/\${EXTEN}@subscribers,45)
 same => n,Hangup()
`,
};

interface RunResult {
  variant: Variant;
  rate: number;
  ok: number;
  failed: number;
  latency: number[];
  asteriskCpuMsPerCall: number;
  left: { channels: number; bridges: number };
  /** From the end of the run until no channel and bridge was left (or the settle time ran out). */
  settledMs: number;
}

type Rig = Awaited<ReturnType<typeof startRig>>;

/**
 * The rig: an Asterisk, a Redis, the seed lists, the three ARI apps connected and a sipp subscriber answering;
 * `run` measures one variant at one rate.
 */
async function startRig(env: ReturnType<typeof realServerEnv>) {
  const subscriberPort = await freePort();
  // three ARI apps share this Asterisk; their idle keep-alive connections count against http.conf's
  // sessionlimit (100), so the benchmark's Asterisk allows more (one app per Asterisk needs no change)
  const asterisk = new RealAsterisk(env as Required<typeof env> as never, {
    subscriberPort,
    extra: EXTRA,
    httpSessionLimit: 400,
  });
  const redis = await PrivateRedis.start();
  await asterisk.start();
  const opsPort = await freePort();
  const base = {
    redis: { url: redis.url },
    log: { level: 'warn' },
    ops: { port: opsPort },
    ari: { url: asterisk.ariUrl, username: asterisk.ariUser, password: asterisk.ariPassword },
  };
  const config = loadConfig({ overrides: base });
  const lists = await openListAdmin(config, createLogger({ level: 'warn' }));
  await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
  await lists.close();

  const children: ChildProcess[] = [];
  const sg = spawnSpoofguard(['ari'], config, { SPOOFGUARD_LOG_LEVEL: 'warn' });
  const stasisPort = await freePort();
  const sgStasis = spawnSpoofguard(
    ['ari'],
    loadConfig({
      // its bench context has no bypass check, and the global it would set is the other app's
      overrides: {
        ...base,
        ops: { port: stasisPort },
        ari: { ...base.ari, app: 'sgstasis', cleanCalls: 'stasis', overloadBypassSec: 0 },
      },
    }),
    { SPOOFGUARD_LOG_LEVEL: 'warn' },
  );
  const minimal = fork(join(__dirname, 'ari-real-minimal.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      ARI_URL: asterisk.ariUrl,
      ARI_USER: asterisk.ariUser,
      ARI_PASSWORD: asterisk.ariPassword,
      ARI_APP: 'minimal',
      REDIS_URL: redis.url,
      ENDPOINT: 'PJSIP/{to}@subscribers',
    },
  });
  children.push(sg, sgStasis, minimal);
  // the subscriber answers every call at once and waits for the caller's BYE
  const subscriber = await startSipp(
    env,
    subscriberScenario({ kind: 'answer', ringMs: 0, then: 'wait-bye' }, env.dtmfPcaps),
    {
      port: subscriberPort,
      calls: 10_000_000,
      extra: ['-mp', '16000', '-max_socket', '100000'],
    },
  );
  for (let i = 0; ; i++) {
    const apps = (await (await asterisk.ari('GET', '/applications')).json()) as { name: string }[];
    if (['spoofguard', 'sgstasis', 'minimal'].every((n) => apps.some((a) => a.name === n))) break;
    if (i > 300) {
      subscriber.stop();
      for (const c of children) c.kill('SIGKILL');
      await asterisk.close();
      await redis.stop();
      throw new Error('the apps did not connect to Asterisk');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const cpuMs = (): Promise<number> => Promise.resolve(asterisk.cpuSeconds() * 1000);
  const clearAsterisk = async (): Promise<void> => {
    const channels = (await (await asterisk.ari('GET', '/channels')).json()) as { id: string }[];
    const bridges = (await (await asterisk.ari('GET', '/bridges')).json()) as { id: string }[];
    await Promise.all([
      ...channels.map((c) => asterisk.ari('DELETE', `/channels/${c.id}`).catch(() => undefined)),
      ...bridges.map((b) => asterisk.ari('DELETE', `/bridges/${b.id}`).catch(() => undefined)),
    ]);
    await new Promise((r) => setTimeout(r, 1000));
  };

  const run = async (variant: Variant, rate: number, seconds: number, settleSec = 10): Promise<RunResult> => {
    const calls = Math.round(rate * seconds);
    const cpuBefore = await cpuMs();
    const uac = await startSipp(
      env,
      callerScenario({ number: '+4940123456', called: CALLED, end: { kind: 'bye', afterMs: 1000 } }),
      {
        remote: `127.0.0.1:${asterisk.ports.sip}`,
        calls,
        rate,
        extra: [
          '-i',
          SOURCE[variant],
          '-mp',
          '26000',
          '-trace_rtt',
          '-trace_err',
          '-rtt_freq',
          '1',
          '-recv_timeout',
          '10000',
          '-max_socket',
          '100000',
          '-l',
          String(rate * 15),
        ],
      },
    );
    await uac.done;
    const out = uac.output();
    const count = (label: string): number =>
      Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(out)?.[1] ?? 0);
    const ok = count('Successful call');
    const failed = count('Failed call') + Math.max(0, calls - ok - count('Failed call'));
    // why calls failed, as sipp saw it (its error file), for the record
    if (failed > 0) {
      const errors = readdirSync(uac.dir).find((f) => f.endsWith('_errors.log'));
      const lines = errors ? readFileSync(join(uac.dir, errors), 'utf8').split('\n').filter(Boolean) : [];
      const kinds = new Map<string, number>();
      for (const line of lines) {
        const kind = line
          .replace(/^[\d\-:. ]+/, '')
          .replace(/\d+/g, 'N')
          .slice(0, 120);
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      console.log(
        `  ${variant} @ ${rate}/s: ${failed} failed (planned ${calls}, successful ${ok}, failed ${count('Failed call')})` +
          [...kinds]
            .slice(0, 4)
            .map(([k, n]) => `\n    ${n}× ${k}`)
            .join(''),
      );
    }
    const dir = uac.dir;
    const rttFile = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
    const latency = rttFile
      ? readFileSync(join(dir, rttFile), 'utf8')
          .split('\n')
          .slice(1)
          .map((l) => Number(l.split(';')[1]))
          .filter((n) => Number.isFinite(n) && n > 0)
      : [];
    await new Promise((r) => setTimeout(r, 2500));
    const cpu = (await cpuMs()) - cpuBefore;
    let left = await asterisk.leftovers();
    const settleFrom = Date.now();
    while ((left.channels || left.bridges) && Date.now() - settleFrom < settleSec * 1000) {
      await new Promise((r) => setTimeout(r, 200));
      left = await asterisk.leftovers();
    }
    const settledMs = 2500 + Date.now() - settleFrom;
    // what one variant left must not count against the next: clear it (it is reported above)
    if (left.channels || left.bridges) await clearAsterisk();
    return { variant, rate, ok, failed, latency, asteriskCpuMsPerCall: cpu / Math.max(1, calls), left, settledMs };
  };

  const close = async (): Promise<void> => {
    subscriber.stop();
    for (const c of children) c.kill('SIGKILL');
    await asterisk.close();
    await redis.stop();
  };
  return { run, sg, sgStasis, opsPort, close };
}

const VARIANTS: Variant[] = ['spoofguard', 'spoofguard-stasis', 'minimal', 'dialplan'];

/** Every app compiles its hot paths before it is measured. */
async function warmUp(rig: Rig): Promise<void> {
  for (const v of VARIANTS) await rig.run(v, 10, 3);
}

/** INVITE→200 at 10 and 30 calls/s, each variant. */
async function latencyAtLowRates(rig: Rig): Promise<void> {
  const { run } = rig;
  const variants = VARIANTS;
  const latency = new Map<string, RunResult>();
  for (const rate of [10, 30]) for (const v of variants) latency.set(`${v}@${rate}`, await run(v, rate, LATENCY_SEC));
  for (const rate of [10, 30]) {
    const rows: [string, string][] = variants.map((v) => {
      const r = latency.get(`${v}@${rate}`) as RunResult;
      const s = summarize(r.latency);
      // sipp's clock ticks in 4 ms steps here: the mean of many calls is the finer figure
      const mean = r.latency.reduce((a, b) => a + b, 0) / Math.max(1, r.latency.length);
      return [
        v,
        `INVITE→200 p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} mean ${fmt(mean)}  failed ${r.failed}/${r.ok + r.failed}  Asterisk CPU ${r.asteriskCpuMsPerCall.toFixed(2)} ms/call  left ${r.left.channels} ch ${r.left.bridges} br`,
      ];
    });
    report(`${rate} calls/s for ${LATENCY_SEC} s`, rows);
    const ratio = (a: Variant, b: Variant, p: 'p50' | 'p99'): string =>
      (
        summarize((latency.get(`${a}@${rate}`) as RunResult).latency)[p] /
        summarize((latency.get(`${b}@${rate}`) as RunResult).latency)[p]
      ).toFixed(2);
    console.log(
      `  spoofguard / minimal: p50 ${ratio('spoofguard', 'minimal', 'p50')}× (target ≤ 1.15), p99 ${ratio('spoofguard', 'minimal', 'p99')}× (target ≤ 1.3)`,
    );
  }
}

/** spoofguard's metrics text (its hand-backs by reason, their delays). */
const metricsText = async (opsPort: number): Promise<string> =>
  (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
/** spoofguard's hand-backs so far, by reason. */
const handedBack = async (opsPort: number, text?: string): Promise<Map<string, number>> =>
  new Map(
    [
      ...(text ?? (await metricsText(opsPort))).matchAll(
        /spoofguard_ari_handed_back_total\{reason="(\w+)"[^}]*\} (\d+)/g,
      ),
    ].map((m) => [m[1], Number(m[2])]),
  );
/** spoofguard_ari_hand_back_seconds{reason="overload"}: calls, and how many within 1 s of their creation. */
const handBackDelay = (text: string): { count: number; withinSecond: number } => {
  const value = (series: string, labels: string[]): number => {
    for (const m of text.matchAll(new RegExp(`^${series}\\{([^}]*)\\} (\\d+)`, 'gm')))
      if (labels.every((l) => m[1].split(',').includes(l))) return Number(m[2]);
    return 0;
  };
  return {
    count: value('spoofguard_ari_hand_back_seconds_count', ['reason="overload"']),
    withinSecond: value('spoofguard_ari_hand_back_seconds_bucket', ['le="1"', 'reason="overload"']),
  };
};

/** The highest rate with 0 failed calls (and, for spoofguard, none passed on unscreened), variants alternating. */
async function rateLadder(rig: Rig): Promise<number> {
  const { run, opsPort } = rig;
  const variants = VARIANTS;
  // the highest rate with 0 failed calls (and, for spoofguard, none passed on unscreened for overload),
  // alternating the variants at each step
  const best = new Map<Variant, number>();
  const alive = new Set<Variant>(variants);
  const ladderRows: [string, string][] = [];
  for (const rate of LADDER) {
    for (const v of variants) {
      if (!alive.has(v)) continue;
      const before = v === 'spoofguard' ? await handedBack(opsPort) : undefined;
      const r = await run(v, rate, STEP_SEC);
      const unscreenedBy = before
        ? [...(await handedBack(opsPort))]
            .filter(([reason]) => reason !== 'clean')
            .map(([reason, n]) => [reason, n - (before.get(reason) ?? 0)] as const)
            .filter(([, n]) => n > 0)
        : [];
      const unscreened = unscreenedBy.map(([reason, n]) => `${reason} ${n}`).join(', ');
      console.log(
        `  ladder: ${v} @ ${rate}/s failed ${r.failed}/${r.ok + r.failed}, left ${r.left.channels} ch ${r.left.bridges} br${unscreened ? `; unscreened: ${unscreened}` : ''}`,
      );
      ladderRows.push([
        `${v} @ ${rate}/s`,
        `failed ${r.failed}/${r.ok + r.failed}  p50 ${fmt(summarize(r.latency).p50)} p99 ${fmt(summarize(r.latency).p99)}  left ${r.left.channels} ch ${r.left.bridges} br${unscreened ? `  unscreened: ${unscreened}` : ''}`,
      ]);
      if (r.failed === 0 && r.left.channels === 0 && r.left.bridges === 0 && unscreenedBy.length === 0)
        best.set(v, rate);
      else alive.delete(v);
    }
    if (alive.size === 0) break;
  }
  report(`rate ladder, ${STEP_SEC} s a step`, ladderRows);
  report(
    'highest rate with 0 failed calls',
    variants.map((v) => [v, `${best.get(v) ?? 0} calls/s${alive.has(v) ? ' (the ladder ended first)' : ''}`]),
  );
  const sgBest = best.get('spoofguard') ?? 0;
  console.log(`  spoofguard / minimal: ${(sgBest / Math.max(1, best.get('minimal') ?? 0)).toFixed(2)}× (target ≥ 0.9)`);

  return sgBest;
}

/** Above spoofguard's highest clean rate: what it hands back unscreened, beside the dialplan-only floor. */
async function overload(rig: Rig, sgBest: number): Promise<void> {
  const { run, opsPort } = rig;
  // above spoofguard's highest clean rate: what it hands back unscreened, counted; the dialplan-only floor at
  // the same rate says what this Asterisk can do at all
  const over = Math.round(Math.max(sgBest, 20) * OVER);
  const textBefore = await metricsText(opsPort);
  const before = await handedBack(opsPort, textBefore);
  const delayBefore = handBackDelay(textBefore);
  // leftovers are polled for a minute: a backlog Asterisk is still clearing is told apart from a leak
  const r = await run('spoofguard', over, STEP_SEC, 60);
  const textAfter = await metricsText(opsPort);
  const after = await handedBack(opsPort, textAfter);
  const delayAfter = handBackDelay(textAfter);
  const overloadBack = delayAfter.count - delayBefore.count;
  const withinSecond = delayAfter.withinSecond - delayBefore.withinSecond;
  const floor = await run('dialplan', over, STEP_SEC, 60);
  const delta = [...after].map(([reason, n]) => `${reason} ${n - (before.get(reason) ?? 0)}`).join(', ');
  const settled = (x: RunResult): string =>
    x.left.channels || x.left.bridges
      ? `still left after ${(x.settledMs / 1000).toFixed(1)} s: ${x.left.channels} ch ${x.left.bridges} br`
      : `nothing left ${(x.settledMs / 1000).toFixed(1)} s after the run`;
  report(`${over} calls/s (${OVER}× spoofguard's highest), ${STEP_SEC} s`, [
    ['spoofguard', `ok ${r.ok}, failed ${r.failed}; ${settled(r)}`],
    ['  handed back in this run', delta || 'none'],
    [
      '  handed back for overload within 1 s of arriving',
      overloadBack
        ? `${withinSecond}/${overloadBack} (${((100 * withinSecond) / overloadBack).toFixed(1)} %; bypassed calls never wait)`
        : 'none handed back one by one',
    ],
    ['  INVITE→200 p50 / p99', `${fmt(summarize(r.latency).p50)} / ${fmt(summarize(r.latency).p99)}`],
    ['dialplan only', `ok ${floor.ok}, failed ${floor.failed}; ${settled(floor)}`],
    ['  INVITE→200 p50 / p99', `${fmt(summarize(floor.latency).p50)} / ${fmt(summarize(floor.latency).p99)}`],
  ]);
}

/** What the apps warned about (a failed call is explained here, if the app saw it). */
function appWarnings(rig: Rig): void {
  const { sg, sgStasis } = rig;
  // what the apps warned about (a failed call is explained here, if the app saw it)
  for (const [name, child] of [
    ['spoofguard', sg],
    ['spoofguard-stasis', sgStasis],
  ] as const) {
    const lines = child
      .output()
      .split('\n')
      .filter((l) => /"level":(40|50)/.test(l));
    const msgs = new Map<string, number>();
    for (const l of lines) {
      const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? l.slice(0, 80);
      msgs.set(msg, (msgs.get(msg) ?? 0) + 1);
    }
    report(
      `${name}: warnings and errors`,
      [...msgs].map(([m, n]) => [String(n), m]),
    );
  }
}

async function main(): Promise<void> {
  const env = realServerEnv();
  if (!env.asteriskBin || !env.asteriskModules || !env.asteriskData) {
    console.log(
      'bench:ari:real needs ASTERISK_BIN, ASTERISK_MODULES and ASTERISK_DATA pointed at your Asterisk 22 (docs/TESTING.md)',
    );
    process.exitCode = 1;
    return;
  }
  const rig = await startRig(env);
  try {
    await warmUp(rig);
    await latencyAtLowRates(rig);
    const sgBest = await rateLadder(rig);
    await overload(rig, sgBest);
    appWarnings(rig);
  } finally {
    await rig.close();
  }
}

main().catch((err: Error) => {
  console.error(err);
  process.exitCode = 1;
});
