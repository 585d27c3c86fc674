/**
 * npm run bench:kamailio:link — which link between Kamailio and spoofguard costs least: the two issue #28 names,
 * each in the same minimal proxy (bench/kamailio-link.cfg), with an answerer that replies at once without screening
 * (bench/kamailio-link-answerer.ts), so that only the link differs. In one run, alternating at every rate:
 *   N  no link: the proxy relays at once (its floor)
 *   E  evapi: the answerer keeps a TCP connection to Kamailio; answers resume in the one evapi process
 *   P  evapi with the product's routes (kamailio/kamailio.cfg): what they cost over E's minimal ones
 *   H  http_async_client: Kamailio POSTs each ask over libcurl; answers resume in its HTTP_WORKERS processes
 * Per rate and link: failed calls, calls that went on unscreened (no answer within the budget), INVITE→final p50/p99
 * on the wire, CPU per 1,000 INVITE/s of Kamailio (all its processes) and the answerer's node.
 * Debian 12 does not package http_async_client: HTTP_ASYNC_CLIENT_MODULE names a build of it for this Kamailio
 * (docs/BENCHMARKS.md says how); without it, H is left out and the run says so.
 * Needs KAMAILIO_BIN/KAMCMD_BIN (or kamailio on PATH) and SIPP_BIN.
 * A link gets a second run at a rate it fails and leaves after failing it twice. Then, since the box's speed drifts
 * over minutes, BENCH_PAIRS mirrored rounds (E P H H P E) at BENCH_PAIR_RATE: medians, and of each round's ratio to E.
 * Options: BENCH_STEP_SEC=8 BENCH_LADDER=500,1000,1250,1500 BENCH_PAIR_RATE=1000 BENCH_PAIRS=3
 * HTTP_WORKERS=2 (and the steal rule of bench/caller-run.ts)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realServerEnv } from '../test/real/support/asterisk';
import { RealKamailio } from '../test/real/support/kamailio';
import { uasScenario } from '../test/real/support/sip-scenarios';
import { startSipp } from '../test/real/support/sipp';
import { ROOT } from '../test/support/child';
import { freePort } from '../test/support/redis';
import { callerRun, type CallerRunFigures, undisturbed } from './caller-run';
import { captureUnavailable } from './sip-capture';
import { germanNumber, processTree, writeCallers } from './sipp-figures';
import { fmt, median, report, summarize } from './stats';

const STEP_SEC = Number(process.env.BENCH_STEP_SEC ?? 8);
const LADDER = (process.env.BENCH_LADDER ?? '500,1000,1250,1500').split(',').map(Number);
const HTTP_MODULE = process.env.HTTP_ASYNC_CLIENT_MODULE;
const HTTP_WORKERS = Number(process.env.HTTP_WORKERS ?? 2);
const PAIR_RATE = Number(process.env.BENCH_PAIR_RATE ?? 1000);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const CALLED = '+4930901820';
type Link = 'N' | 'E' | 'P' | 'H';
const NAMES: Record<Link, string> = {
  N: 'N no link (floor)',
  E: 'E evapi',
  P: 'P evapi, kamailio.cfg',
  H: `H http_async_client (${HTTP_WORKERS} workers)`,
};

interface Run extends CallerRunFigures {
  link: Link;
  rate: number;
  unscreened: number;
}

interface Contestant {
  link: Link;
  kamailio: RealKamailio;
  answerer?: ChildProcess;
  pids: number[];
}

/** The answerer in a process of its own; resolves once it says it takes asks. */
async function startAnswerer(args: string[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'kamailio-link-answerer.ts'), ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${args[0]} answerer did not start`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the ${args[0]} answerer exited with ${code}`)));
  });
  return child;
}

async function main(): Promise<void> {
  const env = realServerEnv();
  if (!env.kamailioBin || !env.kamcmdBin) {
    console.log('bench:kamailio:link needs KAMAILIO_BIN and KAMCMD_BIN (or kamailio on PATH) and SIPP_BIN');
    process.exitCode = 1;
    return;
  }
  const links: Link[] = ['N', 'E', 'P'];
  if (HTTP_MODULE && existsSync(HTTP_MODULE)) links.push('H');
  else
    console.log(
      `H NOT MEASURED: HTTP_ASYNC_CLIENT_MODULE ${HTTP_MODULE ? `(${HTTP_MODULE}) does not exist` : 'is not set'}; ` +
        "Debian 12's Kamailio packages have no http_async_client (docs/BENCHMARKS.md: how to build it)",
    );

  const nextHopPort = await freePort();
  const nextHop = `127.0.0.1:${nextHopPort}`;
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-link-'));
  const callers = join(dir, 'callers.csv');
  writeCallers(callers, Array.from({ length: 10_000 }, germanNumber));
  const hop = await startSipp(env, uasScenario({ ringMs: 0, then: 'wait-bye' }), {
    port: nextHopPort,
    calls: 100_000_000,
    extra: ['-max_socket', '100000'],
  });

  const contestants: Contestant[] = [];
  const noCapture = await captureUnavailable();
  try {
    for (const link of links) {
      const httpPort = await freePort();
      /** Each link's defines for bench/kamailio-link.cfg; P runs the shipped kamailio.cfg instead. */
      const defines: Record<Exclude<Link, 'P'>, string[]> = {
        N: ['LINK_NONE'],
        E: ['LINK_EVAPI'],
        H: [
          'LINK_HTTP',
          `HTTP_ASYNC_CLIENT_MODULE="${HTTP_MODULE}"`,
          `BENCH_HTTP_URL="http://127.0.0.1:${httpPort}/"`,
          `HTTP_WORKERS=${HTTP_WORKERS}`,
        ],
      };
      const kamailio = new RealKamailio(env.kamailioBin, env.kamcmdBin, {
        nextHop,
        node: `link-${link}`,
        ...(link === 'P' ? {} : { config: join(ROOT, 'bench', 'kamailio-link.cfg'), defines: defines[link] }),
      });
      await kamailio.start();
      const answerer =
        link === 'N'
          ? undefined
          : await startAnswerer(
              link === 'H' ? ['http', String(httpPort), nextHop] : ['evapi', kamailio.evapiEndpoint, nextHop],
            );
      contestants.push({ link, kamailio, answerer, pids: processTree(kamailio.pid as number) });
    }

    /** Calls relayed unscreened: the link configuration's counter, or kamailio.cfg's sg_unscreened_*. */
    const unscreened = async (k: RealKamailio): Promise<number> =>
      Object.entries(await k.stats())
        .filter(([name]) => name === 'link_unscreened' || name.startsWith('sg_unscreened_'))
        .reduce((a, [, n]) => a + n, 0);
    const run = async (c: Contestant, rate: number): Promise<Run> => {
      const before = await unscreened(c.kamailio);
      const r = await callerRun(env, {
        target: c.kamailio.sipAddress,
        rate,
        seconds: STEP_SEC,
        callers,
        called: CALLED,
        nextHopPid: hop.process.pid as number,
        groups: { kamailio: c.pids, node: c.answerer ? [c.answerer.pid as number] : [] },
        capture: !noCapture,
      });
      return { ...r, link: c.link, rate, unscreened: (await unscreened(c.kamailio)) - before };
    };
    const pct = (msPerCall: number): string => `${(msPerCall * 100).toFixed(0)}%`;
    const line = (r: Run): string => {
      const l = summarize(r.latency);
      return (
        `${NAMES[r.link].padEnd(34)} ${String(r.rate).padStart(5)}/s  failed ${r.failed}/${r.calls}  unscreened ${r.unscreened}  ` +
        `p50 ${fmt(l.p50)} p99 ${fmt(l.p99)}  CPU per 1,000/s: kamailio ${pct(r.cpu.kamailio ?? 0)}, ` +
        `node ${pct(r.cpu.node ?? 0)}, sipp ${pct(r.sipp)}${r.trouble ? `  (caller: ${r.trouble})` : ''}`
      );
    };
    const passes = (r: Run): boolean => r.failed === 0 && r.unscreened === 0 && summarize(r.latency).p99 < 50;

    console.log(
      `spoofguard bench:kamailio:link — ${links.map((l) => NAMES[l]).join(', ')} alternating, ${STEP_SEC} s a run, ` +
        'an answerer that replies at once',
    );
    console.log(
      noCapture
        ? `  INVITE→final from sipp's response times, in 4 ms steps: ${noCapture}`
        : "  INVITE→final read off a capture of the caller's port (dumpcap, tshark): µs timestamps",
    );
    for (const c of contestants) await run(c, 200);
    const runs: Run[] = [];
    // a link gets a second run at a rate it fails (two shared cores meet hiccups), and leaves after failing it twice
    const alive = new Set(contestants);
    for (const rate of LADDER) {
      for (const c of contestants) {
        if (!alive.has(c)) continue;
        let r = await undisturbed(() => run(c, rate), line);
        if (!passes(r)) r = await undisturbed(() => run(c, rate), line, ' (again)');
        runs.push(r);
        if (!passes(r)) alive.delete(c);
      }
    }
    // the box's speed drifts by ±15 % over minutes: the links are compared again at one rate in mirrored rounds
    // (E P H H P E), seconds apart, and each one's figures set against E's of the same round
    const paired = contestants.filter((c) => c.link !== 'N');
    const rounds: Map<Link, Run[]>[] = [];
    if (paired.length > 1 && PAIRS > 0) {
      console.log(`\n${PAIRS} mirrored rounds at ${PAIR_RATE}/s`);
      for (let i = 0; i < PAIRS; i++) {
        const round = new Map<Link, Run[]>();
        for (const c of [...paired, ...[...paired].reverse()]) {
          const r = await undisturbed(() => run(c, PAIR_RATE), line);
          round.set(c.link, [...(round.get(c.link) ?? []), r]);
        }
        rounds.push(round);
      }
    }
    const best = (link: Link): string => {
      const clean = runs.filter((r) => r.link === link && passes(r)).map((r) => r.rate);
      return clean.length ? `${Math.max(...clean)}/s` : 'none';
    };
    report(
      'highest rate with 0 failed, 0 unscreened and p99 < 50 ms (of those tried)',
      links.map((l) => [NAMES[l], best(l)]),
    );
    for (const rate of LADDER) {
      report(
        `at ${rate}/s: INVITE→final, and CPU per 1,000 INVITE/s`,
        links.map((l) => {
          const r = runs.find((x) => x.link === l && x.rate === rate);
          if (!r) return [NAMES[l], '–'];
          const s = summarize(r.latency);
          return [
            NAMES[l],
            `p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}  kamailio ${pct(r.cpu.kamailio ?? 0)}  node ${pct(r.cpu.node ?? 0)}  ` +
              `path ${pct((r.cpu.kamailio ?? 0) + (r.cpu.node ?? 0))}${passes(r) ? '' : '  (failed or unscreened)'}`,
          ];
        }),
      );
    }
    if (rounds.length > 0) {
      const path = (r: Run): number => (r.cpu.kamailio ?? 0) + (r.cpu.node ?? 0);
      const p99 = (r: Run): number => summarize(r.latency).p99;
      /** A link's figure in a round: the mean of its two runs there. */
      const of = (round: Map<Link, Run[]>, link: Link, f: (r: Run) => number): number => {
        const rs = round.get(link) ?? [];
        return rs.reduce((a, r) => a + f(r), 0) / Math.max(1, rs.length);
      };
      report(
        `${PAIR_RATE}/s in ${rounds.length} mirrored rounds: medians over the rounds, and of each round's ratio to E`,
        paired.map(({ link }) => {
          const failed = rounds.reduce((a, r) => a + (r.get(link) ?? []).filter((x) => !passes(x)).length, 0);
          const ratio = (f: (r: Run) => number): string =>
            median(rounds.map((r) => of(r, link, f) / Math.max(1e-9, of(r, 'E', f)))).toFixed(2);
          return [
            NAMES[link],
            `p99 ${fmt(median(rounds.map((r) => of(r, link, p99))))} (${ratio(p99)}× E)  ` +
              `CPU kamailio ${pct(median(rounds.map((r) => of(r, link, (x) => x.cpu.kamailio ?? 0))))} ` +
              `node ${pct(median(rounds.map((r) => of(r, link, (x) => x.cpu.node ?? 0))))} ` +
              `path ${pct(median(rounds.map((r) => of(r, link, path))))} (${ratio(path)}× E)` +
              (failed ? `  ${failed} runs failed or went unscreened` : ''),
          ];
        }),
      );
    }
  } finally {
    hop.stop();
    for (const c of contestants) {
      c.answerer?.kill('SIGTERM');
      await c.kamailio.close();
    }
  }
}

void main().catch((err: Error) => {
  console.error(`bench:kamailio:link failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
