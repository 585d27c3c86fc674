/**
 * npm run bench:worker: events/s from emit to stored row, with the worker in its own process (as deployed),
 * for SQLite and PostgreSQL; and emit latency: the part a call is held, and until the event is durable.
 * Options (env): BENCH_EVENTS=20000  BENCH_STORES=sqlite,postgres  PG_BENCH_URL=postgres://postgres@127.0.0.1:5432/test
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import IORedis from 'ioredis';
import { loadConfig, type Config } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { openProducer } from '../services/events';
import type { FlaggedCallEvent } from '../services/events/flagged-call';
import { openLogStore } from '../services/flagged-log';
import { exited, spawnSpoofguard } from '../test/support/child';
import { flagged } from '../test/support/events';
import { fmt, report, summarize } from './stats';

const total = Number(process.env.BENCH_EVENTS ?? 20000);
const WARM_UP = 3000;
const LATENCY_SAMPLES = 5000;
const stores = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const pgAdmin = process.env.PG_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const logger = createLogger({ level: 'warn' });

const event = (i: number, run: string): FlaggedCallEvent =>
  flagged(`${run}-${i}`, { called: `+49309018${String(i % 100).padStart(2, '0')}` });

async function run(kind: string): Promise<void> {
  const id = randomBytes(4).toString('hex');
  let dropDb: (() => Promise<void>) | undefined;
  let databaseUrl = '';
  if (kind === 'postgres') {
    const admin = new Client({ connectionString: pgAdmin });
    await admin.connect();
    await admin.query(`CREATE DATABASE sgbench_${id}`);
    await admin.end();
    const url = new URL(pgAdmin);
    url.pathname = `/sgbench_${id}`;
    databaseUrl = url.toString();
    dropDb = async () => {
      const c = new Client({ connectionString: pgAdmin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS sgbench_${id} WITH (FORCE)`);
      await c.end();
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  const config: Config = loadConfig({
    overrides: {
      log: { level: 'warn' },
      queue: { name: `bench${id}`, spoolDir: join(dir, 'spool') },
      flaggedLog: { databaseUrl, sqlitePath: join(dir, 'log.sqlite'), pseudonymKey: 'bench-key-0123456789abcdef' },
    },
  });
  const store = await openLogStore(config);
  const { producer, close } = openProducer(config, logger, `bench-${id}`);
  while (producer['connection'].status !== 'ready') await new Promise((r) => setTimeout(r, 20));

  // emit latency, one at a time, before the worker competes for the CPU. Call flows do not await emit():
  // what a call waits for is the synchronous part; "durable" is until Redis acknowledged (or the spool synced).
  const lat: number[] = [];
  const blocking: number[] = [];
  // the first emits of a fresh process run unoptimised code: warm up as a running service would be
  for (let i = 0; i < WARM_UP; i++) await producer.emit(event(i, 'warm'));
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    const emitted = producer.emit(event(i, 'lat'));
    blocking.push(performance.now() - t0);
    await emitted;
    lat.push(performance.now() - t0);
  }
  const worker = spawnSpoofguard(['worker'], config);
  while ((await store.count({})) < WARM_UP + LATENCY_SAMPLES) await new Promise((r) => setTimeout(r, 20));

  // throughput: emit `total` events, 64 in flight, until the last row is stored
  const started = performance.now();
  // the longest stretch in which no row was stored: a stall (e.g. events parked in the spool) shows here
  let lastCount = WARM_UP + LATENCY_SAMPLES;
  let lastProgress = started;
  let longestPause = 0;
  const tick = setInterval(
    () =>
      void store.count({}).then((n) => {
        const now = performance.now();
        if (n > lastCount) [lastCount, lastProgress] = [n, now];
        else longestPause = Math.max(longestPause, now - lastProgress);
      }),
    50,
  );
  let next = 0;
  const results: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < total) {
        const result = await producer.emit(event(next++, 'tp'));
        results[result] = (results[result] ?? 0) + 1;
      }
    }),
  );
  const emitted = performance.now();
  while ((await store.count({})) < WARM_UP + LATENCY_SAMPLES + total) await new Promise((r) => setTimeout(r, 10));
  const stored = performance.now();
  clearInterval(tick);
  const s = summarize(lat);
  const b = summarize(blocking);
  report(`${kind}: ${total.toLocaleString('en')} events, worker in its own process`, [
    ['emit → stored, events/s', Math.round(total / ((stored - started) / 1000)).toLocaleString('en')],
    ['longest time without a stored row', fmt(longestPause)],
    ['events queued / spooled (Redis slower than the budget)', `${results.queued ?? 0} / ${results.spooled ?? 0}`],
    ['emit rate (64 in flight), events/s', Math.round(total / ((emitted - started) / 1000)).toLocaleString('en')],
    ['emit, time a call is held p50 / p99', `${fmt(b.p50)} / ${fmt(b.p99)}`],
    ['emit until durable p50 / p99 (1 in flight)', `${fmt(s.p50)} / ${fmt(s.p99)}`],
  ]);
  worker.kill('SIGTERM');
  await exited(worker);
  await close();
  await store.close();
  await dropDb?.();
  const redis = new IORedis(config.redis.url);
  let cursor = '0';
  do {
    const [n, keys] = await redis.scan(cursor, 'MATCH', `${config.queue.prefix}:${config.queue.name}:*`, 'COUNT', 1000);
    cursor = n;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

(async () => {
  console.log(`spoofguard bench:worker — node ${process.version}`);
  for (const kind of stores) await run(kind);
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
