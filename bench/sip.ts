/**
 * npm run bench:sip: the SIP front (this process, real drachtio-srf) against the drachtio wire-protocol test
 * server (its own process, as drachtio-server), real Redis. Prints INVITEs/s with N in flight and the app's own
 * decision time per INVITE (request handed over by drachtio-srf → answer or proxy command issued, screening
 * included) p50/p99, one at a time and under load.  Options: BENCH_INVITES=20000 BENCH_CONCURRENCY=50
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { runSip } from '../services/sip';
import { forkServer, seededCallPath } from './server-process';
import { fmt, report, summarize } from './stats';

const invites = Number(process.env.BENCH_INVITES ?? 20000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
const offered = Number(process.env.BENCH_RATE ?? 500);

interface RunResult {
  rate: number;
  statuses: Record<string, number>;
}

(async () => {
  const { child, nextMessage } = forkServer('sip-server-process.ts');
  const drachtio = await nextMessage<{ port: number; secret: string }>();

  const id = randomBytes(4).toString('hex');
  const config = loadConfig({
    overrides: {
      log: { level: 'warn' },
      redis: { keyPrefix: `benchsip${id}:` },
      queue: { name: `benchsip${id}`, spoolDir: join(mkdtempSync(join(tmpdir(), 'sg-bench-sip-')), 'spool') },
      sip: {
        drachtioHost: '127.0.0.1',
        drachtioPort: drachtio.port,
        drachtioSecret: drachtio.secret,
        nextHop: 'sip:pbx.example.de',
        warningIvrUri: 'sip:ivr.example.de',
      },
      verdictHeader: { key: randomBytes(16).toString('hex') },
      trunks: {
        carrier: {
          country: 'DE',
          international: false,
          identityHeaders: ['P-Asserted-Identity', 'From'],
          sources: ['192.0.2.0/24'],
        },
      },
    },
  });
  const logger = createLogger({ level: 'warn' });
  const { screening, events } = await seededCallPath(config, logger, `bench-sip-${id}`);
  const sip = runSip(config, logger, screening, events.producer);
  const run = async (
    n: number,
    inFlight: number,
    ratePerSec = 0,
  ): Promise<{ result: RunResult; decision: number[]; clean: number[]; screening: number[] }> => {
    const all: { ms: number; screeningMs: number; verdict: string }[] = [];
    sip.app.onDecision = (sample) => all.push(sample);
    const answer = nextMessage<RunResult>();
    child.send({ run: { invites: n, concurrency: inFlight, ratePerSec } });
    const result = await answer;
    return {
      result,
      decision: all.map((d) => d.ms),
      clean: all.filter((d) => d.verdict === 'allow').map((d) => d.ms),
      screening: all.map((d) => d.screeningMs),
    };
  };

  // warm up both ways: right after 2,000 calls, 1 in 100 decisions still met optimising compilers at work
  await run(5000, concurrency);
  await run(2000, 1);
  const idle = await run(5000, 1);
  const gcPauses: number[] = [];
  const gcObserver = new PerformanceObserver((list) => gcPauses.push(...list.getEntries().map((e) => e.duration)));
  gcObserver.observe({ entryTypes: ['gc'] });
  const paced = await run(offered * 10, 500, offered);
  gcObserver.disconnect();
  const gcSummary = summarize(gcPauses);
  const loaded = await run(invites, concurrency);
  const one = summarize(idle.decision);
  const atRate = summarize(paced.decision);
  const atRateClean = summarize(paced.clean);
  const atRateScreening = summarize(paced.screening);
  if (process.env.BENCH_HISTOGRAM) {
    const sorted = [...paced.decision].sort((a, b) => a - b);
    console.log(
      [50, 90, 95, 98, 99, 99.5, 99.9]
        .map((p) => `p${p} ${fmt(sorted[Math.floor((p / 100) * sorted.length)] ?? NaN)}`)
        .join('  '),
    );
  }
  const busy = summarize(loaded.decision);
  report('SIP front (this process, drachtio-srf) against the drachtio test server (its own process)', [
    ['mix', '90% clean, 8% spoofed Amazon, 2% 110 as caller ID'],
    [`INVITEs/s, as fast as answered, ${concurrency} in flight`, Math.round(loaded.result.rate).toLocaleString('en')],
    ['INVITEs/s, 1 at a time', Math.round(idle.result.rate).toLocaleString('en')],
    ['own decision time p50 / p99, 1 at a time', `${fmt(one.p50)} / ${fmt(one.p99)}`],
    [
      `own decision time p50 / p99, ${offered}/s offered for 10 s`,
      `${fmt(atRate.p50)} / ${fmt(atRate.p99)} (achieved ${Math.round(paced.result.rate)}/s)`,
    ],
    [`  clean calls only`, `${fmt(atRateClean.p50)} / ${fmt(atRateClean.p99)}`],
    [`  of which screening (engine)`, `${fmt(atRateScreening.p50)} / ${fmt(atRateScreening.p99)}`],
    [
      `  GC pauses meanwhile`,
      `${gcPauses.length}, p50 ${fmt(gcSummary.p50)}, max ${fmt(gcSummary.max)}, total ${fmt(gcPauses.reduce((a, b) => a + b, 0))}`,
    ],
    [`own decision time p50 / p99, saturated`, `${fmt(busy.p50)} / ${fmt(busy.p99)}`],
    ['answers', JSON.stringify(loaded.result.statuses)],
  ]);
  await sip.close();
  await events.close();
  await screening.close();
  child.kill();
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
