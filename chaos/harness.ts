import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { type Config, loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { openQueue } from '../services/events';
import { openListAdmin } from '../services/screening';
import { seedEntries } from '../services/screening/seed';
import { envFor, exited, ROOT, spawnSpoofguard } from '../test/support/child';
import { SentinelGroup } from '../test/support/redis-topologies';
import { freePort } from '../test/support/redis';
import { RealAsterisk, realServerEnv } from '../test/real/support/asterisk';
import { callerScenario, startSipp, subscriberScenario } from '../test/real/support/sipp';
import { eventually } from '../test/real/support/suite';
import { Ledger, POISON_JOB } from './ledger';
import type { ChaosOptions, ChaosReport, FaultReport } from './report';
import { missingServers, mountSmallDisk, OwnPostgres } from './servers';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Calls sitting in the warning when Asterisk is restarted. */
const ASTERISK_CALLS = Number(process.env.CHAOS_ASTERISK_CALLS ?? 4);
const NO_ASTERISK = 'ASTERISK_BIN, ASTERISK_MODULES and ASTERISK_DATA are not set (docs/TESTING.md)';
/** A valid event whose display name holds a NUL (PostgreSQL refuses NUL in text): it must be stored, not lost. */
const NUL_CALL = 'chaos-nul-in-name';

interface Row {
  call_id: string;
  sip_call_id: string | null;
  caller_raw: string | null;
  outcome: string | null;
  verdict: string | null;
}

type Child = ChildProcess & { output: () => string };
/** A fault that heals in a way of its own (not through the producers' ledger) says how long that took. */
type Fault = { name: string; inject: () => Promise<void | { healMs: number }> };
const COLUMNS = 'SELECT call_id, sip_call_id, caller_raw, outcome, verdict FROM flagged_calls';

/**
 * The fault-injection run (npm run chaos; a short version in the real-server suite): the call path
 * (screening + producer) in two processes of one role at a steady rate of flagged calls, a worker writing to
 * PostgreSQL, all on a Redis, a PostgreSQL (and, when set, an Asterisk) of the run's own, while faults come one
 * after another. At the end every call id emitted is compared with the log.
 *
 * One chaos run, step by step (runChaos reads them in order): its own servers, the pipeline (a worker under a
 * supervisor, two producers), steady running, the faults one after another (each healed before the next), the
 * producers stopped, the queue drained, and the accounting of every call id emitted against the log.
 */
class ChaosRun {
  private readonly work = mkdtempSync(join(tmpdir(), 'sg-chaos-'));
  private readonly cleanups: (() => Promise<void> | void)[] = [
    () => rmSync(this.work, { recursive: true, force: true }),
  ];
  private readonly children = new Set<ChildProcess>();
  private readonly skipped: string[] = [];
  private readonly reports: FaultReport[] = [];
  private readonly producers = new Map<string, ChildProcess>();
  private readonly producerOutput = new Map<string, { out: string; err: string }>();
  private readonly spoolDir = join(this.work, 'spool');
  private readonly ledgerDir = join(this.work, 'ledger');
  private readonly ledger = new Ledger(this.ledgerDir);
  private redis!: SentinelGroup;
  private pg!: OwnPostgres;
  private config!: Config;
  private worker!: Child;
  /** A real Asterisk and `spoofguard ari` on it, when ASTERISK_BIN and the rest are set (docs/TESTING.md). */
  private asterisk?: RealAsterisk;
  private ari?: Child;
  private subscriberPort = 0;
  private readonly asteriskCallers: string[] = [];
  private stopping = false;
  private spoolDiskFull = false;

  constructor(private readonly options: ChaosOptions) {}

  private log(line: string): void {
    this.options.log(line);
  }

  /** Redis as production runs it (a primary and a replica, AOF with fsync always, three sentinels), PostgreSQL. */
  async startServers(): Promise<void> {
    const missingBins = missingServers();
    if (missingBins) throw new Error(`chaos run cannot start its own servers: ${missingBins}`);
    this.redis = await SentinelGroup.start({ persistent: true });
    this.cleanups.unshift(() => this.redis.stop());
    // a folder of its own, beside the run's (which only root may enter): initdb runs as the postgres user
    const pgDir = mkdtempSync(join(tmpdir(), 'sg-chaos-pg-'));
    this.cleanups.push(() => rmSync(pgDir, { recursive: true, force: true }));
    this.pg = new OwnPostgres(pgDir);
    await this.pg.start();
    this.cleanups.unshift(() => this.pg.stop());
    this.log(
      `own Redis: primary ${this.redis.nodes[0]?.port}, replica ${this.redis.nodes[1]?.port}, 3 sentinels (AOF, fsync always); own PostgreSQL on ${this.pg.port}`,
    );
    const env = realServerEnv();
    if (env.asteriskBin && env.asteriskModules && env.asteriskData) {
      this.subscriberPort = await freePort();
      const asterisk = new RealAsterisk(
        { asteriskBin: env.asteriskBin, asteriskModules: env.asteriskModules, asteriskData: env.asteriskData },
        { subscriberPort: this.subscriberPort },
      );
      await asterisk.start();
      this.asterisk = asterisk;
      this.cleanups.unshift(() => asterisk.close());
      this.log(`own Asterisk: SIP ${asterisk.ports.sip}, ARI ${asterisk.ariUrl}`);
    } else this.skipped.push(`Asterisk restarted while calls sit in the warning: ${NO_ASTERISK}`);
    const unmount = mountSmallDisk(this.spoolDir, '4m');
    if (unmount) {
      this.cleanups.unshift(unmount);
      this.spoolDiskFull = true;
    } else this.skipped.push('spool disk full: mounting a small tmpfs needs root');
  }

  /** The run's config, and the seed lists in its Redis. */
  async seedLists(): Promise<void> {
    this.config = loadConfig({
      env: { REDIS_URL: this.redis.url, DATABASE_URL: this.pg.url },
      overrides: {
        log: { level: 'warn' },
        redis: { keyPrefix: 'chaos:' },
        // an event counts as queued once the replica has it too: a failover must lose none
        queue: { spoolDir: this.spoolDir, replicasToAck: 1, emitBudgetMs: 100 },
        ops: { port: 0 },
        console: { port: 0 },
        flaggedLog: { sqlitePath: join(this.work, 'unused.sqlite'), pseudonymKey: 'chaos-run-key-0123456789' },
        ...(this.asterisk
          ? {
              // Asterisk, sipp and the run share two cores: a look-up past 50 ms would fail open, unwarned
              screening: { budgetMs: 500 },
              ari: {
                url: this.asterisk.ariUrl,
                username: this.asterisk.ariUser,
                password: this.asterisk.ariPassword,
                defaultLanguage: 'en',
              },
            }
          : {}),
      },
    });
    const lists = await openListAdmin(this.config, createLogger({ level: 'silent' }));
    await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
    await lists.close();
    mkdirSync(this.ledgerDir);
  }

  private track<T extends ChildProcess>(child: T): T {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * The worker runs under a supervisor, as systemd or a container's restart policy would run it: one that exits
   * by itself (it cannot open an unreachable log store at start) is started again a second later.
   */
  private startWorker(): void {
    const child = this.track(spawnSpoofguard(['worker'], this.config, { SPOOFGUARD_LOG_LEVEL: 'warn' }));
    this.worker = child;
    child.once('exit', (code, signal) => {
      if (this.stopping || signal !== null || this.worker !== child) return;
      this.log(`  worker exited by itself (code ${code}): started again by its supervisor`);
      setTimeout(() => {
        if (!this.stopping && this.worker === child) this.startWorker();
      }, 1000);
    });
  }

  private async startProducer(name: string): Promise<ChildProcess> {
    const child = this.track(
      spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'chaos', 'producer.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          ...envFor(this.config),
          SPOOFGUARD_LOG_LEVEL: 'warn',
          CHAOS_LEDGER: join(this.ledgerDir, `${name}.ledger`),
          CHAOS_RATE: String(this.options.rate),
          CHAOS_ROLE: 'sip',
          CHAOS_NAME: name,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const output = { out: '', err: '' };
    this.producerOutput.set(name, output);
    child.stdout?.on('data', (d: Buffer) => (output.out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output.err += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!output.out.includes('chaos producer started')) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`chaos producer ${name} did not start: ${output.err.slice(-2000)}`);
      await sleep(50);
    }
    this.producers.set(name, child);
    return child;
  }

  /** A worker under its supervisor and two producers (the call path, in processes of one role); the ARI app. */
  async startPipeline(): Promise<void> {
    this.startWorker();
    await this.startProducer('A');
    await this.startProducer('B');
    if (this.asterisk) {
      this.ari = this.track(spawnSpoofguard(['ari'], this.config, { SPOOFGUARD_LOG_LEVEL: 'warn' }));
      await this.ariConnected();
    }
  }

  private ariConnected(): Promise<void> {
    const asterisk = this.asterisk as RealAsterisk;
    return eventually(
      async () =>
        ((await (await asterisk.ari('GET', '/applications')).json()) as { name: string }[]).some(
          (a) => a.name === 'spoofguard',
        ),
      `chaos: spoofguard ari connected to Asterisk\n${this.ari?.output().slice(-2000)}`,
      30_000,
    );
  }

  /** Each of the calls that sat in the warning has one record, with an outcome; resolves with the counts. */
  private async asteriskCallsLogged(): Promise<{ calls: number; records: number; withOutcome: number }> {
    const rows = await this.query(`${COLUMNS} WHERE caller_e164 = ANY($1)`, [this.asteriskCallers]);
    return {
      calls: this.asteriskCallers.length,
      records: rows.length,
      withOutcome: rows.filter((r) => r.outcome !== null).length,
    };
  }

  /**
   * ASTERISK_CALLS calls from callers posing as Amazon are answered by the subscriber and sit in the warning;
   * Asterisk is restarted under them. spoofguard reconnects by itself; each call keeps its one record and gets
   * an outcome (its legs are gone with the old Asterisk).
   */
  /** Returns when Asterisk was back (Date.now()). */
  private async restartAsteriskUnderWarnedCalls(): Promise<number> {
    const asterisk = this.asterisk as RealAsterisk;
    const env = realServerEnv();
    const numbers = Array.from({ length: ASTERISK_CALLS }, () => `+4930${randomInt(1_000_000, 9_999_999)}`);
    this.asteriskCallers.push(...numbers);
    const callers = join(this.work, 'asterisk-callers.csv');
    writeFileSync(callers, `SEQUENTIAL\n${numbers.map((n) => `${n};`).join('\n')}\n`);
    const subscriber = await startSipp(env, subscriberScenario({ kind: 'answer', then: 'wait-bye' }, env.dtmfPcaps), {
      port: this.subscriberPort,
      calls: ASTERISK_CALLS,
    });
    const caller = await startSipp(
      env,
      callerScenario({
        number: '[field0]',
        name: 'Amazon',
        called: '+4930901820',
        end: { kind: 'wait-bye', timeoutMs: 60_000 },
      }),
      {
        remote: `127.0.0.1:${asterisk.ports.sip}`,
        calls: ASTERISK_CALLS,
        rate: ASTERISK_CALLS,
        extra: ['-inf', callers],
      },
    );
    try {
      // every subscriber answered (its leg is Up) and hears the warning; every call is logged as warned
      await eventually(
        async () =>
          ((await (await asterisk.ari('GET', '/channels')).json()) as { id: string; state: string }[]).filter(
            (c) => c.id.endsWith('-sub') && c.state === 'Up',
          ).length === ASTERISK_CALLS,
        `chaos: ${ASTERISK_CALLS} subscribers hearing the warning\n${this.ari?.output().slice(-2000)}`,
        30_000,
      );
      await eventually(
        async () => (await this.asteriskCallsLogged()).records === ASTERISK_CALLS,
        'chaos: the warned calls logged',
        30_000,
      );
      await asterisk.restart();
    } finally {
      caller.stop();
      subscriber.stop();
    }
    const back = Date.now();
    await this.ariConnected();
    this.log(`  spoofguard ari reconnected ${((Date.now() - back) / 1000).toFixed(1)} s after Asterisk was back`);
    return back;
  }

  /** One query on a connection of its own: PostgreSQL restarts during the run. */
  private async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    for (;;) {
      const client = new Client({ connectionString: this.pg.url });
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
  }

  /** Waits until every event acknowledged so far is in the log; returns how long that took. */
  private async healed(fault: string): Promise<number> {
    const from = Date.now();
    this.ledger.read();
    let waiting = this.ledger.acknowledged();
    const deadline = from + this.options.healTimeoutSec * 1000;
    while (waiting.length) {
      const rows = await this.query(`${COLUMNS} WHERE call_id = ANY($1)`, [waiting.map((w) => w.callId)]);
      const found = new Map(rows.map((r) => [r.call_id, r]));
      waiting = waiting.filter((w) => {
        const row = found.get(w.callId);
        return !row || (w.flagged && !row.verdict) || (w.outcome !== undefined && row.outcome !== w.outcome);
      });
      if (!waiting.length) break;
      if (Date.now() > deadline) {
        const how = new Map<string, number>();
        for (const w of waiting) {
          const call = this.ledger.calls.get(w.callId);
          const key = `flagged ${call?.flagged ?? '-'}, outcome ${call?.outcome ?? '-'}`;
          how.set(key, (how.get(key) ?? 0) + 1);
        }
        throw new Error(
          `chaos: ${fault}: ${waiting.length} acknowledged events not in the log after ${this.options.healTimeoutSec} s ` +
            `(${[...how].map(([k, n]) => `${n}× ${k}`).join('; ')}); Redis: ${await this.redis.describe()}; ` +
            `spool files: ${readdirSync(this.spoolDir).join(', ') || 'none'}; the worker said: ${this.worker.output().slice(-3000)}; ` +
            `the producers said: ${[...this.producerOutput].map(([n, o]) => `${n}: ${o.err.slice(-1500)}`).join(' | ')}`,
        );
      }
      await sleep(250);
    }
    return Date.now() - from;
  }

  /** Steady running before the first fault, and everything emitted so far in the log. */
  async steady(): Promise<void> {
    this.log(`steady: 2 producers × ${this.options.rate} calls/s`);
    await sleep(this.options.steadySec * 1000);
    await this.healed('start');
  }

  /** One fault: injected, healed (every acknowledged event in the log), then steady running again. */
  async inject(fault: Fault): Promise<void> {
    this.ledger.read();
    const before = { spooled: this.ledger.counts.spooled, lost: this.ledger.counts.lost };
    this.log(`fault: ${fault.name}`);
    const own = await fault.inject();
    const healMs = Math.max(own ? own.healMs : 0, await this.healed(fault.name));
    this.ledger.read();
    const report = {
      fault: fault.name,
      healMs,
      spooled: this.ledger.counts.spooled - before.spooled,
      lost: this.ledger.counts.lost - before.lost,
    };
    this.reports.push(report);
    this.log(`  healed in ${(healMs / 1000).toFixed(1)} s; ${report.spooled} events spooled, ${report.lost} lost`);
    await sleep(this.options.steadySec * 1000);
  }

  /** The faults, in order: one at a time first, then two that overlap, then Redis failing over. */
  faults(): Fault[] {
    const { redisDownSec } = this.options;
    const half = (redisDownSec * 1000) / 2;
    const faults: Fault[] = [
      {
        name: 'worker killed (SIGKILL), started again 2 s later',
        inject: async () => {
          this.worker.kill('SIGKILL');
          await exited(this.worker);
          await sleep(2000);
          this.startWorker();
        },
      },
      {
        name: `Redis (primary and replica) killed for ${redisDownSec} s; meanwhile producer B killed (SIGKILL) with a spool, B2 started`,
        inject: async () => {
          this.ledger.read();
          const spooledByB = this.ledger.spooledBy.get('B') ?? 0;
          await this.redis.stopAll();
          await sleep(half);
          const b = this.producers.get('B') as ChildProcess;
          b.kill('SIGKILL');
          await exited(b);
          this.producers.delete('B');
          await this.startProducer('B2');
          await sleep(half);
          this.ledger.read();
          this.log(
            `  producer B had ${(this.ledger.spooledBy.get('B') ?? 0) - spooledByB} events in its spool when it was killed`,
          );
          await this.redis.startAll();
        },
      },
      { name: 'PostgreSQL restarted (fast)', inject: () => this.pg.restart() },
      // faults that overlap: a second dependency fails while the first is still away
      {
        name: `PostgreSQL restarted during a Redis outage of ${redisDownSec} s`,
        inject: async () => {
          await this.redis.stopAll();
          await sleep(half);
          await this.pg.restart();
          await sleep(half);
          await this.redis.startAll();
        },
      },
      {
        name: `worker killed (SIGKILL) during a PostgreSQL outage of ${redisDownSec} s`,
        inject: async () => {
          this.pg.stop();
          await sleep(half);
          this.worker.kill('SIGKILL');
          await exited(this.worker);
          this.startWorker();
          await sleep(half);
          await this.pg.start();
        },
      },
    ];
    if (this.spoolDiskFull)
      faults.push({ name: 'spool disk full while Redis is down 3 s', inject: () => this.fillSpoolDisk() });
    faults.push(
      {
        name: 'Redis primary killed (SIGKILL) under load: Sentinel promotes the replica, the old primary returns as a replica',
        inject: async () => {
          const started = Date.now();
          const old = await this.redis.killPrimaryAndWaitForFailover();
          this.log(`  replica promoted ${((Date.now() - started) / 1000).toFixed(1)} s after the kill`);
          await old.start();
        },
      },
      ...(this.asterisk
        ? [
            {
              name: `Asterisk restarted while ${ASTERISK_CALLS} calls sit in the warning`,
              inject: async () => {
                const restarted = await this.restartAsteriskUnderWarnedCalls();
                // healed once each of them has its outcome (the ledger's wait covers the producers)
                await eventually(
                  async () => (await this.asteriskCallsLogged()).withOutcome >= ASTERISK_CALLS,
                  `chaos: an outcome for each call cut by the restart\n${this.ari?.output().slice(-3000)}`,
                  this.options.healTimeoutSec * 1000,
                );
                return { healMs: Date.now() - restarted };
              },
            },
          ]
        : []),
      {
        name: 'poison event (an invalid payload) and an event with a NUL in its display name',
        inject: () => this.addPoisonAndNul(),
      },
    );
    return faults;
  }

  private async fillSpoolDisk(): Promise<void> {
    const filler = join(this.spoolDir, 'filler');
    const fd = openSync(filler, 'w');
    const block = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, block);
    } catch {
      // full: now only events that fit in the last partial page can be spooled
    } finally {
      closeSync(fd);
    }
    await this.redis.stopAll();
    await sleep(3000);
    await this.redis.startAll();
    rmSync(filler);
  }

  private async addPoisonAndNul(): Promise<void> {
    const { queue: events, close } = openQueue(this.config);
    // the harness's own adds wait for the replica like every event; a WAIT that ran out on a loaded box is
    // tried again: the job ids are fixed, so BullMQ adds each job once however often it is asked
    const queue = {
      add: async (job: Parameters<typeof events.add>[0]): Promise<void> => {
        for (let attempt = 1; ; attempt++) {
          try {
            await events.add(job);
            return;
          } catch (err) {
            if (attempt >= 5 || !/confirmed the write/.test((err as Error).message)) throw err;
            await sleep(500);
          }
        }
      },
    };
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
  }

  /** The producers end their calls in progress and replay their spools; their own counters come back. */
  async stopProducers(): Promise<ChaosReport['producers']> {
    this.log('stopping the producers (they end their calls in progress and replay their spools)');
    const finals: ChaosReport['producers'] = [];
    for (const [name, child] of this.producers) {
      child.kill('SIGTERM');
      const { code } = await exited(child);
      const output = this.producerOutput.get(name) as { out: string; err: string };
      if (code !== 0) throw new Error(`chaos producer ${name} exited with ${code}: ${output.err.slice(-2000)}`);
      const done = output.out.split('\n').find((l) => l.startsWith('{"done"'));
      const parsed = JSON.parse(done ?? '{}') as { results?: Record<string, number>; metric?: Record<string, number> };
      finals.push({ name, results: parsed.results ?? {}, metric: parsed.metric ?? {} });
    }
    if (this.ari) {
      this.ari.kill('SIGTERM');
      const { code } = await exited(this.ari);
      if (code !== 0) throw new Error(`chaos: spoofguard ari exited with ${code}: ${this.ari.output().slice(-2000)}`);
    }
    const left = readdirSync(this.spoolDir).filter((f) => f.endsWith('.ndjson'));
    if (left.length) throw new Error(`chaos: spool files left after the producers closed: ${left.join(', ')}`);
    await this.healed('end');
    return finals;
  }

  /** Waits for the queue to empty, reads its failed set, stops the worker. */
  async drainQueue(): Promise<ChaosReport['failed']> {
    const { queue, close } = openQueue(this.config);
    const deadline = Date.now() + this.options.healTimeoutSec * 1000;
    while ((await queue.eventsInFlight()) > 0 && Date.now() < deadline) await sleep(250);
    const failed = (await queue.failed(0, 999)).map((j) => ({ id: j.id, reason: j.reason }));
    await close();
    this.stopping = true;
    this.worker.kill('SIGTERM');
    await exited(this.worker);
    return failed;
  }

  /** The accounting: every call id emitted against the log. */
  async account(producers: ChaosReport['producers'], failed: ChaosReport['failed']): Promise<ChaosReport> {
    const { ledger } = this;
    ledger.read();
    const all = await this.query(COLUMNS);
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
      // the ARI app's calls are accounted for by caller (asteriskRestart), not in the producers' ledger
      if (id === NUL_CALL || id.startsWith('ari:')) continue;
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

    for (const [name, o] of this.producerOutput)
      for (const line of o.err
        .split('\n')
        .filter((l) => l.includes('invalid'))
        .slice(0, 3))
        this.log(`producer ${name}: ${line}`);
    const spoolFullErrorLines = [...this.producerOutput.values()].reduce(
      (n, o) => n + o.err.split('\n').filter((l) => l.includes('spool write failed')).length,
      0,
    );
    return {
      faults: this.reports,
      calls: new Set([...ledger.calls.keys()]).size,
      events: { ...ledger.counts },
      missing,
      duplicated,
      merged,
      reusedSipCallId: { records: reusedRecords, calls: reused.length },
      nulStored: byId.get(NUL_CALL)?.[0]?.verdict === 'warn',
      failed,
      producers,
      spoolFullErrorLines,
      ...(this.asterisk ? { asteriskRestart: await this.asteriskCallsLogged() } : {}),
      skipped: this.skipped,
    };
  }

  async cleanUp(): Promise<void> {
    this.stopping = true;
    for (const child of this.children) child.kill('SIGKILL');
    for (const cleanup of this.cleanups) await Promise.resolve(cleanup()).catch(() => undefined);
    if (existsSync(this.work)) rmSync(this.work, { recursive: true, force: true });
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const run = new ChaosRun(options);
  try {
    await run.startServers();
    await run.seedLists();
    await run.startPipeline();
    await run.steady();
    for (const fault of run.faults()) await run.inject(fault);
    const producers = await run.stopProducers();
    const failed = await run.drainQueue();
    return await run.account(producers, failed);
  } finally {
    await run.cleanUp();
  }
}

export { describeReport } from './report';
export type { ChaosOptions, ChaosReport } from './report';
