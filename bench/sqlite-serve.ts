/**
 * npm run bench:sqlite: what the SQLite log costs `serve`'s event loop, which the call path shares. Loads
 * BENCH_ROWS calls (1,000,000) into a SQLite file, then, in this one process as `serve` runs them:
 *   - the CSV export of every row through the console (GET /api/calls.csv, streamed, to curl in a process of
 *     its own, as an analyst's client is): rows/s and the event-loop delay meanwhile (p99, max);
 *   - count and a page of a rare filter (`reason`): the longest stall;
 *   - the retention purge of every row (LogStore.purgeBefore): its time and the event-loop delay meanwhile.
 * Beside each, a minimal app doing the same work with better-sqlite3 and papaparse as they come (one statement:
 * SELECT every row and write CSV, one DELETE), in the same run: the floor for speed, and the stall a single
 * query makes. spoofguard's export runs in a worker thread (sqlite-export.ts): its figure includes the thread's
 * start (and, run through tsx as here, the thread's TypeScript compile).
 * Targets: export ≥ 100,000 rows/s, event-loop delay p99 ≤ 20 ms during the export and the purge.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { unparse } from 'papaparse';
import { loadConfig, type Config } from '../services/common/config';
import { Health } from '../services/common/health';
import { createLogger } from '../services/common/logger';
import { Metrics } from '../services/common/metrics';
import { runConsole } from '../services/console';
import { hashToken } from '../services/console/auth';
import type { FlaggedCallEvent } from '../services/events/flagged-call';
import { openLogStore } from '../services/flagged-log';
import { loggedCall } from './logged-calls';
import { report } from './stats';

const run = promisify(execFile);
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
const token = randomBytes(16).toString('hex');
const start = Date.parse('2026-08-27T00:00:00Z');

async function load(config: Config): Promise<void> {
  const store = await openLogStore(config);
  for (let first = 0; first < rows; first += 5000) {
    const batch: FlaggedCallEvent[] = [];
    for (let i = first; i < Math.min(rows, first + 5000); i++) batch.push(...loggedCall(i, rows, start, 1000));
    await store.upsert(batch);
    if (process.stdout.isTTY) process.stdout.write(`\r  loading: ${Math.min(rows, first + 5000)}`);
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  await store.close();
}

/**
 * Runs `work` while a 1 ms timer keeps the loop turning, as calls would, and notes how late each tick came:
 * the event-loop delay a call would have met (p99 and max of the delays, in ms).
 */
async function watched(work: () => Promise<void> | void): Promise<{ ms: number; p99: number; max: number }> {
  const delays: number[] = [];
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    delays.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  // a stall at the very end is noted once the loop turns again
  await new Promise((resolve) => setTimeout(resolve, 5));
  clearInterval(tick);
  delays.sort((a, b) => a - b);
  return { ms, p99: delays[Math.floor(delays.length * 0.99)] ?? 0, max: delays.at(-1) ?? 0 };
}

const f = (n: number): string => n.toFixed(1);

(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-sqlite-'));
  const file = join(dir, 'log.sqlite');
  const config = loadConfig({
    overrides: {
      log: { level: 'warn' },
      redis: { keyPrefix: `benchsqlite${randomBytes(3).toString('hex')}:` },
      console: {
        port: 0,
        rateLimitPerMinute: 1_000_000,
        tokens: { bench: { role: 'analyst', sha256: hashToken(token) } },
      },
      flaggedLog: { sqlitePath: file, pseudonymKey: 'bench-key-0123456789abcdef', databaseUrl: '' },
    },
  });
  try {
    await load(config);
    copyFileSync(file, join(dir, 'copy.sqlite'));
    const out: [string, string][] = [];

    // the export through the console, as an analyst downloads it while calls are handled
    const running = await runConsole(config, createLogger({ level: 'warn' }), {
      health: new Health(),
      metrics: new Metrics('bench'),
    });
    let bytes = 0;
    // the analyst's client is another process (curl), as it is in production: only the console's work is here
    const exported = await watched(async () => {
      const { stdout } = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{size_download}',
        '-H',
        `authorization: Bearer ${token}`,
        `${running.url}/api/calls.csv`,
      ]);
      bytes = Number(stdout);
    });
    out.push([
      'CSV export, spoofguard (console, streamed)',
      `${Math.round(rows / (exported.ms / 1000)).toLocaleString('en')} rows/s (${(bytes / 1048576).toFixed(0)} MB in ${f(exported.ms / 1000)} s); event-loop delay p99 ${f(exported.p99)} ms, max ${f(exported.max)} ms`,
    ]);
    await running.close();

    // the minimal app: one statement over every row, CSV lines written as they come
    const db = new Database(join(dir, 'copy.sqlite'));
    let minimalBytes = 0;
    const minimal = await watched(() => {
      // the same CSV writer as the product, a page of rows per call
      let page: unknown[][] = [];
      for (const row of db
        .prepare('SELECT * FROM flagged_calls ORDER BY received_at DESC, call_id DESC')
        .raw(true)
        .iterate()) {
        page.push(row as unknown[]);
        if (page.length < 2000) continue;
        minimalBytes += unparse(page).length;
        page = [];
      }
      if (page.length) minimalBytes += unparse(page).length;
    });
    out.push([
      'CSV export, minimal (one statement)',
      `${Math.round(rows / (minimal.ms / 1000)).toLocaleString('en')} rows/s (${(minimalBytes / 1048576).toFixed(0)} MB); event-loop delay max ${f(minimal.max)} ms`,
    ]);

    const store = await openLogStore(config);
    const counted = await watched(async () => void (await store.count({ reason: 'brand-prefix' })));
    const listed = await watched(async () => void (await store.list({ reason: 'brand-prefix' }, { limit: 500 })));
    out.push([
      'count and a 500-row page of a rare filter (reason)',
      `count ${f(counted.ms)} ms (stall max ${f(counted.max)} ms); page ${f(listed.ms)} ms (stall max ${f(listed.max)} ms)`,
    ]);

    const purged = await watched(async () => void (await store.purgeBefore(Date.now())));
    out.push([
      `retention purge of ${rows.toLocaleString('en')} rows, spoofguard`,
      `${f(purged.ms / 1000)} s; event-loop delay p99 ${f(purged.p99)} ms, max ${f(purged.max)} ms`,
    ]);
    await store.close();
    const minimalPurge = await watched(
      () => void db.prepare('DELETE FROM flagged_calls WHERE received_at < ?').run(Date.now()),
    );
    out.push([
      'retention purge, minimal (one DELETE)',
      `${f(minimalPurge.ms / 1000)} s; event-loop delay max ${f(minimalPurge.max)} ms`,
    ]);
    db.close();
    report(
      `the SQLite log of ${rows.toLocaleString('en')} calls in serve's event loop (targets: export ≥ 100,000 rows/s, delay p99 ≤ 20 ms)`,
      out,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
