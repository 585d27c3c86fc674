import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../support/child';
import { freePort } from '../../support/redis';
import { ProcessLog } from './process-log';
import { eventually } from './suite';

const run = promisify(execFile);

export interface KamailioOptions {
  /** SG_NEXT_HOP: host:port of the next hop. */
  nextHop: string;
  /** SG_BUDGET_MS. */
  budgetMs?: number;
  node?: string;
  /** SG_FLOOR: no spoofguard, an htable look-up (the benchmark's floor). */
  floor?: boolean;
  children?: number;
  /** SG_WAIT_MS: how long ended transactions stay. */
  waitMs?: number;
  /** Shared memory, MB (-m). */
  shmMb?: number;
  /** Another configuration than kamailio/kamailio.cfg that takes the same SG_* defines (a benchmark's). */
  config?: string;
  /** More -A defines ("NAME" or "NAME=value"). */
  defines?: string[];
}

export interface KamailioPorts {
  sip: number;
  evapi: number;
  ctl: number;
}

/**
 * A private Kamailio run from the project's own kamailio/kamailio.cfg, its settings given as -A defines (only
 * addresses, ports and the budget), in the foreground, logging to stderr. kamcmd reaches it on a TCP control
 * port of its own.
 */
export class RealKamailio {
  readonly dir = mkdtempSync(join(tmpdir(), 'sg-kamailio-'));
  ports!: KamailioPorts;
  private process?: ChildProcess;
  private readonly log = new ProcessLog();

  constructor(
    private readonly bin: string,
    private readonly kamcmdBin: string,
    readonly options: KamailioOptions,
  ) {}

  get sipAddress(): string {
    return `127.0.0.1:${this.ports.sip}`;
  }

  get evapiEndpoint(): string {
    return `127.0.0.1:${this.ports.evapi}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  args(): string[] {
    const o = this.options;
    const defines: Record<string, string> = {
      SG_LISTEN: `udp:127.0.0.1:${this.ports.sip}`,
      SG_NEXT_HOP: `"${o.nextHop}"`,
      SG_EVAPI_BIND: `"127.0.0.1:${this.ports.evapi}"`,
      SG_CTL: `"tcp:127.0.0.1:${this.ports.ctl}"`,
      SG_BUDGET_MS: String(o.budgetMs ?? 100),
      SG_NODE: `"${o.node ?? 'kamailio'}"`,
      SG_CHILDREN: String(o.children ?? 4),
      SG_WAIT_MS: String(o.waitMs ?? 5000),
    };
    const a = Object.entries(defines).flatMap(([name, value]) => ['-A', `${name}=${value}`]);
    if (o.floor) a.push('-A', 'SG_FLOOR');
    for (const d of o.defines ?? []) a.push('-A', d);
    // -DD: foreground, no fork to the background; -E: log to stderr; -Y: its own runtime dir (no /run/kamailio)
    return [
      '-f',
      o.config ?? join(ROOT, 'kamailio', 'kamailio.cfg'),
      '-DD',
      '-E',
      '-m',
      String(o.shmMb ?? 512),
      '-M',
      '8',
      '-Y',
      this.dir,
      ...a,
    ];
  }

  async start(): Promise<void> {
    this.ports ??= { sip: await freePort(), evapi: await freePort(), ctl: await freePort() };
    const child = spawn(this.bin, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.log.follow(child);
    this.process = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`kamailio exited (${code ?? signal}) while starting:\n${this.output().slice(-3000)}`)),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([
      eventually(
        async () => (await this.kamcmd('core.uptime')).includes('uptime'),
        `kamailio answering kamcmd\n${this.output().slice(-2000)}`,
        15_000,
      ),
      exited,
    ]);
  }

  output(): string {
    return this.log.text();
  }

  /** One kamcmd command's output (its control socket is a TCP port of this run). */
  async kamcmd(...command: string[]): Promise<string> {
    const { stdout } = await run(this.kamcmdBin, ['-s', `tcp:127.0.0.1:${this.ports.ctl}`, ...command], {
      timeout: 5000,
    });
    return stdout;
  }

  /** The script's counters (kamailio.cfg's sg_*), by name. */
  async stats(): Promise<Record<string, number>> {
    const text = await this.kamcmd('stats.get_statistics', 'script:');
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/script:(\w+) = (\d+)/g)) out[m[1] as string] = Number(m[2]);
    return out;
  }

  /** tm's transactions still held (current includes those in their wait state, a few seconds after the end). */
  async transactions(): Promise<number> {
    const text = await this.kamcmd('tm.stats');
    return Number(/current: (\d+)/.exec(text)?.[1] ?? -1);
  }

  /** Sends a signal and waits for the process to go (SIGKILL after 10 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
