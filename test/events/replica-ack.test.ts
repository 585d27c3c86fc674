import IORedis from 'ioredis';
import { openProducer, type EmitResult } from '../../services/events';
import { ReplicaAck } from '../../services/events/replica-ack';
import { runWorker } from '../../services/worker';
import { quietLogger, testConfig } from '../support/config';
import { flagged, until } from '../support/events';
import { SentinelGroup } from '../support/redis-topologies';

describe('ReplicaAck', () => {
  it('sends one WAIT for everyone waiting at once, and a caller that came during a WAIT waits for the next', async () => {
    const waits: { resolve: (n: number) => void }[] = [];
    const ack = new ReplicaAck(() => new Promise<number>((resolve) => waits.push({ resolve })), 1, 50);
    const first = ack.confirm();
    expect(waits).toHaveLength(1);
    // these came while the first WAIT was under way: their writes may be after it, so they share the next one
    const second = ack.confirm();
    const third = ack.confirm();
    expect(waits).toHaveLength(1);
    waits[0]?.resolve(1);
    await first;
    await until(() => waits.length === 2, 1000, 'the next WAIT');
    waits[1]?.resolve(0);
    await expect(second).rejects.toThrow('0 of 1 Redis replica(s) confirmed the write within 50 ms (WAIT)');
    await expect(third).rejects.toThrow(/0 of 1/);
    // nothing under way: the next caller sends its own at once
    const fourth = ack.confirm();
    expect(waits).toHaveLength(3);
    waits[2]?.resolve(2);
    await fourth;
  });

  it('refuses a timeout of 0 (WAIT would block for as long as the replicas stay away)', () => {
    expect(() => new ReplicaAck(async () => 1, 1, 0)).toThrow(RangeError);
  });
});

describe('events on Redis Sentinel with queue.replicasToAck 1 (a real primary, replica and three sentinels)', () => {
  let group: SentinelGroup;
  beforeAll(async () => {
    group = await SentinelGroup.start({ persistent: true });
  }, 60_000);
  afterAll(async () => {
    await group?.stop();
  });

  it('an event no replica confirmed goes to the spool as well; a failover under load loses no acknowledged event', async () => {
    const config = testConfig({
      redis: { url: group.url, connectTimeoutMs: 1000 },
      queue: { replicasToAck: 1, emitBudgetMs: 200 },
    });
    const logger = quietLogger();
    const events = openProducer(config, logger, 'replicated');
    const worker = await runWorker(config, logger);
    const acknowledged: string[] = [];
    const results: EmitResult[] = [];
    const emit = async (callId: string): Promise<EmitResult> => {
      const result = await events.producer.emit(flagged(callId));
      results.push(result);
      if (result === 'queued' || result === 'spooled') acknowledged.push(callId);
      return result;
    };
    try {
      await until(() => events.producer['connection'].status === 'ready', 10_000, 'producer connected');
      expect(await emit('replicated-1')).toBe('queued');

      // the replica away: the primary takes the add, the WAIT sees no replica, the event is spooled as well
      const primary = await group.primary();
      const replica = group.nodes.find((n) => n !== primary);
      if (!replica) throw new Error('no replica in the group');
      await replica.stop();
      expect(await emit('unconfirmed-1')).toBe('spooled');
      await replica.start(['--replicaof', '127.0.0.1', String(primary.port)]);

      // the primary killed under a steady stream of events; the sentinels promote the replica
      let streaming = true;
      const stream = (async () => {
        for (let i = 0; streaming; i++) {
          await emit(`stream-${i}`);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await until(() => acknowledged.length > 50, 10_000, 'events before the failover');
      const old = await group.killPrimaryAndWaitForFailover();
      // the old primary comes back as a replica of the new one, as an operator restarts it after a failover (it
      // loses its own data); left to the sentinels it would wait for their INFO round, up to 10 s apart, and a
      // loaded CI box took more than 60 s
      const promoted = await group.primary();
      const queuedBefore = results.filter((r) => r === 'queued').length;
      await old.start(['--replicaof', '127.0.0.1', String(promoted.port)]);
      const admin = new IORedis(promoted.port, '127.0.0.1', { lazyConnect: true });
      try {
        await until(
          async () => /slave0:.*state=online/.test(await admin.info('replication')),
          120_000,
          'the old primary in sync as a replica of the new one',
        );
      } finally {
        admin.disconnect();
      }
      // then WAIT is answered again: events are queued (not only spooled)
      await until(() => results.filter((r) => r === 'queued').length > queuedBefore + 50, 30_000, 'queued again');
      streaming = false;
      await stream;
      await until(() => events.producer.idle, 30_000, 'spool replayed');
      const missing = async (): Promise<string[]> => {
        const out: string[] = [];
        for (const callId of acknowledged) if (!(await worker.store.get(callId))) out.push(callId);
        return out;
      };
      await until(async () => (await missing()).length === 0, 30_000, 'every acknowledged event in the log').catch(
        () => undefined,
      );
      expect(await missing()).toEqual([]);
      expect(results).not.toContain('lost');
    } finally {
      await events.close();
      await worker.close();
    }
  }, 180_000);
});
