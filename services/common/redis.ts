import IORedis, { type Redis as RedisClient, type RedisOptions } from 'ioredis';

/** The only module that imports ioredis; everything else receives connections made here. */
export type Redis = RedisClient;

export type RedisRole =
  /** On the call path: commands fail at once while disconnected instead of queueing, so calls fail open. */
  | 'call-path'
  /** Admin work (CLI, console): commands wait for a reconnect. */
  | 'admin'
  /** Pub/sub listener. */
  | 'subscriber'
  /** BullMQ connections: BullMQ requires maxRetriesPerRequest null for workers. */
  | 'queue';

export interface RedisSettings {
  url: string;
  connectTimeoutMs: number;
}

/** Reconnect forever: 50 ms doubling, capped at 2 s. */
const retryForever = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 6), 2000);

export function createRedis(settings: RedisSettings, role: RedisRole, connectionName = `spoofguard-${role}`): Redis {
  const options: RedisOptions = {
    connectionName,
    connectTimeout: settings.connectTimeoutMs,
    retryStrategy: retryForever,
    lazyConnect: false,
  };
  if (role === 'call-path') {
    options.enableOfflineQueue = false;
    options.maxRetriesPerRequest = 0;
  }
  if (role === 'queue') options.maxRetriesPerRequest = null;
  const client = new IORedis(settings.url, options);
  // ioredis emits 'error' on every failed reconnect; the owner logs state changes, so keep the process alive.
  client.on('error', () => undefined);
  return client;
}

/** Waits until the client is ready, or rejects after timeoutMs. */
export function redisReady(client: Redis, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}
