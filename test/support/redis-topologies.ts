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
