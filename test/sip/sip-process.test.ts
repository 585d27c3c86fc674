import { randomUUID } from 'node:crypto';
import { exited, spawnSpoofguard } from '../support/child';
import { testConfig } from '../support/config';
import { DrachtioTestServer } from '../support/drachtio-server/server';
import { dropQueue, until } from '../support/events';
import { dropPrefix, freePort } from '../support/redis';
import { scenarioMessage } from '../support/sipp/scenario';
import { TEST_TRUNKS } from './harness';

it('`spoofguard sip` connects with its config from the environment, answers calls, and stops on SIGTERM', async () => {
  const server = new DrachtioTestServer('s3cret-from-env');
  await server.start();
  const opsPort = await freePort();
  const config = testConfig({
    sip: { drachtioHost: '127.0.0.1', drachtioPort: server.port, drachtioSecret: server.secret },
    trunks: TEST_TRUNKS,
    ops: { port: opsPort },
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
    // the role's own health and metrics endpoint
    const ops = `http://127.0.0.1:${opsPort}`;
    expect(await (await fetch(`${ops}/health/ready`)).json()).toEqual({ ok: true, checks: { redis: 'ok' } });
    await until(
      async () =>
        /spoofguard_flagged_calls_total\{source="sip",verdict="block",role="sip"\} 1/.test(
          await (await fetch(`${ops}/metrics`)).text(),
        ),
      5000,
      'blocked call counted',
    );
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    expect(metrics).toMatch(/spoofguard_screenings_total\{verdict="block",role="sip"\} 1/);
    expect(metrics).toMatch(/spoofguard_call_outcomes_total\{source="sip",outcome="blocked",role="sip"\} 1/);
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

it('`spoofguard sip` stops on SIGTERM while drachtio-server is away, without an error line', async () => {
  // nothing listens on this port: the app keeps retrying the connection until it is told to stop
  const config = testConfig({
    sip: { drachtioHost: '127.0.0.1', drachtioPort: await freePort(), drachtioSecret: 'nobody' },
    trunks: TEST_TRUNKS,
    ops: { port: 0 },
  });
  const child = spawnSpoofguard(['sip'], config);
  try {
    await until(() => child.output().includes('drachtio-server unreachable'), 20000, 'first connection attempt');
    // a retry is pending now (drachtio-srf's timer): the stop must cancel it, or the process never exits
    child.kill('SIGTERM');
    const gone = await Promise.race([
      exited(child),
      new Promise((resolve) => setTimeout(() => resolve('still running'), 8000).unref()),
    ]);
    expect(gone).toEqual({ code: 0, signal: null });
    expect(child.output()).not.toContain('failed to stop cleanly');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await dropQueue(config);
    await dropPrefix(config.redis.keyPrefix);
  }
});
