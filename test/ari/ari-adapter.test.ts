import { AriConnection } from '../../services/ari/ari-adapter';
import { AriTestServer } from '../support/ari-server/server';
import { quietLogger } from '../support/config';
import { until } from '../support/events';

describe('ARI adapter', () => {
  let server: AriTestServer;
  let ari: AriConnection;
  beforeEach(async () => {
    server = new AriTestServer();
    await server.start();
  });
  afterEach(async () => {
    await ari.stop();
    await server.stop();
  });

  const connect = async (overrides: Partial<ConstructorParameters<typeof AriConnection>[0]> = {}): Promise<void> => {
    ari = new AriConnection(
      {
        url: server.url,
        username: server.username,
        password: server.password,
        app: 'spoofguard',
        requestTimeoutMs: 2000,
        maxInFlight: 50,
        ...overrides,
      },
      quietLogger(),
    );
    await ari.start();
  };

  it('gives up on a request that gets no answer within the timeout', async () => {
    await connect({ requestTimeoutMs: 200 });
    const a = server.inboundCall({ number: '+4930901820', args: ['+4930901899'] });
    server.responseDelayMs = 1000;
    await expect(ari.answer(a)).rejects.toThrow(/ARI channels.answer: .*no answer within 200 ms/);
  });

  it('a request that timed out keeps its place under the cap until Asterisk has answered it', async () => {
    await connect({ maxInFlight: 2, requestTimeoutMs: 100 });
    const a = server.inboundCall({ number: '+4930901820', args: ['+4930901899'] });
    server.responseDelayMs = 400;
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => ari.ring(a)));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill('rejected'));
    await until(() => server.requestsInProgress === 0, 5000, 'Asterisk answered every request');
    // what Asterisk had at once, not what the app still waited for
    expect(server.mostRequestsAtOnce).toBe(2);
  });

  it('lets an urgent request (a hand-back) in before the requests waiting', async () => {
    await connect({ maxInFlight: 1 });
    const a = server.inboundCall({ number: '+4930901820', args: ['+4930901899'] });
    server.responseDelayMs = 50;
    const order: string[] = [];
    server.onRequest((method, path) => order.push(`${method} ${path.replace(a, 'A')}`));
    await Promise.all([ari.ring(a), ari.variable(a, 'X'), ari.variable(a, 'Y'), ari.continueInDialplan(a)]);
    expect(order).toEqual([
      'POST /channels/A/ring',
      'POST /channels/A/continue',
      'GET /channels/A/variable',
      'GET /channels/A/variable',
    ]);
  });

  it('never has more requests in flight than the cap', async () => {
    await connect({ maxInFlight: 3 });
    const a = server.inboundCall({ number: '+4930901820', args: ['+4930901899'] });
    server.responseDelayMs = 50;
    let inFlight = 0;
    let most = 0;
    server.onRequest(() => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => inFlight--, 50);
    });
    await Promise.all(Array.from({ length: 12 }, () => ari.ring(a)));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1);
  });

  it('rejects a request for a channel that is gone, with the server’s reason', async () => {
    await connect();
    await expect(ari.answer('no-such-channel')).rejects.toThrow(/Channel not found/);
  });

  it('keeps retrying while Asterisk is down, and connects when it comes up', async () => {
    const port = server.port;
    await server.stop();
    ari = new AriConnection(
      {
        url: `http://127.0.0.1:${port}`,
        username: server.username,
        password: server.password,
        app: 'spoofguard',
        requestTimeoutMs: 2000,
        maxInFlight: 50,
      },
      quietLogger(),
    );
    const connected = ari.start();
    await new Promise((r) => setTimeout(r, 1500));
    expect(ari.connected).toBe(false);
    await server.start(port);
    await connected;
    expect(ari.connected).toBe(true);
  });
});
