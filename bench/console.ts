/**
 * npm run bench:console: the console's filtered list endpoint over 1,000,000 logged calls, in SQLite and in
 * PostgreSQL. Loads the log once per store (a SQLite file under the OS temp dir, a fresh PostgreSQL database),
 * starts the console on it and times GET /api/calls with the filters analysts use, one request at a time and
 * 8 at once. Prints p50/p99 per filter and overall.  Options: BENCH_ROWS=1000000 BENCH_REQUESTS=200
 * PG_TEST_URL=postgres://postgres@127.0.0.1:5432/test
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { loadConfig, type Config } from '../services/common/config';
import { Health } from '../services/common/health';
import { createLogger } from '../services/common/logger';
import { Metrics } from '../services/common/metrics';
import { runConsole } from '../services/console';
import { hashToken } from '../services/console/auth';
import type { FlaggedCallEvent } from '../services/events/flagged-call';
import { openLogStore } from '../services/flagged-log';
import { loggedCall } from './logged-calls';
import { fmt, report, summarize } from './stats';

const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
const requests = Number(process.env.BENCH_REQUESTS ?? 200);
const PG_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const token = randomBytes(16).toString('hex');
const DAY = 86_400_000;
const end = Date.parse('2026-11-25T00:00:00Z');
const start = end - 90 * DAY;

async function load(config: Config): Promise<number> {
  const store = await openLogStore(config);
  const started = performance.now();
  const batch = 5000;
  for (let first = 0; first < rows; first += batch) {
    const events: FlaggedCallEvent[] = [];
    for (let i = first; i < Math.min(rows, first + batch); i++) events.push(...loggedCall(i, rows, start));
    await store.upsert(events);
    if (process.stdout.isTTY)
      process.stdout.write(`\r  loading ${config.flaggedLog.databaseUrl ? 'PostgreSQL' : 'SQLite'}: ${first + batch}`);
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  await store.close();
  return (performance.now() - started) / 1000;
}

const FILTERS: [string, string][] = [
  ['newest (no filter)', ''],
  ['brand', 'brand=paypal'],
  ['verdict', 'verdict=block'],
  ['outcome', 'outcome=reported'],
  ['caller', 'caller=%2B18881012345'],
  ['one day', `since=${new Date(end - 30 * DAY).toISOString()}&until=${new Date(end - 29 * DAY).toISOString()}`],
  [
    'brand + week',
    `brand=dhl&since=${new Date(end - 60 * DAY).toISOString()}&until=${new Date(end - 53 * DAY).toISOString()}`,
  ],
  ['reason', 'reason=brand-prefix'],
  ['brand + outcome', 'brand=amazon&outcome=rejected'],
];

async function measure(url: string): Promise<[string, string][]> {
  const headers = { authorization: `Bearer ${token}` };
  const get = async (query: string): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/calls?limit=50&${query}`, { headers });
    const body = (await res.json()) as { records?: unknown[]; nextCursor?: string };
    if (!res.ok || !body.records) throw new Error(`${res.status} for ${query}`);
    return performance.now() - t0;
  };
  const all: number[] = [];
  const out: [string, string][] = [];
  for (const [name, query] of FILTERS) {
    await get(query); // warm
    const times: number[] = [];
    for (let i = 0; i < requests / 4; i++) times.push(await get(query));
    all.push(...times);
    const s = summarize(times);
    out.push([`  ${name}`, `${fmt(s.p50)} / ${fmt(s.p99)}`]);
  }
  // the dashboard's charts: stats over the last 30 days and over all 90
  for (const [name, query] of [
    ['stats, 30 days by hour', `bucket=hour&since=${new Date(end - 30 * DAY).toISOString()}`],
    ['stats, 90 days by day', 'bucket=day'],
  ]) {
    const times: number[] = [];
    // the console shares its process with the call path in `serve`: how long did the statistics hold it up?
    const stall = monitorEventLoopDelay({ resolution: 5 });
    stall.enable();
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const res = await fetch(`${url}/api/stats?${query}`, { headers });
      if (!res.ok) throw new Error(`${res.status} for stats`);
      await res.json();
      times.push(performance.now() - t0);
    }
    stall.disable();
    const s = summarize(times);
    out.push([
      `  ${name} (not a target)`,
      `${fmt(s.p50)} / max ${fmt(s.max)}; longest event-loop stall ${fmt(stall.max / 1e6)}`,
    ]);
  }
  // the CSV export of every row: streamed, so the heap stays flat however many rows there are
  {
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    const t0 = performance.now();
    const res = await fetch(`${url}/api/calls.csv`, { headers });
    let bytes = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
    clearInterval(sampler);
    out.push([
      'CSV export of every row',
      `${((performance.now() - t0) / 1000).toFixed(1)} s, ${(bytes / 1048576).toFixed(0)} MB, heap peak +${((peak - before) / 1048576).toFixed(0)} MB (target: flat, far below the export's size)`,
    ]);
  }
  const one = summarize(all);
  out.unshift(['filtered list p50 / p99, 1 at a time', `${fmt(one.p50)} / ${fmt(one.p99)}`]);
  const busy: number[] = [];
  const busyByFilter = new Map<string, number[]>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < requests * 2) {
        const [name, query] = FILTERS[next++ % FILTERS.length];
        const ms = await get(query);
        busy.push(ms);
        busyByFilter.set(name, [...(busyByFilter.get(name) ?? []), ms]);
      }
    }),
  );
  const b = summarize(busy);
  if (process.env.BENCH_DETAIL)
    for (const [name, times] of busyByFilter) console.log(`  8 at once, ${name}: p99 ${fmt(summarize(times).p99)}`);
  out.splice(1, 0, ['filtered list p50 / p99, 8 at once', `${fmt(b.p50)} / ${fmt(b.p99)}`]);
  return out;
}

(async () => {
  const logger = createLogger({ level: 'warn' });
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-console-'));
  const dbName = `sg_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const pgUrl = new URL(PG_URL);
  pgUrl.pathname = `/${dbName}`;
  try {
    const kinds = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];
    for (const kind of kinds) {
      const config = loadConfig({
        overrides: {
          log: { level: 'warn' },
          redis: { keyPrefix: `benchconsole${randomBytes(3).toString('hex')}:` },
          console: {
            port: 0,
            rateLimitPerMinute: 1_000_000,
            tokens: { bench: { role: 'analyst', sha256: hashToken(token) } },
          },
          flaggedLog: {
            sqlitePath: join(dir, 'log.sqlite'),
            pseudonymKey: 'bench-key-0123456789abcdef',
            databaseUrl: kind === 'postgres' ? pgUrl.toString() : '',
          },
        },
      });
      const seconds = await load(config);
      if (kind === 'postgres') {
        const c = new Client({ connectionString: pgUrl.toString() });
        await c.connect();
        // as after a bulk load in production: otherwise autovacuum works through the new rows while we measure
        await c.query('VACUUM ANALYZE flagged_calls');
        await c.end();
      }
      const running = await runConsole(config, logger, { health: new Health(), metrics: new Metrics('bench') });
      const figures = await measure(running.url);
      await running.close();
      report(
        `console over ${rows.toLocaleString('en')} logged calls in ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`,
        [
          ['load time', `${seconds.toFixed(0)} s (${Math.round(rows / seconds).toLocaleString('en')} calls/s)`],
          ...figures,
        ],
      );
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
