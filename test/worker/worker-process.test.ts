import type { Config } from '../../services/common/config';
import { type JobType, Queue } from 'bullmq';
import { openProducer } from '../../services/events';
import { openLogStore, type LogStore } from '../../services/flagged-log';
import { quietLogger, REDIS_URL, testConfig } from '../support/config';
import { exited, spawnSpoofguard } from '../support/child';
import { dropQueue, flagged, until } from '../support/events';

const logger = quietLogger();
let config: Config;
let store: LogStore;

async function emitMany(n: number, prefix: string): Promise<void> {
  const { producer, close } = openProducer(config, logger, `emit-${prefix}`);
  await until(() => producer['connection'].status === 'ready');
  const results = await Promise.all(Array.from({ length: n }, (_, i) => producer.emit(flagged(`${prefix}-${i}`))));
  expect(results.filter((r) => r !== 'queued' && r !== 'spooled')).toEqual([]);
  await close();
}

/** Jobs of flagged-call events in these states (the retention scheduler's job left out). */
async function eventJobs(states: JobType[]): Promise<number> {
  const queue = new Queue(config.queue.name, { connection: { url: REDIS_URL }, prefix: config.queue.prefix });
  const jobs = await queue.getJobs(states);
  await queue.close();
  return jobs.filter((j) => j && j.name !== 'retention').length;
}

beforeEach(async () => {
  // small batches and short locks, so a kill lands mid-batch and a successor takes over quickly
  config = testConfig({
    worker: { batchSize: 50, batchWaitMs: 30, concurrency: 100, lockDurationMs: 1500, stalledIntervalMs: 500 },
  });
  store = await openLogStore(config);
});
afterEach(async () => {
  await store.close();
  await dropQueue(config);
});

it('a worker killed with SIGKILL mid-batch: its successor stores every event, none twice', async () => {
  const total = 3000;
  await emitMany(total, 'kill');
  const first = spawnSpoofguard(['worker'], config);
  await until(async () => (await store.count({})) > 200, 30000, 'first batches stored');
  first.kill('SIGKILL');
  expect((await exited(first)).signal).toBe('SIGKILL');
  const storedByFirst = await store.count({});
  expect(storedByFirst).toBeLessThan(total);

  const second = spawnSpoofguard(['worker'], config);
  try {
    await until(async () => (await store.count({})) === total, 60000, 'all events stored');
    await until(async () => (await eventJobs(['active', 'waiting', 'delayed', 'failed'])) === 0, 15000, 'queue empty');
    // one row a call: the primary key and the idempotent upsert make a second write of a call merge into it
    expect(await store.count({})).toBe(total);
    expect(await store.count({ brand: 'amazon', verdict: 'warn' })).toBe(total);
  } finally {
    second.kill('SIGTERM');
    await exited(second);
  }
});

it('SIGTERM: the worker writes the batch in hand and exits cleanly', async () => {
  await emitMany(2000, 'term');
  const worker = spawnSpoofguard(['worker'], config);
  await until(async () => (await store.count({})) > 100, 30000, 'first batches stored');
  worker.kill('SIGTERM');
  const { code } = await exited(worker);
  expect(code).toBe(0);
  expect(worker.output()).toContain('"step":"worker","msg":"stopped"');
  // nothing was left half done: every event is either stored or still waiting, none stuck active
  expect(await eventJobs(['active'])).toBe(0);
  expect((await store.count({})) + (await eventJobs(['waiting', 'prioritized']))).toBe(2000);
});
