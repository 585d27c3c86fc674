import { parseRedisUrl } from '../../services/common/redis';
import { openProducer } from '../../services/events';
import { openListAdmin, openScreening } from '../../services/screening';
import { seedEntries } from '../../services/screening/seed';
import { runWorker } from '../../services/worker';
import { quietLogger, testConfig } from '../support/config';
import { flagged, until } from '../support/events';
import { startCluster, startSentinel, type Topology } from '../support/redis-topologies';

const logger = quietLogger();

it('reads the three kinds of Redis URL', () => {
  expect(parseRedisUrl('redis://:pw@h:6380/2')).toEqual({ kind: 'single', url: 'redis://:pw@h:6380/2' });
  expect(parseRedisUrl('redis+sentinel://:s3cret@s1:26379,s2/mymaster?db=3')).toEqual({
    kind: 'sentinel',
    sentinels: [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
    ],
    name: 'mymaster',
    password: 's3cret',
    db: 3,
    tls: false,
  });
  expect(parseRedisUrl('rediss+cluster://n1:7000,[::1]:7001')).toEqual({
    kind: 'cluster',
    nodes: [
      { host: 'n1', port: 7000 },
      { host: '::1', port: 7001 },
    ],
    tls: true,
  });
  expect(() => parseRedisUrl('redis+sentinel://s1:26379')).toThrow(/names the master/);
  expect(() => testConfig({ redis: { url: 'redis+cluster://n1:7000' }, queue: { prefix: 'sgq' } })).toThrow(
    /queue.prefix: with redis\+cluster/,
  );
  // a Cluster client cannot WAIT on the node that holds the queue
  expect(() => testConfig({ redis: { url: 'redis+cluster://n1:7000' }, queue: { replicasToAck: 1 } })).toThrow(
    /queue.replicasToAck: needs one primary/,
  );
  expect(() =>
    testConfig({ redis: { url: 'redis+sentinel://s1:26379/mymaster' }, queue: { replicasToAck: 1 } }),
  ).not.toThrow();
});

describe.each([
  ['Sentinel', startSentinel],
  ['Cluster', startCluster],
] as const)('on Redis %s', (_name, start) => {
  let topology: Topology;
  beforeAll(async () => {
    topology = await start();
  }, 60000);
  afterAll(async () => {
    await topology?.stop();
  });

  it('seeds and screens, and a flagged call goes through the queue into the log', async () => {
    const config = testConfig({ redis: { url: topology.url, connectTimeoutMs: 2000 } });
    const lists = await openListAdmin(config, logger);
    await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
    await lists.close();
    const screening = await openScreening(config, logger);
    const events = openProducer(config, logger, 'topology');
    const worker = await runWorker(config, logger);
    try {
      const verdict = await screening.engine.screen({ from: '"Amazon" <sip:+18882804331@x>', trunk: 'de-national' });
      expect(verdict).toMatchObject({ verdict: 'warn', brand: 'amazon', degraded: false });
      await until(() => events.producer['connection'].status === 'ready', 10000, 'producer connected');
      // the first add may take longer than the emit budget (BullMQ loads its scripts on each node): then it is
      // spooled and replayed, which is the design
      expect(['queued', 'spooled']).toContain(await events.producer.emit(flagged('topology-1')));
      await until(async () => (await worker.store.get('topology-1')) !== undefined, 15000, 'stored');
    } finally {
      await events.close();
      await worker.close();
      await screening.close();
    }
  });
});
