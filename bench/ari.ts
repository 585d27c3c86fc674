/**
 * npm run bench:ari: the ARI app (this process) against the ARI test server (its own process, as Asterisk):
 * real ari-client, HTTP and WebSocket, real Redis. Prints the added setup time of clean calls (StasisStart sent
 * → subscriber dial request received) p50/p99 with one call at a time and under load, calls/s, and the app's
 * heap before and after 10,000 calls.  Options: BENCH_CALLS=10000 BENCH_CONCURRENCY=50
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAri } from '../services/ari';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { forkServer, seededCallPath } from './server-process';
import { fmt, report, summarize } from './stats';

const calls = Number(process.env.BENCH_CALLS ?? 10000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
const gc = (globalThis as { gc?: () => void }).gc;

(async () => {
  const { child, nextMessage } = forkServer('ari-server-process.ts');
  const server = await nextMessage<{ url: string; username: string; password: string }>();
  const run = async (n: number, inFlight: number): Promise<{ setup: number[]; rate: number }> => {
    const answer = nextMessage<{ setup: number[]; rate: number }>();
    child.send({ run: { calls: n, concurrency: inFlight } });
    return answer;
  };

  const id = randomBytes(4).toString('hex');
  const config = loadConfig({
    overrides: {
      log: { level: 'warn' },
      redis: { keyPrefix: `benchari${id}:` },
      queue: { name: `benchari${id}`, spoolDir: join(mkdtempSync(join(tmpdir(), 'sg-bench-ari-')), 'spool') },
      ari: { ...server, maxInFlight: 50 },
    },
  });
  const logger = createLogger({ level: 'warn' });
  const { screening, events } = await seededCallPath(config, logger, `bench-ari-${id}`);
  const ari = runAri(config, logger, screening, events.producer);
  while (!ari.connection.connected) await new Promise((r) => setTimeout(r, 20));

  await run(1000, concurrency); // warm up
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const idle = summarize((await run(1000, 1)).setup);
  const loaded = await run(calls, concurrency);
  while (ari.app.callsInProgress > 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  const busy = summarize(loaded.setup);
  report('ARI app (this process) against the ARI test server (its own process), clean calls', [
    ['added setup time p50 / p99, 1 call at a time', `${fmt(idle.p50)} / ${fmt(idle.p99)}`],
    [`added setup time p50 / p99, ${concurrency} at once`, `${fmt(busy.p50)} / ${fmt(busy.p99)}`],
    [`calls/s, ${concurrency} at once (screen, dial, bridge, hang up)`, Math.round(loaded.rate).toLocaleString('en')],
    ['app heap after 2,000 warm-up calls', `${(heapBefore / 1048576).toFixed(1)} MiB`],
    [
      `app heap after ${(calls + 1000).toLocaleString('en')} more calls`,
      `${(heapAfter / 1048576).toFixed(1)} MiB${gc ? '' : ' (run with --expose-gc for a settled figure)'}`,
    ],
    ['sessions left in the map', String(ari.app.sessions.size)],
  ]);
  await ari.close();
  await events.close();
  await screening.close();
  child.kill();
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
