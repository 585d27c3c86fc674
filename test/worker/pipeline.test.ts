import IORedis from 'ioredis';
import { Client } from 'pg';
import { readdirSync } from 'node:fs';
import type { Config } from '../../services/common/config';
import { openProducer, openQueue } from '../../services/events';
import { openLogStore, type LogStore } from '../../services/flagged-log';
import { Spool } from '../../services/events/spool';
import { jobIdOf } from '../../services/events/flagged-call';
import { runWorker } from '../../services/worker';
import { quietLogger, REDIS_URL, testConfig } from '../support/config';
import { dropQueue, flagged, outcome, until } from '../support/events';
import { configWithLogStore, createTestDatabase } from '../support/postgres';
import { PrivateRedis } from '../support/redis';
import { TcpProxy } from '../support/tcp-proxy';

const logger = quietLogger();

describe.each(['sqlite', 'postgres'] as const)('emit → worker → %s log', (kind) => {
  let config: Config;
  let drop: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    ({ config, drop } = await configWithLogStore(kind, testConfig));
  });
  afterEach(async () => {
    await dropQueue(config);
    await drop?.();
  });

  it('stores each event once, merging flagged and outcome', async () => {
    const worker = await runWorker(config, logger);
    const { producer, close } = openProducer(config, logger, 'test');
    try {
      await until(() => producer['connection'].status === 'ready');
      // queued, or spooled when Redis was slower than the budget on a loaded machine: both are durable
      for (let i = 0; i < 50; i++) expect(['queued', 'spooled']).toContain(await producer.emit(flagged(`e-${i}`)));
      for (let i = 0; i < 50; i += 2) await producer.emit(outcome(`e-${i}`, 'rejected'));
      // the same event three times
      for (let n = 0; n < 3; n++) await producer.emit(flagged('e-dup'));
      await until(
        async () => (await worker.store.count({})) === 51 && (await worker.store.count({ outcome: 'rejected' })) === 25,
      );
      expect((await worker.store.get('e-0'))?.verdict).toBe('warn');
      const { queue, close: closeQueue } = openQueue(config);
      await until(async () => (await queue.counts()).completed === 0 && (await queue.counts()).waiting === 0);
      await closeQueue();
    } finally {
      await close();
      await worker.close();
    }
  });
});

describe('failure handling', () => {
  let config: Config;
  afterEach(() => dropQueue(config));

  it('moves malformed payloads to failed with a clear reason and keeps going', async () => {
    config = testConfig();
    const worker = await runWorker(config, logger);
    const { queue, close } = openQueue(config);
    try {
      await queue.add({ jobId: 'bad-types', name: 'flagged', data: { ...flagged('x1'), score: 'high', verdict: 42 } });
      await queue.add({ jobId: 'bad-missing', name: 'flagged', data: { v: 1, kind: 'flagged', callId: 'x2' } });
      await queue.add({ jobId: 'bad-junk', name: 'flagged', data: { junk: 'x'.repeat(1024 * 1024) } });
      await queue.add({ jobId: 'good', name: 'flagged', data: flagged('x-good') });
      await until(async () => (await queue.counts()).failed === 3 && (await worker.store.get('x-good')) !== undefined);
      const failed = await queue.failed();
      const reasons = Object.fromEntries(failed.map((f) => [f.id, f.reason]));
      expect(reasons['bad-types']).toMatch(/^invalid FlaggedCall event: .*score/);
      expect(reasons['bad-missing']).toMatch(/source/);
      expect(reasons['bad-junk']).toMatch(/invalid FlaggedCall event/);
      expect(failed.every((f) => f.attemptsMade <= 1)).toBe(true);
      expect(await worker.store.count({})).toBe(1);
      // a failed job can be retried from the CLI side; it fails again, but the set stays bounded
      expect(await queue.retryFailed(['bad-types'])).toBe(1);
    } finally {
      await close();
      await worker.close();
    }
  });

  it('an event the log store refuses fails alone with its reason; the rest of its batch is stored', async () => {
    const db = await createTestDatabase();
    // one batch of ten; PostgreSQL refuses one row of it (a check the database makes: here a trigger)
    config = testConfig({
      flaggedLog: { databaseUrl: db.url },
      worker: { batchSize: 10, batchWaitMs: 500 },
      queue: { attempts: 2, backoffMs: 100 },
    });
    const worker = await runWorker(config, logger);
    const sql = new Client({ connectionString: db.url });
    await sql.connect();
    await sql.query(`CREATE FUNCTION refuse_row_4() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.call_id = 'row-4' THEN RAISE EXCEPTION 'row-4 refused by a check'; END IF; RETURN NEW; END $$`);
    await sql.query(
      'CREATE TRIGGER refuse BEFORE INSERT ON flagged_calls FOR EACH ROW EXECUTE FUNCTION refuse_row_4()',
    );
    await sql.end();
    const { queue, close } = openQueue(config);
    try {
      const events = Array.from({ length: 10 }, (_, i) => flagged(`row-${i}`));
      await queue.addBulk(events.map((data) => ({ jobId: jobIdOf(data), name: 'flagged', data })));
      await until(async () => (await queue.counts()).failed === 1, 15000, 'the refused event failed');
      await until(async () => (await worker.store.count({})) === 9, 15000, 'the other nine stored');
      const [failed] = await queue.failed();
      expect(failed.id).toBe(jobIdOf(events[4]));
      expect(failed.reason).toMatch(/log store refused the event: row-4 refused by a check/);
      expect(await worker.store.get('row-4')).toBeUndefined();
    } finally {
      await close();
      await worker.close();
      await db.drop();
    }
  });

  it('an event refused for what it holds (SQLSTATE class 23) goes to the failed set at once, with its reason', async () => {
    const db = await createTestDatabase();
    config = testConfig({
      flaggedLog: { databaseUrl: db.url },
      worker: { batchSize: 5, batchWaitMs: 200 },
      queue: { attempts: 15, backoffMs: 100 },
    });
    const worker = await runWorker(config, logger);
    const sql = new Client({ connectionString: db.url });
    await sql.connect();
    await sql.query(`CREATE FUNCTION refuse_row_2() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.call_id = 'row-2' THEN RAISE EXCEPTION 'row-2 breaks a check' USING ERRCODE = 'check_violation';
      END IF; RETURN NEW; END $$`);
    await sql.query(
      'CREATE TRIGGER refuse BEFORE INSERT ON flagged_calls FOR EACH ROW EXECUTE FUNCTION refuse_row_2()',
    );
    await sql.end();
    const { queue, close } = openQueue(config);
    try {
      const events = Array.from({ length: 5 }, (_, i) => flagged(`row-${i}`));
      await queue.addBulk(events.map((data) => ({ jobId: jobIdOf(data), name: 'flagged', data })));
      await until(async () => (await queue.counts()).failed === 1, 15000, 'the refused event failed');
      const [failed] = await queue.failed();
      expect(failed.id).toBe(jobIdOf(events[2]));
      // one attempt of fifteen: a permanent refusal is not retried for hours
      expect(failed.attemptsMade).toBe(1);
      expect(failed.reason).toMatch(/log store refused the event: row-2 breaks a check/);
      await until(async () => (await worker.store.count({})) === 4, 15000, 'the other four stored');
    } finally {
      await close();
      await worker.close();
      await db.drop();
    }
  });

  it('a PostgreSQL that hangs silently holds no write past worker.writeTimeoutMs: the jobs retry, then all are stored', async () => {
    const db = await createTestDatabase();
    const proxy = new TcpProxy('127.0.0.1', 5432);
    await proxy.start();
    const url = new URL(db.url);
    url.port = String(proxy.port);
    config = testConfig({
      flaggedLog: { databaseUrl: url.toString(), statementTimeoutMs: 60_000 },
      worker: { writeTimeoutMs: 500 },
      queue: { backoffMs: 200, attempts: 50 },
    });
    const worker = await runWorker(config, logger);
    const { producer, close } = openProducer(config, logger, 'pg-hung');
    const { queue, close: closeQueue } = openQueue(config);
    try {
      await until(() => producer['connection'].status === 'ready');
      // the worker holds a connection to the database when it hangs: its next query waits on that connection
      await producer.emit(flagged('hung-first'));
      await until(async () => (await worker.store.count({})) === 1, 15000, 'the first event stored');
      proxy.freeze();
      for (let i = 0; i < 9; i++) await producer.emit(flagged(`hung-${i}`));
      // the writes gave up (the jobs wait for a retry, beside the retention purge's delayed job) although the
      // database never answered nor closed: well before any connection timeout could end the wait
      await until(async () => (await queue.counts()).delayed > 1, 4000, 'jobs waiting for a retry');
      expect((await queue.counts()).active).toBeLessThan(10);
      proxy.thaw();
      await until(async () => (await worker.store.count({})) === 10, 30000, 'all 10 stored');
      expect((await queue.counts()).failed).toBe(0);
    } finally {
      proxy.thaw();
      await closeQueue();
      await close();
      await worker.close();
      await proxy.cut();
      await db.drop();
    }
  });

  it('retries while PostgreSQL is unreachable and stores everything when it returns', async () => {
    const db = await createTestDatabase();
    const proxy = new TcpProxy('127.0.0.1', 5432);
    await proxy.start();
    const url = new URL(db.url);
    url.port = String(proxy.port);
    config = testConfig({ flaggedLog: { databaseUrl: url.toString() }, queue: { backoffMs: 200, attempts: 30 } });
    const worker = await runWorker(config, logger);
    const { producer, close } = openProducer(config, logger, 'pg-down');
    try {
      await until(() => producer['connection'].status === 'ready');
      await proxy.cut();
      for (let i = 0; i < 40; i++) await producer.emit(flagged(`pg-${i}`));
      const { queue, close: closeQueue } = openQueue(config);
      await until(async () => (await queue.counts()).delayed > 0, 15000, 'jobs waiting for a retry');
      await proxy.restore();
      await until(async () => (await worker.store.count({})) === 40, 30000, 'all 40 stored');
      expect((await queue.counts()).failed).toBe(0);
      await closeQueue();
    } finally {
      await close();
      await worker.close();
      await proxy.cut();
      await db.drop();
    }
  });
});

describe('Redis stopped while events are emitted', () => {
  it('spools without blocking, replays in order when Redis is back, stores each once', async () => {
    const redis = await PrivateRedis.start({ persistent: true });
    const config = testConfig({ redis: { url: redis.url, connectTimeoutMs: 300 } });
    const { producer, close } = openProducer(config, logger, 'spool-test');
    const store: LogStore = await openLogStore(config);
    try {
      await until(() => producer['connection'].status === 'ready');
      expect(['queued', 'spooled']).toContain(await producer.emit(flagged('r-0')));
      await redis.stop();
      const results = [];
      for (let i = 1; i <= 100; i++)
        results.push(await producer.emit(i % 2 ? flagged(`r-${i}`) : outcome(`r-${i - 1}`, 'accepted')));
      // nothing waited on the dead Redis (how long an emit takes then: npm run bench:worker)
      expect(results.every((r) => r === 'spooled')).toBe(true);
      expect(readdirSync(config.queue.spoolDir).join()).toContain('spool-test');

      await redis.start();
      const worker = await runWorker(config, logger);
      try {
        await until(async () => (await store.count({})) === 51, 30000, 'all calls stored');
        expect(await store.count({ outcome: 'accepted' })).toBe(50);
        expect(producer['spool'].pending).toBe(false);
      } finally {
        await worker.close();
      }
    } finally {
      await close();
      await store.close();
      await redis.stop();
    }
  });
});

describe('Redis slow for a moment', () => {
  it('spools what the queue did not take in time and replays it at once, not at the next periodic replay', async () => {
    const redis = await PrivateRedis.start();
    const config = testConfig({ redis: { url: redis.url } });
    const { producer, close } = openProducer(config, logger, 'slow-test');
    const { queue, close: closeQueue } = openQueue(config);
    const admin = new IORedis(redis.url);
    try {
      await until(() => producer['connection'].status === 'ready');
      // no periodic replay in this test: a replay can only be the prompt one
      clearInterval(producer['timer']);
      await admin.client('PAUSE', 300, 'ALL');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => producer.emit(flagged(`s-${i}`))));
      expect(results.every((r) => r === 'spooled')).toBe(true);
      await until(() => !producer['spool'].pending, 15000, 'spool replayed without a periodic replay');
      // direct again (or spooled once more if this loaded machine was slower than the budget: both durable)
      expect(['queued', 'spooled']).toContain(await producer.emit(flagged('s-after')));
      // the adds that ran late and their replays share job ids: each event is queued once
      await until(async () => (await queue.counts()).waiting === 21, 15000, 'all 21 events queued');
      expect((await queue.counts()).waiting).toBe(21);
    } finally {
      admin.disconnect();
      await closeQueue();
      await close();
      await redis.stop();
    }
  });
});

describe('a backlog in the spool', () => {
  it('does not hold up new events: they go straight to Redis while the backlog replays', async () => {
    const config = testConfig({ queue: { emitBudgetMs: 1000 } });
    // what a predecessor spooled during an outage: 20,000 events
    const leftover = new Spool(config.queue.spoolDir, 'backlog-test', logger);
    await Promise.all(Array.from({ length: 20000 }, (_, i) => leftover.append(flagged(`b-${i}`))));
    await leftover.close();
    const { producer, close } = openProducer(config, logger, 'backlog-test');
    const { queue, close: closeQueue } = openQueue(config);
    try {
      await until(() => producer['connection'].status === 'ready');
      expect(producer['spool'].pending).toBe(true);
      expect(await producer.emit(flagged('live-1'))).toBe('queued');
      const stillReplaying = producer['spool'].pending;
      await until(() => !producer['spool'].pending, 30000, 'backlog replayed');
      expect((await queue.counts()).waiting).toBe(20001);
      // the live event was queued before the backlog was through
      expect(stillReplaying).toBe(true);
    } finally {
      await closeQueue();
      await close();
      await dropQueue(config);
    }
  });
});

it('schedules the retention purge once, however many workers start', async () => {
  const config = testConfig();
  const a = await runWorker(config, logger);
  const b = await runWorker(config, logger);
  const redis = new IORedis(REDIS_URL);
  try {
    const schedulers = await redis.zrange(`${config.queue.prefix}:${config.queue.name}:repeat`, 0, -1);
    expect(schedulers).toEqual(['retention']);
  } finally {
    redis.disconnect();
    await a.close();
    await b.close();
    await dropQueue(config);
  }
});
