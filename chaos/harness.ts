import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { openQueue } from '../services/events';
import { openListAdmin } from '../services/screening';
import { seedEntries } from '../services/screening/seed';
import { envFor, exited, ROOT, spawnSpoofguard } from '../test/support/child';
import { SentinelGroup } from '../test/support/redis-topologies';
import type { LedgerLine } from './producer';
import { missingServers, mountSmallDisk, OwnPostgres } from './servers';

/**
 * The fault-injection run (npm run chaos; a short version in the real-server suite): the call path
 * (screening + producer) in two processes of one role at a steady rate of flagged calls, a worker writing to
 * PostgreSQL, all on a Redis and a PostgreSQL of the run's own, while faults come one after another. At the
 * end every call id emitted is compared with the log.
 */
export interface ChaosOptions {
  /** Calls per second per producer (two producers). */
  rate: number;
  /** Steady running before the first fault and between faults. */
  steadySec: number;
  /** How long Redis stays down. */
  redisDownSec: number;
  /** How long a fault may take to heal before the run gives up on it. */
  healTimeoutSec: number;
  log: (line: string) => void;
}

export interface FaultReport {
  fault: string;
  /** From the end of the fault until every event acknowledged before that end was in the log. */
  healMs: number;
  /** Events that went to a spool during the fault and its healing. */
  spooled: number;
  /** Events lost, counted and logged, because the spool could not be written. */
  lost: number;
}

export interface ChaosReport {
  faults: FaultReport[];
  calls: number;
  events: { emitted: number; queued: number; spooled: number; lost: number; invalid: number; unknown: number };
  /** Acknowledged (queued or spooled) but not in the log. */
  missing: string[];
  /** More than one record for one call id. */
  duplicated: string[];
  /** Records holding another call's data, or records of no call emitted. */
  merged: string[];
  /** Records for calls that reused one SIP Call-ID, and how many such calls were logged. */
  reusedSipCallId: { records: number; calls: number };
  /** The valid event with a NUL in its display name was stored (as U+FFFD). */
  nulStored: boolean;
  /** Jobs in the failed set at the end: the poison event, with its reason. */
  failed: { id: string; reason: string }[];
  /** The producers' own counters and metric of emit results, per producer. */
  producers: { name: string; results: Record<string, number>; metric: Record<string, number> }[];
  /** Error lines "spool write failed" written by the producers (one per producer per full-disk episode). */
  spoolFullErrorLines: number;
  skipped: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The poison event: a payload no worker can store. It must end in the failed set, alone, with its reason. */
const POISON_JOB = 'flagged.chaos-poison-schema';
/** A valid event whose display name holds a NUL (PostgreSQL refuses NUL in text): it must be stored, not lost. */
const NUL_CALL = 'chaos-nul-in-name';

/** What the producers' ledgers say, read incrementally. */
class Ledger {
  private readonly offsets = new Map<string, number>();
  readonly calls = new Map<
    string,
    { flagged?: LedgerLine['r']; outcome?: LedgerLine['r']; s?: string; raw?: string; o?: string }
  >();
  readonly counts = { emitted: 0, queued: 0, spooled: 0, lost: 0, invalid: 0, unknown: 0 };
  /** Events each producer spooled (the killed one's are replayed by another process). */
  readonly spooledBy = new Map<string, number>();

  constructor(private readonly dir: string) {}

  read(): void {
    for (const file of readdirSync(this.dir).filter((f) => f.endsWith('.ledger'))) {
      const path = join(this.dir, file);
      const data = readFileSync(path);
      const from = this.offsets.get(path) ?? 0;
      // up to the last whole line: a producer may be writing the next one right now
      const to = data.lastIndexOf(0x0a) + 1;
      if (to <= from) continue;
      this.offsets.set(path, to);
      for (const line of data.toString('utf8', from, to).split('\n'))
        if (line) this.add(JSON.parse(line) as LedgerLine);
    }
  }

  private add(line: LedgerLine): void {
    const call = this.calls.get(line.c) ?? {};
    this.calls.set(line.c, call);
    if (line.s) call.s = line.s;
    if (line.raw) call.raw = line.raw;
    if (line.o) call.o = line.o;
    if (line.r === 'emitting') {
      this.counts.emitted++;
      this.counts.unknown++;
    } else {
      this.counts.unknown--;
      this.counts[line.r]++;
      if (line.r === 'spooled') this.spooledBy.set(line.p, (this.spooledBy.get(line.p) ?? 0) + 1);
    }
    call[line.k] = line.r;
  }

  /** Events acknowledged to the call path (queued or spooled), as call id → what the log must show. */
  acknowledged(): { callId: string; flagged: boolean; outcome?: string }[] {
    const acked = (r?: LedgerLine['r']): boolean => r === 'queued' || r === 'spooled';
    return [...this.calls]
      .filter(([, c]) => acked(c.flagged) || acked(c.outcome))
      .map(([callId, c]) => ({ callId, flagged: acked(c.flagged), ...(acked(c.outcome) ? { outcome: c.o } : {}) }));
  }
}

interface Row {
  call_id: string;
  sip_call_id: string | null;
  caller_raw: string | null;
  outcome: string | null;
  verdict: string | null;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const missingBins = missingServers();
  if (missingBins) throw new Error(`chaos run cannot start its own servers: ${missingBins}`);
  const { log } = options;
  const work = mkdtempSync(join(tmpdir(), 'sg-chaos-'));
  const skipped: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(work, { recursive: true, force: true })];
  const children = new Set<ChildProcess>();
  try {
    // Redis as production runs it: a primary and a replica (AOF, fsync always) under three sentinels
    const redis = await SentinelGroup.start({ persistent: true });
    cleanups.unshift(() => redis.stop());
    // a folder of its own, beside the run's (which only root may enter): initdb runs as the postgres user
    const pgDir = mkdtempSync(join(tmpdir(), 'sg-chaos-pg-'));
    cleanups.push(() => rmSync(pgDir, { recursive: true, force: true }));
    const pg = new OwnPostgres(pgDir);
    await pg.start();
    cleanups.unshift(() => pg.stop());
    log(
      `own Redis: primary ${redis.nodes[0]?.port}, replica ${redis.nodes[1]?.port}, 3 sentinels (AOF, fsync always); own PostgreSQL on ${pg.port}`,
    );

    const spoolDir = join(work, 'spool');
    const unmount = mountSmallDisk(spoolDir, '4m');
    if (unmount) cleanups.unshift(unmount);
    else skipped.push('spool disk full: mounting a small tmpfs needs root');

    const config = loadConfig({
      env: { REDIS_URL: redis.url, DATABASE_URL: pg.url },
      overrides: {
        log: { level: 'warn' },
        redis: { keyPrefix: 'chaos:' },
        // an event counts as queued once the replica has it too: a failover must lose none
        queue: { spoolDir, replicasToAck: 1, emitBudgetMs: 100 },
        ops: { port: 0 },
        console: { port: 0 },
        flaggedLog: { sqlitePath: join(work, 'unused.sqlite'), pseudonymKey: 'chaos-run-key-0123456789' },
      },
    });
    const quiet = createLogger({ level: 'silent' });
    const lists = await openListAdmin(config, quiet);
    await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
    await lists.close();

    const ledgerDir = join(work, 'ledger');
    mkdirSync(ledgerDir);
    const ledger = new Ledger(ledgerDir);

    const track = <T extends ChildProcess>(child: T): T => {
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    };
    const startWorker = (): ChildProcess & { output: () => string } =>
      track(spawnSpoofguard(['worker'], config, { SPOOFGUARD_LOG_LEVEL: 'warn' }));
    const producerOutput = new Map<string, { out: string; err: string }>();
    const startProducer = async (name: string): Promise<ChildProcess> => {
      const child = track(
        spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'chaos', 'producer.ts')], {
          cwd: ROOT,
          env: {
            ...process.env,
            ...envFor(config),
            SPOOFGUARD_LOG_LEVEL: 'warn',
            CHAOS_LEDGER: join(ledgerDir, `${name}.ledger`),
            CHAOS_RATE: String(options.rate),
            CHAOS_ROLE: 'sip',
            CHAOS_NAME: name,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      const output = { out: '', err: '' };
      producerOutput.set(name, output);
      child.stdout?.on('data', (d: Buffer) => (output.out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output.err += d.toString()));
      const deadline = Date.now() + 30_000;
      while (!output.out.includes('chaos producer started')) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`chaos producer ${name} did not start: ${output.err.slice(-2000)}`);
        await sleep(50);
      }
      return child;
    };

    // the worker runs under a supervisor, as systemd or a container's restart policy would run it: one that
    // exits by itself (it cannot open an unreachable log store at start) is started again a second later
    let worker = startWorker();
    let stopping = false;
    const supervise = (child: ChildProcess & { output: () => string }): void => {
      child.once('exit', (code, signal) => {
        if (stopping || signal !== null || worker !== child) return;
        log(`  worker exited by itself (code ${code}): started again by its supervisor`);
        setTimeout(() => {
          if (stopping || worker !== child) return;
          worker = startWorker();
          supervise(worker);
        }, 1000);
      });
    };
    supervise(worker);
    const restartWorker = (): void => {
      worker = startWorker();
      supervise(worker);
    };
    const producers = new Map<string, ChildProcess>();
    producers.set('A', await startProducer('A'));
    producers.set('B', await startProducer('B'));
    /** One query on a connection of its own: PostgreSQL restarts during the run. */
    const query = async (sql: string, params: unknown[] = []): Promise<Row[]> => {
      for (;;) {
        const client = new Client({ connectionString: pg.url });
        try {
          await client.connect();
          return (await client.query<Row>(sql, params)).rows;
        } catch {
          // the worker has not made the table yet, or PostgreSQL is restarting
          await sleep(200);
        } finally {
          await client.end().catch(() => undefined);
        }
      }
    };
    const COLUMNS = 'SELECT call_id, sip_call_id, caller_raw, outcome, verdict FROM flagged_calls';
    const rows = async (ids: string[]): Promise<Map<string, Row>> =>
      new Map((await query(`${COLUMNS} WHERE call_id = ANY($1)`, [ids])).map((r) => [r.call_id, r]));

    /** Waits until every event acknowledged so far is in the log; returns how long that took. */
    const healed = async (fault: string): Promise<number> => {
      const from = Date.now();
      ledger.read();
      let waiting = ledger.acknowledged();
      const deadline = from + options.healTimeoutSec * 1000;
      while (waiting.length) {
        const found = await rows(waiting.map((w) => w.callId));
        waiting = waiting.filter((w) => {
          const row = found.get(w.callId);
          return !row || (w.flagged && !row.verdict) || (w.outcome !== undefined && row.outcome !== w.outcome);
        });
        if (!waiting.length) break;
        if (Date.now() > deadline)
          throw new Error(
            `chaos: ${fault}: ${waiting.length} acknowledged events not in the log after ${options.healTimeoutSec} s; the worker said: ${worker.output().slice(-3000)}`,
          );
        await sleep(250);
      }
      return Date.now() - from;
    };

    const faults: FaultReport[] = [];
    const fault = async (name: string, inject: () => Promise<void>): Promise<void> => {
      ledger.read();
      const before = { spooled: ledger.counts.spooled, lost: ledger.counts.lost };
      log(`fault: ${name}`);
      await inject();
      const healMs = await healed(name);
      ledger.read();
      const report = {
        fault: name,
        healMs,
        spooled: ledger.counts.spooled - before.spooled,
        lost: ledger.counts.lost - before.lost,
      };
      faults.push(report);
      log(`  healed in ${(healMs / 1000).toFixed(1)} s; ${report.spooled} events spooled, ${report.lost} lost`);
      await sleep(options.steadySec * 1000);
    };

    log(`steady: 2 producers × ${options.rate} calls/s`);
    await sleep(options.steadySec * 1000);
    await healed('start');

    await fault('worker killed (SIGKILL), started again 2 s later', async () => {
      worker.kill('SIGKILL');
      await exited(worker);
      await sleep(2000);
      restartWorker();
    });

    await fault(
      `Redis (primary and replica) killed for ${options.redisDownSec} s; meanwhile producer B killed (SIGKILL) with a spool, B2 started`,
      async () => {
        ledger.read();
        const spooledByB = ledger.spooledBy.get('B') ?? 0;
        await redis.stopAll();
        await sleep((options.redisDownSec * 1000) / 2);
        const b = producers.get('B') as ChildProcess;
        b.kill('SIGKILL');
        await exited(b);
        producers.delete('B');
        producers.set('B2', await startProducer('B2'));
        await sleep((options.redisDownSec * 1000) / 2);
        ledger.read();
        log(`  producer B had ${(ledger.spooledBy.get('B') ?? 0) - spooledByB} events in its spool when it was killed`);
        await redis.startAll();
      },
    );

    await fault('PostgreSQL restarted (fast)', () => pg.restart());

    // faults that overlap: a second dependency fails while the first is still away
    await fault(`PostgreSQL restarted during a Redis outage of ${options.redisDownSec} s`, async () => {
      await redis.stopAll();
      await sleep((options.redisDownSec * 1000) / 2);
      await pg.restart();
      await sleep((options.redisDownSec * 1000) / 2);
      await redis.startAll();
    });

    await fault(`worker killed (SIGKILL) during a PostgreSQL outage of ${options.redisDownSec} s`, async () => {
      pg.stop();
      await sleep((options.redisDownSec * 1000) / 2);
      worker.kill('SIGKILL');
      await exited(worker);
      restartWorker();
      await sleep((options.redisDownSec * 1000) / 2);
      await pg.start();
    });

    if (unmount) {
      await fault('spool disk full while Redis is down 3 s', async () => {
        const filler = join(spoolDir, 'filler');
        const fd = openSync(filler, 'w');
        const block = Buffer.alloc(64 * 1024, 1);
        try {
          for (;;) writeSync(fd, block);
        } catch {
          // full: now only events that fit in the last partial page can be spooled
        } finally {
          closeSync(fd);
        }
        await redis.stopAll();
        await sleep(3000);
        await redis.startAll();
        rmSync(filler);
      });
    }

    await fault(
      'Redis primary killed (SIGKILL) under load: Sentinel promotes the replica, the old primary returns as a replica',
      async () => {
        const started = Date.now();
        const old = await redis.killPrimaryAndWaitForFailover();
        log(`  replica promoted ${((Date.now() - started) / 1000).toFixed(1)} s after the kill`);
        await old.start();
      },
    );

    await fault('poison event (an invalid payload) and an event with a NUL in its display name', async () => {
      const { queue, close } = openQueue(config);
      const now = new Date().toISOString();
      await queue.add({
        jobId: POISON_JOB,
        name: 'flagged',
        data: { v: 1, kind: 'flagged', callId: 'chaos-poison-schema', verdict: 'maybe', garbage: true },
      });
      await queue.add({
        jobId: `flagged.${NUL_CALL}`,
        name: 'flagged',
        data: {
          v: 1,
          kind: 'flagged',
          callId: NUL_CALL,
          source: 'sip',
          receivedAt: now,
          caller: { raw: 'sip:+18882804331@x', kind: 'number', e164: '+18882804331', displayName: 'Ama\u0000zon' },
          verdict: 'warn',
          score: 60,
          reasons: [],
        },
      });
      await close();
    });

    log('stopping the producers (they end their calls in progress and replay their spools)');
    const finals: ChaosReport['producers'] = [];
    for (const [name, child] of producers) {
      child.kill('SIGTERM');
      const { code } = await exited(child);
      const output = producerOutput.get(name) as { out: string; err: string };
      if (code !== 0) throw new Error(`chaos producer ${name} exited with ${code}: ${output.err.slice(-2000)}`);
      const done = output.out.split('\n').find((l) => l.startsWith('{"done"'));
      const parsed = JSON.parse(done ?? '{}') as { results?: Record<string, number>; metric?: Record<string, number> };
      finals.push({ name, results: parsed.results ?? {}, metric: parsed.metric ?? {} });
    }
    const left = readdirSync(spoolDir).filter((f) => f.endsWith('.ndjson'));
    if (left.length) throw new Error(`chaos: spool files left after the producers closed: ${left.join(', ')}`);
    await healed('end');
    const { queue, close: closeQueue } = openQueue(config);
    const deadline = Date.now() + options.healTimeoutSec * 1000;
    while ((await queue.eventsInFlight()) > 0 && Date.now() < deadline) await sleep(250);
    const failed = (await queue.failed(0, 999)).map((j) => ({ id: j.id, reason: j.reason }));
    await closeQueue();
    stopping = true;
    worker.kill('SIGTERM');
    await exited(worker);

    // the accounting: every call id emitted against the log
    ledger.read();
    const all = await query(COLUMNS);
    const byId = new Map<string, Row[]>();
    for (const row of all) byId.set(row.call_id, [...(byId.get(row.call_id) ?? []), row]);
    const missing: string[] = [];
    for (const want of ledger.acknowledged()) {
      const row = byId.get(want.callId)?.[0];
      if (!row || (want.flagged && !row.verdict) || (want.outcome !== undefined && row.outcome !== want.outcome))
        missing.push(want.callId);
    }
    const duplicated = [...byId].filter(([, r]) => r.length > 1).map(([id]) => id);
    const merged: string[] = [];
    for (const [id, [row]] of byId) {
      if (id === NUL_CALL) continue;
      const call = ledger.calls.get(id);
      if (!call) {
        merged.push(`${id}: no such call emitted`);
        continue;
      }
      if (call.s !== undefined && row.sip_call_id !== call.s) merged.push(`${id}: SIP Call-ID ${row.sip_call_id}`);
      if (row.caller_raw !== null && call.raw !== undefined && row.caller_raw !== call.raw)
        merged.push(`${id}: caller ${row.caller_raw}`);
      if (row.outcome !== null && row.outcome !== call.o) merged.push(`${id}: outcome ${row.outcome}`);
    }
    const reused = [...ledger.calls.values()].filter((c) => c.s?.startsWith('reused-by-the-network'));
    const reusedRecords = all.filter((r) => r.sip_call_id?.startsWith('reused-by-the-network')).length;
    const reusedLogged = [...ledger.calls].filter(
      ([id, c]) => c.s?.startsWith('reused-by-the-network') && byId.has(id),
    ).length;
    if (reusedLogged !== reusedRecords)
      merged.push(`reused SIP Call-ID: ${reusedRecords} records for ${reusedLogged} calls`);

    for (const [name, o] of producerOutput)
      for (const line of o.err
        .split('\n')
        .filter((l) => l.includes('invalid'))
        .slice(0, 3))
        log(`producer ${name}: ${line}`);
    const spoolFullErrorLines = [...producerOutput.values()].reduce(
      (n, o) => n + o.err.split('\n').filter((l) => l.includes('spool write failed')).length,
      0,
    );
    const calls = new Set([...ledger.calls.keys()]).size;
    return {
      faults,
      calls,
      events: { ...ledger.counts },
      missing,
      duplicated,
      merged,
      reusedSipCallId: { records: reusedRecords, calls: reused.length },
      nulStored: byId.get(NUL_CALL)?.[0]?.verdict === 'warn',
      failed,
      producers: finals,
      spoolFullErrorLines,
      skipped,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    for (const cleanup of cleanups) await Promise.resolve(cleanup()).catch(() => undefined);
    if (existsSync(work)) rmSync(work, { recursive: true, force: true });
  }
}

/** The report as lines, and whether it shows 0 lost, 0 duplicated, 0 merged and the poison in the failed set. */
export function describeReport(report: ChaosReport): { lines: string[]; ok: boolean } {
  const e = report.events;
  const lines = [
    ...report.faults.map(
      (f) =>
        `${f.fault}: healed in ${(f.healMs / 1000).toFixed(1)} s, ${f.spooled} events through the spool, ${f.lost} lost (counted)`,
    ),
    `calls flagged: ${report.calls}; events emitted ${e.emitted}: ${e.queued} queued, ${e.spooled} spooled, ${e.lost} lost (spool disk full, counted and logged), ${e.invalid} invalid, ${e.unknown} unknown (emit under way when its producer was killed)`,
    `lost (acknowledged, not in the log): ${report.missing.length}`,
    `duplicated (more than one record for a call id): ${report.duplicated.length}`,
    `merged across calls: ${report.merged.length}${report.merged.length ? ` (${report.merged.slice(0, 5).join('; ')})` : ''}`,
    `reused SIP Call-ID: ${report.reusedSipCallId.records} records for ${report.reusedSipCallId.calls} calls that carried it`,
    `event with a NUL in its display name: ${report.nulStored ? 'stored' : 'NOT stored'}`,
    `failed set: ${report.failed.map((f) => `${f.id} (${f.reason.slice(0, 120)})`).join('; ') || 'empty'}`,
    `"spool write failed" error lines: ${report.spoolFullErrorLines}`,
    ...report.producers.map(
      (p) => `producer ${p.name}: results ${JSON.stringify(p.results)}, metric ${JSON.stringify(p.metric)}`,
    ),
    ...report.skipped.map((s) => `skipped: ${s}`),
  ];
  const poisoned = report.failed.length === 1 && report.failed[0].id === POISON_JOB;
  const metricsAgree = report.producers.every((p) =>
    Object.entries(p.results).every(([result, n]) => n === 0 || p.metric[result] === n),
  );
  const ok =
    report.missing.length === 0 &&
    report.duplicated.length === 0 &&
    report.merged.length === 0 &&
    poisoned &&
    report.nulStored &&
    metricsAgree &&
    report.events.invalid === 0;
  return { lines, ok };
}
