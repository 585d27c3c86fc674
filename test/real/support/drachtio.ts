import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../support/child';
import { freePort } from '../../support/redis';
import { ProcessLog } from './process-log';
import { eventually } from './suite';

export interface DrachtioPorts {
  /** The SIP port (UDP and TCP) callers send to. */
  sip: number;
  /** The admin (control) port the app connects to. */
  admin: number;
  /** Prometheus metrics (the shipped config's <monitoring>). */
  metrics: number;
}

/**
 * A private drachtio-server run from the project's own `config/drachtio.conf.xml`, with only its addresses,
 * ports and admin secret rewritten (127.0.0.1 instead of every interface).
 */
export class RealDrachtio {
  readonly dir = mkdtempSync(join(tmpdir(), 'sg-drachtio-'));
  readonly secret = `test-${Math.random().toString(36).slice(2)}`;
  ports!: DrachtioPorts;
  private process?: ChildProcess;
  private readonly log = new ProcessLog();

  /** host: the loopback address drachtio-server's SIP contact binds (the IVR tells the SIP front by it). */
  constructor(
    private readonly bin: string,
    private readonly host = '127.0.0.1',
  ) {}

  get sipAddress(): string {
    return `${this.host}:${this.ports.sip}`;
  }

  async start(): Promise<void> {
    this.ports ??= { sip: await freePort(), admin: await freePort(), metrics: await freePort() };
    const shipped = readFileSync(join(ROOT, 'config', 'drachtio.conf.xml'), 'utf8');
    const xml = shipped
      .replace(/<admin port="\d+" secret="[^"]*">[^<]*<\/admin>/, () => {
        return `<admin port="${this.ports.admin}" secret="${this.secret}">127.0.0.1</admin>`;
      })
      .replace(/<contact>sip:\*:\d+;/, `<contact>sip:${this.host}:${this.ports.sip};`)
      .replace(
        /<prometheus port="\d+">[^<]*<\/prometheus>/,
        `<prometheus port="${this.ports.metrics}">127.0.0.1</prometheus>`,
      );
    for (const expected of [`${this.ports.admin}`, `${this.host}:${this.ports.sip}`, `${this.ports.metrics}`])
      if (!xml.includes(expected)) throw new Error(`config/drachtio.conf.xml: could not rewrite ${expected}`);
    const file = join(this.dir, 'drachtio.conf.xml');
    writeFileSync(file, xml);
    const child = spawn(this.bin, ['-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.log.follow(child);
    this.process = child;
    await eventually(() => this.listening(), `drachtio-server listening\n${this.output().slice(-2000)}`, 15_000);
  }

  output(): string {
    return this.log.text();
  }

  /** SIGTERM, then waits for the process to go. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * One Prometheus metric's value (summed over its labels). v0.9.4 sets drachtio_proxy_cores as calls come and
   * go, but drachtio_app_connections and drachtio_stable_dialogs only on its 30 s watchdog tick.
   */
  async metric(name: string): Promise<number> {
    const text = await httpText(`http://127.0.0.1:${this.ports.metrics}/metrics`);
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
    }
    return sum;
  }

  /** Proxied calls drachtio-server is still setting up (its gauge moves with every call). */
  proxies(): Promise<number> {
    return this.metric('drachtio_proxy_cores');
  }

  /**
   * Dialogs drachtio-server holds (B2BUA legs, and proxied dialogs it record-routed). v0.9.4 sets this gauge
   * only on its 30 s watchdog tick: read it a tick after the last call ended.
   */
  async dialogsAfterNextTick(): Promise<number> {
    await new Promise((r) => setTimeout(r, 31_000));
    return this.metric('drachtio_stable_dialogs');
  }

  private listening(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port: this.ports.admin });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }
}

/** GET on a connection of its own: drachtio-server's metrics server closes kept-alive sockets under fetch. */
export function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    request.on('error', reject);
  });
}
