import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { eventually } from '../test/real/support/suite';
import { freePort } from '../test/support/redis';

/**
 * The chaos run's own PostgreSQL (its Redis is test/support's PrivateRedis, with AOF): started from the
 * machine's binaries in a folder of the run, on a port of its own, so that restarting it never touches the
 * machine's shared server.
 */

function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, bin))) return join(dir, bin);
  return undefined;
}

/** The PostgreSQL server binaries (Debian keeps them off PATH, under /usr/lib/postgresql/<major>/bin). */
function postgresBin(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  if (onPath('initdb')) return join(onPath('initdb') as string, '..');
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((m) => existsSync(join(root, m, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length ? join(root, majors[0], 'bin') : undefined;
}

/** Why the chaos run cannot start its servers here, or undefined when it can. */
export function missingServers(): string | undefined {
  const missing = [];
  if (!onPath('redis-server')) missing.push('redis-server');
  if (!postgresBin()) missing.push('PostgreSQL server binaries (initdb, pg_ctl; or set PG_BIN)');
  return missing.length ? `not found: ${missing.join(', ')}` : undefined;
}

/** A PostgreSQL cluster of the run's own (initdb as the `postgres` user when run as root, which initdb refuses). */
export class OwnPostgres {
  port = 0;
  private readonly bin: string;
  private readonly data: string;

  constructor(private readonly dir: string) {
    const bin = postgresBin();
    if (!bin) throw new Error('chaos: PostgreSQL server binaries not found (set PG_BIN)');
    this.bin = bin;
    this.data = join(dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private run(tool: string, args: string[]): void {
    const asRoot = process.getuid?.() === 0;
    const [cmd, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(this.bin, tool), ...args]]
      : [join(this.bin, tool), args];
    execFileSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    if (!existsSync(this.data)) {
      mkdirSync(this.dir, { recursive: true });
      if (process.getuid?.() === 0) {
        const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
        chownSync(this.dir, uid, gid);
      }
      this.run('initdb', ['-D', this.data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    }
    this.run('pg_ctl', [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'postgres.log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=on`,
      '-w',
      'start',
    ]);
    await this.ready();
  }

  private ready(): Promise<void> {
    return eventually(
      async () => {
        const client = new Client({ connectionString: this.url });
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      `chaos: PostgreSQL on port ${this.port} answering`,
      20_000,
    );
  }

  /** A fast restart: open connections are cut, transactions in flight roll back. */
  async restart(): Promise<void> {
    this.run('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', 'restart']);
    await this.ready();
  }

  stop(): void {
    if (existsSync(join(this.data, 'postmaster.pid')))
      this.run('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', 'stop']);
  }
}

/** A small tmpfs for the spool (root only): writes fail with ENOSPC once it is full. Undefined when not root. */
export function mountSmallDisk(dir: string, size: string): (() => void) | undefined {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return () => execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
}
