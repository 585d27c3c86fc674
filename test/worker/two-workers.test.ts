import { openProducer } from '../../services/events';
import { openLogStore } from '../../services/flagged-log';
import { exited, spawnSpoofguard } from '../support/child';
import { quietLogger, testConfig } from '../support/config';
import { dropQueue, flagged, outcome, until } from '../support/events';
import { createTestDatabase } from '../support/postgres';

it('two ARI instances and two workers on one Redis and one PostgreSQL: every call logged once, merged', async () => {
  const db = await createTestDatabase();
  const config = testConfig({ flaggedLog: { databaseUrl: db.url }, worker: { batchSize: 50, batchWaitMs: 10 } });
  const store = await openLogStore(config);
  const workers = [spawnSpoofguard(['worker'], config), spawnSpoofguard(['worker'], config)];
  const calls = 1500;
  try {
    // two producers, as two ARI apps: each call's flagged event from one, its outcome from the other, some twice
    const a = openProducer(config, quietLogger(), 'ari-a');
    const b = openProducer(config, quietLogger(), 'ari-b');
    await until(() => a.producer['connection'].status === 'ready' && b.producer['connection'].status === 'ready');
    await Promise.all(
      Array.from({ length: calls }, async (_, i) => {
        await a.producer.emit(flagged(`two-${i}`));
        await b.producer.emit(outcome(`two-${i}`, i % 2 ? 'rejected' : 'accepted'));
        if (i % 10 === 0) await b.producer.emit(flagged(`two-${i}`));
      }),
    );
    await a.close();
    await b.close();
    await until(
      async () => (await store.count({ outcome: 'rejected' })) + (await store.count({ outcome: 'accepted' })) === calls,
      60000,
      'all merged',
    );
    expect(await store.count({})).toBe(calls);
    expect(await store.count({ verdict: 'warn', brand: 'amazon' })).toBe(calls);
    expect(await store.count({ outcome: 'rejected' })).toBe(calls / 2);
    for (const worker of workers) expect(worker.output()).toContain('worker started');
  } finally {
    for (const worker of workers) worker.kill('SIGTERM');
    for (const worker of workers) await exited(worker);
    await store.close();
    await dropQueue(config);
    await db.drop();
  }
});
