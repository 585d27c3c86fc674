/**
 * The minimal ari-client app bench:ari:real compares spoofguard with: per call one Redis look-up (HGET), dial
 * the subscriber, bridge both legs, answer the caller; either side hanging up ends both. At most 50 ARI
 * requests in flight. No screening, no logging, no reconciliation: the floor of doing this work through ARI.
 * Env: ARI_URL ARI_USER ARI_PASSWORD ARI_APP REDIS_URL ENDPOINT (with {to})
 */
import ari from 'ari-client';
import IORedis from 'ioredis';

type Params = Record<string, unknown>;
type Op = (p?: Params) => Promise<unknown>;
interface Client {
  channels: Record<string, Op>;
  bridges: Record<string, Op>;
  on(event: string, listener: (event: Params, ...rest: unknown[]) => void): void;
  start(app: string): Promise<void>;
}

const env = process.env as Record<string, string>;
const redis = new IORedis(env.REDIS_URL);
let inFlight = 0;
const waiting: (() => void)[] = [];
async function request(op: Op, params: Params): Promise<unknown> {
  if (inFlight >= 50) await new Promise<void>((r) => waiting.push(r));
  inFlight++;
  try {
    return await op(params);
  } catch {
    return undefined;
  } finally {
    inFlight--;
    waiting.shift()?.();
  }
}

(async () => {
  const log = console.log;
  console.log = () => undefined; // swagger-client's notice
  const client = (await ari.connect(env.ARI_URL, env.ARI_USER, env.ARI_PASSWORD)) as unknown as Client;
  console.log = log;
  const peers = new Map<string, string>();
  const gone = new Set<string>();
  const end = (id: string): void => {
    if (gone.has(id)) return;
    gone.add(id);
    const peer = peers.get(id);
    peers.delete(id);
    if (!peer) return;
    peers.delete(peer);
    const callerId = id.endsWith('-sub') ? peer : id;
    void request(client.channels.hangup, { channelId: peer });
    void request(client.bridges.destroy, { bridgeId: `${callerId}-br` });
  };
  client.on('StasisStart', (event) => {
    const channel = event.channel as { id: string; caller: { number: string } };
    const args = (event.args as string[]) ?? [];
    if (args[0] === 'dialed') {
      const callerId = args[1];
      void (async () => {
        await request(client.bridges.create, { type: 'mixing', bridgeId: `${callerId}-br` });
        await request(client.bridges.addChannel, { bridgeId: `${callerId}-br`, channel: [callerId, channel.id] });
        await request(client.channels.answer, { channelId: callerId });
      })();
      return;
    }
    void (async () => {
      await redis.hget('bench:minimal', channel.caller.number);
      const sub = `${channel.id}-sub`;
      peers.set(channel.id, sub);
      peers.set(sub, channel.id);
      await request(client.channels.originate, {
        endpoint: env.ENDPOINT.replace('{to}', args[0] ?? ''),
        app: env.ARI_APP,
        appArgs: `dialed,${channel.id}`,
        channelId: sub,
        originator: channel.id,
        timeout: 30,
      });
      await request(client.channels.ring, { channelId: channel.id });
    })();
  });
  for (const type of ['StasisEnd', 'ChannelHangupRequest', 'ChannelDestroyed'])
    client.on(type, (event) => end((event.channel as { id: string }).id));
  await client.start(env.ARI_APP);
  process.send?.('ready');
})().catch((err: Error) => {
  console.error(`minimal app: ${err.message}`);
  process.exit(1);
});
