import { logErrorKindsOnce } from './error-kinds';
import type { Logger } from './logger';
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

export type RedisTopology =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      name: string;
      password?: string;
      db?: number;
      tls: boolean;
    }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; password?: string; tls: boolean };

const hostPorts = (list: string, defaultPort: number): { host: string; port: number }[] =>
  list.split(',').map((item) => {
    const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(item.trim());
    if (!match?.[1]) throw new Error(`not host[:port]: ${item}`);
    return { host: match[1], port: match[2] ? Number(match[2]) : defaultPort };
  });

/**
 * Redis URLs, one per topology:
 *   redis://[:password@]host:6379[/db]      rediss:// for TLS
 *   redis+sentinel://[:password@]host1:26379,host2:26379/<master name>[?db=N]   (rediss+sentinel:// for TLS)
 *   redis+cluster://[:password@]host1:6379,host2:6379                         (rediss+cluster:// for TLS)
 * The password is the data nodes' (ioredis passes it to the master and the cluster nodes).
 */
export function parseRedisUrl(url: string): RedisTopology {
  const match = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^@/]*)@)?([^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(url);
  if (!match) return { kind: 'single', url };
  const [, scheme, kind, auth, hosts, path, query] = match;
  const tls = scheme === 'rediss';
  const password = auth ? decodeURIComponent(auth.replace(/^[^:]*:/, '')) || undefined : undefined;
  if (kind === 'cluster')
    return { kind, nodes: hostPorts(hosts as string, 6379), tls, ...(password ? { password } : {}) };
  const name = decodeURIComponent(path ?? '');
  if (!name) throw new Error('a redis+sentinel:// URL names the master after the hosts: …/mymaster');
  const db = new URLSearchParams(query ?? '').get('db');
  return {
    kind: 'sentinel',
    sentinels: hostPorts(hosts as string, 26379),
    name,
    tls,
    ...(password ? { password } : {}),
    ...(db ? { db: Number(db) } : {}),
  };
}

export function createRedis(
  settings: RedisSettings,
  role: RedisRole,
  connectionName = `spoofguard-${role}`,
  logger?: Logger,
): Redis {
  const options: RedisOptions = {
    connectionName,
    connectTimeout: settings.connectTimeoutMs,
    retryStrategy: retryForever,
    lazyConnect: false,
    // disconnect() waits this long for the socket to close; a socket that died with Redis never reports it,
    // and the default 2 s timer then held every shutdown while Redis was down
    disconnectTimeout: 200,
  };
  if (role === 'call-path') {
    options.enableOfflineQueue = false;
    options.maxRetriesPerRequest = 0;
  }
  if (role === 'queue') options.maxRetriesPerRequest = null;
  const topology = parseRedisUrl(settings.url);
  let client: Redis;
  if (topology.kind === 'sentinel') {
    client = new IORedis({
      ...options,
      sentinels: topology.sentinels,
      name: topology.name,
      ...(topology.password ? { password: topology.password } : {}),
      ...(topology.db !== undefined ? { db: topology.db } : {}),
      ...(topology.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      sentinelRetryStrategy: retryForever,
      // a failover is heard from the sentinels (+switch-master) at once, not when the old primary's socket dies
      failoverDetector: true,
      // a primary demoted under a live connection answers writes with READONLY: reconnect to the new one
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    });
  } else if (topology.kind === 'cluster') {
    // a Cluster client answers the same commands; every key of one deployment carries one hash tag
    client = new IORedis.Cluster(topology.nodes, {
      clusterRetryStrategy: retryForever,
      enableOfflineQueue: options.enableOfflineQueue ?? true,
      ...(options.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: options.maxRetriesPerRequest } : {}),
      redisOptions: {
        connectionName,
        disconnectTimeout: options.disconnectTimeout,
        connectTimeout: settings.connectTimeoutMs,
        ...(topology.password ? { password: topology.password } : {}),
        ...(topology.tls ? { tls: {} } : {}),
        ...(options.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: options.maxRetriesPerRequest } : {}),
      },
    }) as unknown as Redis;
  } else {
    client = new IORedis(settings.url, options);
  }
  // ioredis emits 'error' on every failed reconnect: each kind is said once (a wrong password must not hide
  // behind retries), and a listener keeps the process alive
  client.on('error', logger ? logErrorKindsOnce(logger, `Redis (${connectionName})`) : () => undefined);
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
