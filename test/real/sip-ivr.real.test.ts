import type { Config } from '../../services/common/config';
import { openLogStore, type LogStore } from '../../services/flagged-log';
import { exited, spawnSpoofguard } from '../support/child';
import { testConfig } from '../support/config';
import { freePort, PrivateRedis } from '../support/redis';
import { RealAsterisk } from './support/asterisk';
import { RealDrachtio } from './support/drachtio';
import { uacScenario } from './support/sip-scenarios';
import { startSipp, subscriberScenario } from './support/sipp';
import { describeReal, eventually } from './support/suite';

/**
 * The whole chain on real servers: a spoofed Amazon call reaches drachtio-server, the SIP front sends it to
 * the warning IVR (a real Asterisk 22 running the project's asterisk/*.conf with `spoofguard ari`) with its
 * signed verdict; the subscriber hears the warning and presses 2; the caller gets busy. The flagged-call log
 * holds one record: the SIP front's warning and the IVR's outcome under the SIP front's id, findable by the
 * caller's Call-ID and by the Asterisk channel.
 */
describeReal(['drachtio', 'asterisk'], 'SIP front and warning IVR together (drachtio-server → Asterisk 22)', (env) => {
  let drachtio: RealDrachtio;
  let asterisk: RealAsterisk;
  let redis: PrivateRedis;
  let config: Config;
  let store: LogStore;
  let spoofguard: ReturnType<typeof spawnSpoofguard>;
  let subscriberPort: number;
  const CALLED = '+4930901820';

  beforeAll(async () => {
    subscriberPort = await freePort();
    asterisk = new RealAsterisk(env, { subscriberPort });
    // the SIP front has an address of its own: the IVR's sipfront endpoint is identified by it
    drachtio = new RealDrachtio(env.drachtioBin, '127.0.0.2');
    redis = await PrivateRedis.start();
    await asterisk.start();
    await drachtio.start();
    config = testConfig({
      console: { port: await freePort() },
      screening: { budgetMs: 500 },
      redis: { url: redis.url },
      verdictHeader: { key: 'chain-verdict-key-0123456789abcdef', maxAgeSec: 30 },
      ari: {
        url: asterisk.ariUrl,
        username: asterisk.ariUser,
        password: asterisk.ariPassword,
        defaultLanguage: 'en',
        digitTimeoutMs: 1000,
        dialTimeoutSec: 5,
      },
      sip: {
        enabled: true,
        drachtioHost: '127.0.0.1',
        drachtioPort: drachtio.ports.admin,
        drachtioSecret: drachtio.secret,
        nextHop: `sip:127.0.0.1:${await freePort()}`,
        warningIvrUri: `sip:127.0.0.1:${asterisk.ports.sip}`,
      },
    });
    store = await openLogStore(config);
    spoofguard = spawnSpoofguard(['serve'], config);
    await eventually(
      async () => {
        const apps = (await (await asterisk.ari('GET', '/applications')).json()) as { name: string }[];
        // drachtio-server's own app gauge is refreshed only every 30 s: the app's log line says it at once
        return (
          apps.some((a) => a.name === 'spoofguard') && spoofguard.output().includes('connected to drachtio-server')
        );
      },
      `spoofguard serve connected to Asterisk and drachtio-server\n${spoofguard.output().slice(-2000)}`,
      30_000,
    );
  }, 90_000);

  afterAll(async () => {
    if (spoofguard) {
      spoofguard.kill('SIGKILL');
      await exited(spoofguard);
    }
    await store?.close();
    await drachtio?.close();
    await asterisk?.close();
    await redis?.stop();
  });

  it('warned, the subscriber presses 2: the caller gets busy, one record holds the warning and the outcome', async () => {
    const subscriber = await startSipp(
      env,
      subscriberScenario({ kind: 'answer', digit: '2', digitAfterMs: 1500, then: 'wait-bye' }, env.dtmfPcaps),
      { port: subscriberPort },
    );
    const caller = await startSipp(
      env,
      uacScenario({ number: '+18882804331', name: 'Amazon', called: CALLED, end: { kind: 'refused', status: 486 } }),
      { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
    );
    const callerExit = await caller.done;
    const subscriberExit = await Promise.race([
      subscriber.done,
      new Promise<number>((r) => setTimeout(() => r(-2), 15_000)),
    ]);
    subscriber.stop();
    if (callerExit !== 0 || subscriberExit !== 0)
      throw new Error(
        `sipp: caller ${callerExit}, subscriber ${subscriberExit}\n${asterisk.output.slice(-3000)}\n${caller.output().slice(-2000)}\n${subscriber.output().slice(-2000)}\n${spoofguard.output().slice(-4000)}`,
      );

    const sipCallId = `1-${caller.process.pid}@127.0.0.1`;
    let record: Record<string, unknown> | undefined;
    await eventually(
      async () => {
        const page = await store.list({ sipCallId }, { limit: 5 });
        record = page.records[0] as unknown as Record<string, unknown> | undefined;
        return page.records.length === 1 && record?.outcome === 'rejected';
      },
      `one record of ${sipCallId} with the outcome\n${spoofguard.output().slice(-3000)}`,
      20_000,
    );
    expect(record).toMatchObject({ source: 'sip', verdict: 'warn', brand: 'amazon', outcome: 'rejected', sipCallId });
    expect(String(record?.callId)).toMatch(/^sip:[0-9a-f-]{36}\.[0-9a-z]+$/);
    expect(record?.channelId).toEqual(expect.any(String));
    expect(await store.count({ channelId: record?.channelId as string })).toBe(1);
    await eventually(async () => {
      const left = await asterisk.leftovers();
      return left.channels === 0 && left.bridges === 0 && (await drachtio.proxies()) === 0;
    }, 'nothing left in Asterisk and drachtio-server');
  }, 60_000);
});
