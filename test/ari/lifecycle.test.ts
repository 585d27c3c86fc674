import type { Config } from '../../services/common/config';
import { runAri } from '../../services/ari';
import { openProducer } from '../../services/events';
import { openScreening } from '../../services/screening';
import { AriTestServer } from '../support/ari-server/server';
import { exited, spawnSpoofguard } from '../support/child';
import { quietLogger, testConfig } from '../support/config';
import { dropQueue, until } from '../support/events';
import { PrivateRedis } from '../support/redis';
import { seededScreening } from '../support/screening';
import { requestsTo } from './harness';

const logger = quietLogger();
const AMAZON = { number: '+18882804331', name: 'Amazon' };
const args = ['+4930901899', 'de-national', '', ''];

it('Redis down: calls take the clean path (fail open), marked degraded', async () => {
  const redis = await PrivateRedis.start();
  const server = new AriTestServer();
  await server.start();
  const config: Config = testConfig({
    redis: { url: redis.url, connectTimeoutMs: 300 },
    ari: { url: server.url, username: server.username, password: server.password },
  });
  const screening = await seededScreening(config);
  const events = openProducer(config, logger, 'ari-redis-down');
  const ari = runAri(config, logger, screening, events.producer);
  try {
    await until(() => server.connectedApps > 0);
    await redis.stop();
    const a = server.inboundCall({ ...AMAZON, args });
    await server.waitForEvent((e) => e.type === 'StasisEnd' && (e.channel as { id: string }).id === a);
    // no warning, no prompt: the spoofed Amazon call went on in the dialplan unscreened rather than being dropped
    expect(requestsTo(server, 'POST', `/channels/${a}/continue`)).toHaveLength(1);
    expect(requestsTo(server, 'POST', '/channels')).toHaveLength(0);
    await until(() => ari.app.callsInProgress === 0);
  } finally {
    await ari.close();
    await events.close();
    await screening.close();
    await server.stop();
  }
});

it('Asterisk restarts: the app reconnects by itself and takes calls again', async () => {
  const server = new AriTestServer();
  await server.start();
  const port = server.port;
  const config: Config = testConfig({ ari: { url: server.url, username: server.username, password: server.password } });
  const screening = await openScreening(config, logger);
  const events = openProducer(config, logger, 'ari-restart');
  const ari = runAri(config, logger, screening, events.producer);
  try {
    await until(() => server.connectedApps > 0);
    await server.stop();
    await new Promise((r) => setTimeout(r, 1500)); // down long enough for ari-client's own retries to fail
    await server.start(port);
    await until(() => server.connectedApps > 0, 20000, 'reconnected after the restart');
    const a = server.inboundCall({ number: '+4930901820', name: 'Erika', args });
    await server.waitForEvent((e) => e.type === 'StasisEnd' && (e.channel as { id: string }).id === a);
    expect(requestsTo(server, 'POST', `/channels/${a}/continue`)).toHaveLength(1);
    await until(() => ari.app.callsInProgress === 0);
  } finally {
    await ari.close();
    await events.close();
    await screening.close();
    await server.stop();
    await dropQueue(config);
  }
});

it('SIGTERM during a call: new calls go back to the dialplan, the call in progress finishes, then the process exits', async () => {
  const server = new AriTestServer();
  await server.start();
  const config: Config = testConfig({
    ari: { url: server.url, username: server.username, password: server.password, digitTimeoutMs: 5000 },
    screening: { budgetMs: 1000 }, // the warned call must not fail open on a loaded machine
  });
  await (await seededScreening(config)).close();
  const child = spawnSpoofguard(['ari'], config);
  try {
    await until(() => server.connectedApps > 0, 20000, 'child connected');
    const a = server.inboundCall({ ...AMAZON, args });
    const b = `${a}-sub`;
    // the warning was heard: the choices are playing
    await server.waitForEvent(
      (e) =>
        e.type === 'PlaybackStarted' &&
        (e.playback as { target_uri: string }).target_uri === `channel:${b}` &&
        (e.playback as { media_uri: string }).media_uri === 'sound:spoofguard/choices',
    );
    child.kill('SIGTERM');
    await until(() => child.output().includes('waiting for calls in progress to end'), 10000, 'draining');
    const late = server.inboundCall({ number: '+4930901821', args });
    await until(
      () => requestsTo(server, 'POST', `/channels/${late}/continue`).length === 1,
      5000,
      'late call handed back',
    );
    expect(child.exitCode).toBeNull();
    server.press(b, '1');
    await server.waitForEvent((e) => e.type === 'ChannelEnteredBridge' && (e.channel as { id: string }).id === a);
    server.hangupFromNetwork(a);
    const { code } = await exited(child);
    expect(code).toBe(0);
  } finally {
    child.kill('SIGKILL');
    await server.stop();
    await dropQueue(config);
  }
});
