import { randomUUID } from 'node:crypto';
import { exited, spawnSpoofguard } from '../support/child';
import { testConfig } from '../support/config';
import { DrachtioTestServer } from '../support/drachtio-server/server';
import { dropQueue, until } from '../support/events';
import { dropPrefix } from '../support/redis';
import { scenarioMessage } from '../support/sipp/scenario';
import { TEST_TRUNKS } from './harness';

it('`spoofguard sip` connects with its config from the environment, answers calls, and stops on SIGTERM', async () => {
  const server = new DrachtioTestServer('s3cret-from-env');
  await server.start();
  const config = testConfig({
    sip: { drachtioHost: '127.0.0.1', drachtioPort: server.port, drachtioSecret: server.secret },
    trunks: TEST_TRUNKS,
  });
  const child = spawnSpoofguard(['sip'], config);
  try {
    await server.waitRouted('invite', 20000).catch((err: Error) => {
      throw new Error(`${err.message}\n${child.output()}`);
    });
    // no lists seeded on this prefix: the 110 rule needs none
    const answer = await server.deliver(
      scenarioMessage('caller-110.xml', { service: '+4930901820', callId: randomUUID() }),
      { address: '192.0.2.10', port: 5060 },
    );
    expect(answer).toMatchObject({ kind: 'response', status: 608 });
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(child.output()).toContain('connected to drachtio-server');
    await until(() => server.routed('invite') === 0, 2000, 'route gone');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await server.stop();
    await dropQueue(config);
    await dropPrefix(config.redis.keyPrefix);
  }
});
