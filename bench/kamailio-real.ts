/**
 * npm run bench:kamailio:real — the Kamailio front against what a carrier compares it with, in one run on one box,
 * alternating at every rate:
 *   F  Kamailio alone (kamailio/kamailio.cfg with -A SG_FLOOR): the caller looked up in an htable, relayed: the floor
 *   K  Kamailio + spoofguard: kamailio/kamailio.cfg asks `spoofguard kamailio` over evapi about every INVITE
 *   D  the drachtio front: drachtio-server + `spoofguard sip` (config/drachtio.conf.xml)
 * sipp calls with 10,000 German numbers (clean calls: a carrier's everyday traffic), a sipp UAS answers at once
 * as the next hop, the caller ACKs and hangs up at once (ACK and BYE along the route set). Per rate and
 * contestant: failed calls, INVITE→final p50/p99 at the caller (read off a capture of its port when dumpcap and
 * tshark are installed, else sipp's response times in 4 ms steps), calls that went unscreened (Kamailio's
 * sg_unscreened_* counters; spoofguard sip's unscreened and degraded), and CPU per call of every process:
 * Kamailio (all its processes), spoofguard's node, drachtio-server, and the two sipps.
 * Prints: the highest rate each carries with 0 failed calls, 0 unscreened and p99 < 50 ms; p50/p99 at 1,000/s and
 * at the highest rate all three carry; CPU per 1,000 INVITE/s at BENCH_CPU_RATE (1,000/s) or the highest rate
 * all three carry if lower; what K does above its highest rate; and the issue's targets.
 * Needs KAMAILIO_BIN/KAMCMD_BIN (or kamailio on PATH), DRACHTIO_BIN and SIPP_BIN (docs/TESTING.md).
 * A run the hypervisor disturbed (steal of 100 ms in one 100 ms sample, or 15 % of the run: bench/host-steal.ts) is
 * run again, up to three times, the same rule for all three: its p99 measures the host, not the contestant.
 * Options: BENCH_STEP_SEC=8 BENCH_LADDER=250,500,750,1000,1250,1500,1750,2000,2500 BENCH_CPU_RATE=1000
 * BENCH_STEAL_WORST_MS=100 BENCH_STEAL_SHARE=0.15 BENCH_STEAL_RETRIES=3
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { openListAdmin } from '../services/screening';
import { seedEntries } from '../services/screening/seed';
import { exited, spawnSpoofguard } from '../test/support/child';
import { freePort, PrivateRedis } from '../test/support/redis';
import { realServerEnv } from '../test/real/support/asterisk';
import { httpText, RealDrachtio } from '../test/real/support/drachtio';
import { RealKamailio } from '../test/real/support/kamailio';
import { uasScenario } from '../test/real/support/sip-scenarios';
import { startSipp } from '../test/real/support/sipp';
import { callerRun, undisturbed } from './caller-run';
import { type StealFigures } from './host-steal';
import { captureUnavailable } from './sip-capture';
import { germanNumber, processTree, writeCallers } from './sipp-figures';
import { fmt, report, summarize } from './stats';

const STEP_SEC = Number(process.env.BENCH_STEP_SEC ?? 8);
const LADDER = (process.env.BENCH_LADDER ?? '250,500,750,1000,1250,1500,1750,2000,2500').split(',').map(Number);
const CPU_RATE = Number(process.env.BENCH_CPU_RATE ?? 1000);
const CALLED = '+4930901820';
const CONTESTANTS = ['F', 'K', 'D'] as const;
type Contestant = (typeof CONTESTANTS)[number];
const NAMES: Record<Contestant, string> = {
  F: 'F Kamailio + htable (floor)',
  K: 'K Kamailio + spoofguard',
  D: 'D drachtio front',
};

interface Run {
  c: Contestant;
  rate: number;
  calls: number;
  ok: number;
  failed: number;
  unscreened: number;
  latency: number[];
  /** CPU ms per call, by process. */
  cpu: { kamailio: number; node: number; drachtio: number; sipp: number; sippCaller: number };
  trouble: string;
  steal: StealFigures;
}

async function kamailioUnscreened(k: RealKamailio): Promise<number> {
  const s = await k.stats();
  return (s.sg_unscreened_timeout ?? 0) + (s.sg_unscreened_nolink ?? 0) + (s.sg_unscreened_by_sg ?? 0);
}

async function sipUnscreened(opsPort: number): Promise<number> {
  const text = await httpText(`http://127.0.0.1:${opsPort}/metrics`);
  return [
    ...text.matchAll(/^spoofguard_(?:sip_unscreened_total|screenings_degraded_total)(?:\{[^}]*\})? (\d+)/gm),
  ].reduce((a, m) => a + Number(m[1]), 0);
}

async function startRig(env: ReturnType<typeof realServerEnv>) {
  const redis = await PrivateRedis.start();
  const nextHopPort = await freePort();
  const sipOps = await freePort();
  const kamOps = await freePort();
  const floor = new RealKamailio(env.kamailioBin as string, env.kamcmdBin as string, {
    nextHop: `127.0.0.1:${nextHopPort}`,
    floor: true,
    node: 'floor',
  });
  const kamailio = new RealKamailio(env.kamailioBin as string, env.kamcmdBin as string, {
    nextHop: `127.0.0.1:${nextHopPort}`,
    node: 'bench',
  });
  const drachtio = new RealDrachtio(env.drachtioBin as string);
  await Promise.all([floor.start(), kamailio.start(), drachtio.start()]);
  const config = loadConfig({
    overrides: {
      redis: { url: redis.url },
      log: { level: 'warn' },
      queue: { spoolDir: join(mkdtempSync(join(tmpdir(), 'sg-bench-kamailio-')), 'spool') },
      sip: {
        drachtioHost: '127.0.0.1',
        drachtioPort: drachtio.ports.admin,
        drachtioSecret: drachtio.secret,
        nextHop: `sip:127.0.0.1:${nextHopPort}`,
      },
      kamailio: { endpoints: [kamailio.evapiEndpoint] },
    },
  });
  const lists = await openListAdmin(config, createLogger({ level: 'warn' }));
  const seeded = seedEntries(lists.brands);
  await lists.admin.import(seeded, { replace: { origin: 'seed' } });
  await lists.close();
  // the floor's htable holds the brands' numbers, as spoofguard's lists do
  for (const e of seeded)
    if (e.kind === 'number') await floor.kamcmd('htable.sets', 'floor', e.value, e.brand ?? 'brand');

  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-kamailio-'));
  const callers = join(dir, 'callers.csv');
  writeCallers(callers, Array.from({ length: 10_000 }, germanNumber));

  const nextHop = await startSipp(env, uasScenario({ ringMs: 0, then: 'wait-bye' }), {
    port: nextHopPort,
    calls: 100_000_000,
    extra: ['-max_socket', '100000'],
  });
  // as users run them (npm start): the compiled JavaScript, each front its own process
  const built = { built: true, changedFrom: loadConfig() };
  const kamFront = spawnSpoofguard(
    ['kamailio'],
    config,
    { SPOOFGUARD_LOG_LEVEL: 'info', SPOOFGUARD_OPS_PORT: String(kamOps) },
    built,
  );
  const sipFront = spawnSpoofguard(
    ['sip'],
    config,
    { SPOOFGUARD_LOG_LEVEL: 'info', SPOOFGUARD_OPS_PORT: String(sipOps) },
    built,
  );
  for (let i = 0; i < 600; i++) {
    if (
      kamFront.output().includes('connected to Kamailio') &&
      sipFront.output().includes('connected to drachtio-server')
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!kamFront.output().includes('connected to Kamailio'))
    throw new Error(`spoofguard kamailio did not connect\n${kamFront.output()}`);
  if (!sipFront.output().includes('connected to drachtio-server'))
    throw new Error(`spoofguard sip did not connect\n${sipFront.output()}`);
  const floorPids = processTree(floor.pid as number);
  const kamPids = processTree(kamailio.pid as number);
  const drachtioPid = (drachtio as unknown as { process?: ChildProcess }).process?.pid as number;
  const noCapture = await captureUnavailable();

  const run = async (c: Contestant, rate: number, seconds: number): Promise<Run> => {
    const unscreened = (): Promise<number> =>
      c === 'K' ? kamailioUnscreened(kamailio) : c === 'D' ? sipUnscreened(sipOps) : Promise.resolve(0);
    const un = await unscreened();
    const r = await callerRun(env, {
      target: c === 'F' ? floor.sipAddress : c === 'K' ? kamailio.sipAddress : drachtio.sipAddress,
      rate,
      seconds,
      callers,
      called: CALLED,
      nextHopPid: nextHop.process.pid as number,
      groups: {
        kamailio: c === 'F' ? floorPids : c === 'K' ? kamPids : [],
        node: c === 'K' ? [kamFront.pid as number] : c === 'D' ? [sipFront.pid as number] : [],
        drachtio: c === 'D' ? [drachtioPid] : [],
      },
      capture: !noCapture,
    });
    const cpu = { kamailio: 0, node: 0, drachtio: 0, ...r.cpu, sipp: r.sipp, sippCaller: r.sippCaller };
    return { ...r, c, rate, cpu, unscreened: (await unscreened()) - un };
  };

  const close = async (): Promise<void> => {
    nextHop.stop();
    for (const app of [kamFront, sipFront]) {
      app.kill('SIGTERM');
      const killer = setTimeout(() => app.kill('SIGKILL'), 10_000);
      await exited(app);
      clearTimeout(killer);
    }
    await Promise.all([floor.close(), kamailio.close(), drachtio.close()]);
    await redis.stop();
  };
  /** A run measured under the rule all three share: one the hypervisor disturbed is run again. */
  const measured = (c: Contestant, rate: number, seconds: number, label = ''): Promise<Run> =>
    undisturbed(() => run(c, rate, seconds), line, label);
  return { run, measured, close, noCapture };
}

const pct = (msPerCall: number, rate: number): string => `${((msPerCall * rate) / 10).toFixed(0)}%`;

function line(r: Run): string {
  const l = summarize(r.latency);
  const cpu = [
    r.c !== 'D' ? `kamailio ${pct(r.cpu.kamailio, 1000)}` : '',
    r.c !== 'F' ? `node ${pct(r.cpu.node, 1000)}` : '',
    r.c === 'D' ? `drachtio ${pct(r.cpu.drachtio, 1000)}` : '',
    `sipp ${pct(r.cpu.sipp, 1000)} (caller at ${pct(r.cpu.sippCaller, r.rate)} of a core)`,
  ].filter(Boolean);
  return (
    `${NAMES[r.c].padEnd(28)} ${String(r.rate).padStart(5)}/s  failed ${r.failed}/${r.calls}  unscreened ${r.unscreened}  ` +
    `p50 ${fmt(l.p50)} p99 ${fmt(l.p99)}  CPU per 1,000/s: ${cpu.join(', ')}${r.trouble ? `  (caller: ${r.trouble})` : ''}`
  );
}

const passes = (r: Run): boolean => r.failed === 0 && r.unscreened === 0 && summarize(r.latency).p99 < 50;
/** sipp's caller at 90 % of a core or more: the rate measures sipp, not the contestant. */
const sippBound = (r: Run): boolean => r.cpu.sippCaller * r.rate >= 900;

async function main(): Promise<void> {
  process.env.SPOOFGUARD_CHILD_NODE_ARGS = `--no-flush-bytecode --no-memory-reducer ${process.env.SPOOFGUARD_CHILD_NODE_ARGS ?? ''}`;
  const env = realServerEnv();
  const missing = [
    env.kamailioBin ? '' : 'KAMAILIO_BIN',
    env.kamcmdBin ? '' : 'KAMCMD_BIN',
    env.drachtioBin ? '' : 'DRACHTIO_BIN',
  ].filter(Boolean);
  if (missing.length) {
    console.log(
      `bench:kamailio:real needs ${missing.join(', ')} (and SIPP_BIN) pointed at your servers (docs/TESTING.md)`,
    );
    process.exitCode = 1;
    return;
  }
  const rig = await startRig(env);
  try {
    console.log(
      `spoofguard bench:kamailio:real — F, K and D alternating, ${STEP_SEC} s a run, clean calls, sipp on the same two cores`,
    );
    console.log(
      rig.noCapture
        ? `  INVITE→final from sipp's response times, in 4 ms steps: ${rig.noCapture}`
        : "  INVITE→final read off a capture of the caller's port (dumpcap, tshark): µs timestamps",
    );
    for (const c of CONTESTANTS) await rig.run(c, 200, 5);

    const runs: Run[] = [];
    const best = new Map<Contestant, number>();
    const alive = new Set<Contestant>(CONTESTANTS);
    const aboveK: Run[] = [];
    console.log('\nrate ladder (a contestant leaves after a rate it fails twice)');
    for (const rate of LADDER) {
      for (const c of CONTESTANTS) {
        if (!alive.has(c)) continue;
        let r = await rig.measured(c, rate, STEP_SEC);
        if (!passes(r)) {
          // one run on two shared cores can meet a hiccup: a second chance at the same rate
          r = await rig.measured(c, rate, STEP_SEC, ' (again)');
        }
        runs.push(r);
        if (passes(r)) best.set(c, rate);
        else {
          alive.delete(c);
          if (c === 'K') aboveK.push(r);
          if (sippBound(r))
            console.log(`    sipp's caller used a full core here: this rate measures sipp as much as ${c}`);
        }
      }
      if (alive.size === 0) break;
    }
    // K above its highest rate: the excess goes through unscreened, counted, never failed
    const kBest = best.get('K') ?? 0;
    if (aboveK.length === 0) {
      const over = LADDER.find((r) => r > kBest) ?? kBest * 2;
      aboveK.push(await rig.measured('K', over, STEP_SEC, ' (K above its highest rate)'));
    }

    report(
      'highest rate with 0 failed, 0 unscreened and p99 < 50 ms',
      CONTESTANTS.map((c) => [
        NAMES[c],
        best.has(c) ? `${best.get(c)}/s${alive.has(c) ? ' (passed every rate tried)' : ''}` : 'none',
      ]),
    );
    const at = (c: Contestant, rate: number): Run | undefined =>
      runs.filter((r) => r.c === c && r.rate === rate && passes(r)).pop();
    const latencyRows = (rate: number): [string, string][] =>
      CONTESTANTS.map((c) => {
        const r = at(c, rate);
        if (!r) return [NAMES[c], 'did not carry it'];
        const l = summarize(r.latency);
        return [NAMES[c], `p50 ${fmt(l.p50)}  p99 ${fmt(l.p99)}`];
      });
    report('INVITE→final at 1,000/s', latencyRows(1000));
    const common = Math.min(...CONTESTANTS.map((c) => best.get(c) ?? 0));
    if (common > 0) report(`INVITE→final at ${common}/s (the highest rate all three carry)`, latencyRows(common));
    // CPU per call falls with the rate on this box (each process wakes per message, cold caches at low rates):
    // the fair comparison is at one rate all three carry; each one's figure at its own highest rate is printed too
    const cpuRows = (
      pick: (c: Contestant) => Run | undefined,
    ): { rows: [string, string][]; path: Map<Contestant, number> } => {
      const rows: [string, string][] = [];
      const path = new Map<Contestant, number>();
      for (const c of CONTESTANTS) {
        const r = pick(c);
        if (!r) continue;
        const share = (ms: number): string => `${(ms * 100).toFixed(0)}% of a core`;
        const at = ` (at ${r.rate}/s)`;
        if (c !== 'D') rows.push([`${c} Kamailio`, share(r.cpu.kamailio) + at]);
        if (c !== 'F') rows.push([`${c} node (spoofguard)`, share(r.cpu.node) + at]);
        if (c === 'D') rows.push([`${c} drachtio-server`, share(r.cpu.drachtio) + at]);
        rows.push([`${c} sipp (caller and next hop)`, share(r.cpu.sipp) + at]);
        path.set(c, (r.cpu.kamailio + r.cpu.node + r.cpu.drachtio) * 1000);
      }
      return { rows, path };
    };
    const cpuRate = CONTESTANTS.every((c) => at(c, CPU_RATE)) ? CPU_RATE : common;
    const sameRate = cpuRows((c) => at(c, cpuRate));
    report(
      `CPU per 1,000 INVITE/s at ${cpuRate}/s (the highest rate all three carry, or ${CPU_RATE}/s)`,
      sameRate.rows,
    );
    const ownRate = cpuRows((c) => (best.has(c) ? at(c, best.get(c) as number) : undefined));
    report('CPU per 1,000 INVITE/s, each at its own highest clean rate', ownRate.rows);
    const path = sameRate.path;
    const k = at('K', cpuRate);
    const kAtOwn = best.has('K') ? at('K', best.get('K') as number) : undefined;
    const kAt1000Cpu = at('K', 1000);
    const kAt1000 = kAt1000Cpu;
    const over = aboveK[0] as Run;
    const fBest = best.get('F') ?? 0;
    const dBest = best.get('D') ?? 0;
    report('targets', [
      ['K highest ≥ 0.7 × F highest', `${kBest}/s vs ${fBest}/s: ${fBest ? (kBest / fBest).toFixed(2) : '–'}×`],
      ['K highest ≥ 2 × D highest', `${kBest}/s vs ${dBest}/s: ${dBest ? (kBest / dBest).toFixed(2) : '–'}×`],
      [
        `path CPU K ≤ 0.5 × D, at ${cpuRate}/s`,
        `K ${((path.get('K') ?? 0) / 10).toFixed(0)}%, D ${((path.get('D') ?? 0) / 10).toFixed(0)}% of a core per 1,000/s: ${(
          (path.get('K') ?? 0) / Math.max(1, path.get('D') ?? 1)
        ).toFixed(2)}×`,
      ],
      [
        'path CPU K ≤ 0.5 × D, each at its highest',
        `K ${((ownRate.path.get('K') ?? 0) / 10).toFixed(0)}%, D ${((ownRate.path.get('D') ?? 0) / 10).toFixed(0)}%: ${(
          (ownRate.path.get('K') ?? 0) / Math.max(1, ownRate.path.get('D') ?? 1)
        ).toFixed(2)}×`,
      ],
      ['K p99 at 1,000/s ≤ 10 ms', kAt1000 ? fmt(summarize(kAt1000.latency).p99) : 'K did not carry 1,000/s'],
      [
        'node CPU (K) ≤ 15 % per 1,000/s',
        [k, kAt1000Cpu, kAtOwn]
          .filter((r): r is Run => r !== undefined)
          .map((r) => `${(r.cpu.node * 100).toFixed(0)}% at ${r.rate}/s`)
          .filter((v, i, all) => all.indexOf(v) === i)
          .join(', ') || '–',
      ],
      [
        `K above its highest rate (${over.rate}/s)`,
        `${over.unscreened} of ${over.calls} calls went through unscreened (counted), ${over.failed} failed`,
      ],
    ]);
  } finally {
    await rig.close();
  }
}

void main().catch((err: Error) => {
  console.error(`bench:kamailio:real failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
