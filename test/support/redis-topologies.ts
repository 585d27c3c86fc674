import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, PrivateRedis } from './redis';

const run = promisify(execFile);

/** Real Redis Sentinel and Redis Cluster set-ups made of private redis-server processes. */
export interface Topology {
  url: string;
  stop(): Promise<void>;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const kill = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });

const cli = async (port: number, ...args: string[]): Promise<string> =>
  (await run('redis-cli', ['-p', String(port), ...args])).stdout;

/** A master and one sentinel watching it as "mymaster". */
export async function startSentinel(): Promise<Topology> {
  const master = await PrivateRedis.start();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sg-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds mymaster 5000\n`,
  );
  const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  await waitFor(
    async () => (await cli(port, 'sentinel', 'get-master-addr-by-name', 'mymaster')).includes(String(master.port)),
    'sentinel',
  );
  return {
    url: `redis+sentinel://127.0.0.1:${port}/mymaster`,
    stop: async () => {
      await kill(sentinel);
      await master.stop();
    },
  };
}

/** Three masters, slots spread over them. */
export async function startCluster(): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const nodes = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    ),
  );
  for (const port of ports) await waitFor(async () => (await cli(port, 'ping')).trim() === 'PONG', `node ${port}`);
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  for (const port of ports)
    await waitFor(async () => (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'), `cluster at ${port}`);
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    stop: async () => {
      for (const node of nodes) await kill(node);
    },
  };
}

/**
 * A primary, a replica and three sentinels (quorum 2) that fail over as production's do, for faults: stop or
 * kill the primary, see the replica promoted, bring the old primary back as a replica.
 */
export class SentinelGroup implements Topology {
  private constructor(
    readonly nodes: PrivateRedis[],
    private readonly sentinelPorts: number[],
    private readonly sentinels: ChildProcess[],
  ) {}

  static async start(options: { persistent?: boolean; downAfterMs?: number } = {}): Promise<SentinelGroup> {
    const primary = await PrivateRedis.start({ persistent: options.persistent });
    const replica = new PrivateRedis(await freePort(), options.persistent);
    await replica.start(['--replicaof', '127.0.0.1', String(primary.port)]);
    await waitFor(async () => /slave0:.*state=online/.test(await cli(primary.port, 'info', 'replication')), 'replica');
    const ports = [await freePort(), await freePort(), await freePort()];
    const sentinels = ports.map((port) => {
      const dir = mkdtempSync(join(tmpdir(), 'sg-sentinel-'));
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor mymaster 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds mymaster ${options.downAfterMs ?? 1000}`,
          // after a failover that found no replica to promote, the next may start this much later, times two
          'sentinel failover-timeout mymaster 3000',
          '',
        ].join('\n'),
      );
      return spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    });
    const group = new SentinelGroup([primary, replica], ports, sentinels);
    // every sentinel knows the primary, the replica and the other two before a fault may come
    for (const port of ports)
      await waitFor(async () => {
        const master = await cli(port, 'sentinel', 'master', 'mymaster');
        return /num-slaves\n1\n/.test(master) && /num-other-sentinels\n2\n/.test(master);
      }, `sentinel ${port}`);
    return group;
  }

  get url(): string {
    return `redis+sentinel://${this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/mymaster`;
  }

  /** The node the sentinels name as primary now. */
  async primary(): Promise<PrivateRedis> {
    const answer = await cli(this.sentinelPorts[0] as number, 'sentinel', 'get-master-addr-by-name', 'mymaster');
    const port = Number(answer.split('\n')[1]);
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`sentinel names an unknown primary: ${answer}`);
    return node;
  }

  /** Each node's port and replication role as it says, and whom the sentinels name: for an error message. */
  async describe(): Promise<string> {
    const roles = await Promise.all(
      this.nodes.map(async (n) => {
        const info = await cli(n.port, 'info', 'replication').catch((err: Error) => err.message);
        const role = /role:(\w+)/.exec(info)?.[1] ?? 'down';
        const link = /master_link_status:(\w+)/.exec(info)?.[1];
        const replicas = /connected_slaves:(\d+)/.exec(info)?.[1];
        return `${n.port} ${role}${link ? ` (link ${link})` : ''}${replicas ? ` (${replicas} replicas)` : ''}`;
      }),
    );
    const named = await this.primary().then(
      (p) => p.port,
      (err: Error) => err.message,
    );
    return `${roles.join(', ')}; sentinels name ${named}`;
  }

  /** Every node down (the sentinels stay): Redis is away, nothing to fail over to. */
  async stopAll(): Promise<void> {
    for (const node of this.nodes) await node.stop();
  }

  /** The primary first, then the replica following it: the roles they had. */
  async startAll(): Promise<void> {
    const primary = await this.primary();
    await primary.start();
    for (const node of this.nodes)
      if (node !== primary) await node.start(['--replicaof', '127.0.0.1', String(primary.port)]);
  }

  /** Kills the primary and waits until the sentinels have promoted the replica; returns the old primary. */
  async killPrimaryAndWaitForFailover(timeoutMs = 30_000): Promise<PrivateRedis> {
    const old = await this.primary();
    await old.stop();
    await waitFor(async () => (await this.primary()) !== old, 'sentinel failover', timeoutMs);
    const promoted = await this.primary();
    await waitFor(async () => (await cli(promoted.port, 'role')).startsWith('master'), 'promoted replica', timeoutMs);
    return old;
  }

  async stop(): Promise<void> {
    for (const sentinel of this.sentinels) await kill(sentinel);
    for (const node of this.nodes) await node.stop();
  }
}
