/**
 * npm run bench:ari: the ARI app through the ARI test server (real ari-client, HTTP and WebSocket, real Redis):
 * added setup time of clean calls (StasisStart sent → subscriber dial request received) p50/p99, calls/s
 * handled end to end, and the heap after 10,000 calls.  Options: BENCH_CALLS=10000 BENCH_CONCURRENCY=50
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAri } from '../services/ari';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { openProducer } from '../services/events';
import { openListAdmin, openScreening } from '../services/screening';
import { seedEntries } from '../services/screening/seed';
import { AriTestServer } from '../test/support/ari-server/server';
import { fmt, report, summarize } from './stats';

const calls = Number(process.env.BENCH_CALLS ?? 10000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
const gc = (globalThis as { gc?: () => void }).gc;

(async () => {
  const server = new AriTestServer();
  server.keepHistory = false;
  server.behaviour = () => ({ answerAfterMs: 0 });
  await server.start();
  const id = randomBytes(4).toString('hex');
  const config = loadConfig({
    overrides: {
      log: { level: 'warn' },
      redis: { keyPrefix: `benchari${id}:` },
      queue: { name: `benchari${id}`, spoolDir: join(mkdtempSync(join(tmpdir(), 'sg-bench-ari-')), 'spool') },
      ari: { url: server.url, username: server.username, password: server.password, maxInFlight: 50 },
    },
  });
  const logger = createLogger({ level: 'warn' });
  const lists = await openListAdmin(config, logger);
  await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
  await lists.close();
  const screening = await openScreening(config, logger);
  const events = openProducer(config, logger, `bench-ari-${id}`);
  const ari = runAri(config, logger, screening, events.producer);
  while (server.connectedApps === 0) await new Promise((r) => setTimeout(r, 20));

  const sentAt = new Map<string, number>();
  const setup: number[] = [];
  const ended = new Map<string, () => void>();
  server.onEvent((e) => {
    if (e.type === 'StasisStart' && (e.args as string[])[0] !== 'dialed')
      sentAt.set((e.channel as { id: string }).id, performance.now());
    if (e.type === 'ChannelEnteredBridge') {
      const channel = (e.channel as { id: string }).id;
      if (!channel.endsWith('-sub')) setImmediate(() => server.hangupFromNetwork(channel));
    }
    if (e.type === 'ChannelDestroyed') ended.get((e.channel as { id: string }).id)?.();
  });
  server.onRequest((method, path, query) => {
    if (method === 'POST' && path === '/channels') {
      const caller = query.originator;
      const t0 = sentAt.get(caller);
      if (t0 !== undefined) setup.push(performance.now() - t0);
      sentAt.delete(caller);
    }
  });

  const oneCall = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const a = server.inboundCall({
        number: `+4930${String(1000000 + (i % 900000))}`,
        name: 'Erika Mustermann',
        args: ['+4930901899', 'de-national', '', ''],
      });
      ended.set(`${a}-sub`, () => {
        ended.delete(`${a}-sub`);
        resolve();
      });
    });
  const runCalls = async (n: number, inFlight: number): Promise<number> => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) await oneCall(next++);
      }),
    );
    return n / ((performance.now() - started) / 1000);
  };

  await runCalls(1000, concurrency); // warm up
  gc?.();
  const heapAfterWarmUp = process.memoryUsage().heapUsed;
  setup.length = 0;
  await runCalls(1000, 1);
  const idle = summarize(setup);
  setup.length = 0;
  const rate = await runCalls(calls, concurrency);
  while (ari.app.callsInProgress > 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  const s = summarize(setup);
  report(`ARI app: clean calls through the ARI test server (app and server share one process)`, [
    ['added setup time p50 / p99, 1 call at a time', `${fmt(idle.p50)} / ${fmt(idle.p99)}`],
    [`added setup time p50 / p99, ${concurrency} at once`, `${fmt(s.p50)} / ${fmt(s.p99)}`],
    [`calls/s, ${concurrency} at once (screen, dial, bridge, hang up)`, Math.round(rate).toLocaleString('en')],
    ['heap after 1,000 warm-up calls', `${(heapAfterWarmUp / 1048576).toFixed(1)} MiB`],
    [
      `heap after ${calls.toLocaleString('en')} more calls`,
      `${(heapAfter / 1048576).toFixed(1)} MiB${gc ? '' : ' (run with --expose-gc for a settled figure)'}`,
    ],
    ['sessions left in the map', String(ari.app.sessions.size)],
  ]);
  await ari.close();
  await events.close();
  await screening.close();
  await server.stop();
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
