import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../support/redis';
import { ROOT } from '../../support/child';

const run = promisify(execFile);

/** Where the real servers are: ASTERISK_BIN, DRACHTIO_BIN … pointed at your own builds (docs/TESTING.md). */
export interface RealServerEnv {
  asteriskBin?: string;
  asteriskModules?: string;
  asteriskData?: string;
  drachtioBin?: string;
  /** Kamailio 5.6 and its kamcmd (Debian's kamailio package puts both in /usr/sbin). */
  kamailioBin?: string;
  kamcmdBin?: string;
  sippBin: string;
  dtmfPcaps: string;
}

/** A program on PATH (or in /usr/sbin, where Debian puts Kamailio), or undefined. */
function onPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, name)).find((file) => isExecutable(file));
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function realServerEnv(): RealServerEnv {
  return {
    asteriskBin: process.env.ASTERISK_BIN || undefined,
    asteriskModules: process.env.ASTERISK_MODULES || undefined,
    asteriskData: process.env.ASTERISK_DATA || undefined,
    drachtioBin: process.env.DRACHTIO_BIN || undefined,
    kamailioBin: process.env.KAMAILIO_BIN || onPath('kamailio'),
    kamcmdBin: process.env.KAMCMD_BIN || onPath('kamcmd'),
    sippBin: process.env.SIPP_BIN || '/usr/bin/sipp',
    dtmfPcaps: process.env.SIPP_DTMF_PCAPS || '/usr/share/sip-tester',
  };
}

/**
 * Why `asteriskBin` cannot run on this host, or undefined when it can: a binary built for instructions this
 * CPU lacks (Asterisk's BUILD_NATIVE compiles with -march=native; one built on an AVX-512 machine dies with
 * SIGILL elsewhere) stops at once. Asterisk is started for 1.5 s from an empty folder of its own, no modules.
 */
export function asteriskCannotRun(asteriskBin: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'sg-asterisk-probe-'));
  try {
    const run = join(dir, 'run');
    mkdirSync(run);
    writeFileSync(
      join(dir, 'asterisk.conf'),
      `[directories]\nastetcdir => ${dir}\nastdbdir => ${run}\nastspooldir => ${run}\nastrundir => ${run}\n` +
        `astlogdir => ${run}\nastvarlibdir => ${run}\nastdatadir => ${run}\n[options]\nnofork = yes\n`,
    );
    writeFileSync(join(dir, 'modules.conf'), '[modules]\nautoload = no\n');
    const probe = spawnSync(asteriskBin, ['-f', '-C', join(dir, 'asterisk.conf')], { timeout: 1500, stdio: 'ignore' });
    if (probe.signal === 'SIGILL')
      return `ASTERISK_BIN (${asteriskBin}) dies with SIGILL on this CPU: it was built for instructions this CPU lacks (Asterisk's BUILD_NATIVE); rebuild it without -march=native`;
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Modules that decline without a config of their own (README of the real servers), and ones spoofguard never uses. */
const NOLOAD =
  `app_agent_pool app_alarmreceiver app_amd app_confbridge app_festival app_followme app_page app_queue cdr_csv
cdr_custom cdr_manager cdr_pgsql cdr_sqlite3_custom cel_custom cel_manager cel_pgsql cel_sqlite3_custom chan_iax2
chan_unistim pbx_ael pbx_dundi res_calendar res_config_pgsql res_hep res_hep_pjsip res_hep_rtcp res_parking
res_phoneprov res_pjsip_notify res_pjsip_phoneprov_provider res_prometheus res_stun_monitor app_voicemail
app_minivm res_config_curl res_config_sqlite3 chan_websocket chan_audiosocket res_audiosocket`
    .split(/\s+/)
    .filter(Boolean);

export interface AsteriskPorts {
  /** SIP (UDP) of the project's transport. */
  sip: number;
  /** ARI (http.conf bindport). */
  http: number;
}

export interface AsteriskOptions {
  /** Where the subscribers endpoint's aor points: the sipp subscriber's port on 127.0.0.1. */
  subscriberPort: number;
  ariPassword?: string;
  /** asterisk.conf entityid: two boxes on one machine share their MAC-derived default. */
  entityId?: string;
  /** The SIP front's address: the `sipfront` endpoint (context from-sipfront) is identified by it. */
  sipFrontAddress?: string;
  /** Sections added after the project's own (benchmarks: endpoints and contexts of the apps compared). */
  extra?: { pjsip?: string; extensions?: string };
  /** http.conf sessionlimit, for a benchmark that runs several ARI apps against one Asterisk. */
  httpSessionLimit?: number;
}

/**
 * A private Asterisk 22 run from the project's own `asterisk/*.conf`, with only addresses, ports and the ARI
 * password rewritten; its own folder, ports and control socket. Test-only files (asterisk.conf, modules.conf,
 * logger.conf) are written beside them, since the project leaves those to the installation.
 */
export class RealAsterisk {
  readonly dir = mkdtempSync(join(tmpdir(), 'sg-asterisk-'));
  readonly ariUser = 'spoofguard';
  readonly ariPassword: string;
  ports!: AsteriskPorts;
  private process?: ChildProcess;
  private log = '';

  constructor(
    private readonly env: Required<Pick<RealServerEnv, 'asteriskBin' | 'asteriskModules' | 'asteriskData'>>,
    private readonly options: AsteriskOptions,
  ) {
    this.ariPassword = options.ariPassword ?? 'real-test-secret';
  }

  get ariUrl(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  get output(): string {
    return this.log;
  }

  /** CPU seconds Asterisk has used so far (user + system), from /proc. */
  cpuSeconds(): number {
    const pid = this.process?.pid;
    if (!pid) return 0;
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  async start(): Promise<void> {
    this.ports ??= { sip: await freePort(), http: await freePort() };
    if (!existsSync(join(this.dir, 'asterisk.conf'))) this.writeConfig();
    this.log = '';
    const child = spawn(this.env.asteriskBin, ['-f', '-C', join(this.dir, 'asterisk.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-200_000)));
    child.stderr?.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-200_000)));
    this.process = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`Asterisk exited at start (${child.exitCode ?? child.signalCode}):\n${this.log.slice(-3000)}`);
      const info = await this.ari('GET', '/asterisk/info').catch(() => undefined);
      if (info?.ok) break;
      if (Date.now() > deadline)
        throw new Error(`Asterisk's ARI did not answer within 30 s:\n${this.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The project's configs with this instance's addresses, ports and secret. */
  private writeConfig(): void {
    const project = join(ROOT, 'asterisk');
    const read = (name: string) => readFileSync(join(project, name), 'utf8');
    const { sip, http } = this.ports;
    writeFileSync(
      join(this.dir, 'http.conf'),
      read('http.conf')
        .replace(/^bindaddr\s*=.*$/m, 'bindaddr = 127.0.0.1')
        .replace(/^bindport\s*=.*$/m, `bindport = ${http}`)
        .replace(/^sessionlimit\s*=.*$/m, (line) =>
          this.options.httpSessionLimit ? `sessionlimit = ${this.options.httpSessionLimit}` : line,
        ),
    );
    writeFileSync(
      join(this.dir, 'ari.conf'),
      read('ari.conf').replace(/^password\s*=.*$/m, `password = ${this.ariPassword}`),
    );
    writeFileSync(
      join(this.dir, 'pjsip.conf'),
      read('pjsip.conf')
        .replace(/^bind\s*=.*$/m, `bind = 127.0.0.1:${sip}`)
        .replace(/^contact\s*=\s*sip:carrier\.example\.net.*$/m, 'contact = sip:127.0.0.1:5999')
        .replace(/^match\s*=\s*192\.0\.2\.0\/24$/m, 'match = 127.0.0.1')
        .replace(/^match\s*=\s*198\.51\.100\.10$/m, `match = ${this.options.sipFrontAddress ?? '127.0.0.2'}`)
        .replace(/^contact\s*=\s*sip:sipfront\.example\.net$/m, 'contact = sip:127.0.0.2:5999')
        .replace(
          /^contact\s*=\s*sip:pbx-phones\.example\.net.*$/m,
          `contact = sip:127.0.0.1:${this.options.subscriberPort}`,
        ) + (this.options.extra?.pjsip ?? ''),
    );
    writeFileSync(join(this.dir, 'extensions.conf'), read('extensions.conf') + (this.options.extra?.extensions ?? ''));
    // sounds: Asterisk's data folder as installed, with the project's prompts beside the core sounds
    const data = join(this.dir, 'data');
    mkdirSync(join(data, 'sounds'), { recursive: true });
    for (const entry of readdirSync(this.env.asteriskData)) {
      if (entry !== 'sounds') symlinkSync(join(this.env.asteriskData, entry), join(data, entry));
    }
    const coreSounds = join(this.env.asteriskData, 'sounds');
    for (const lang of ['en', 'de']) {
      const target = join(data, 'sounds', lang);
      mkdirSync(target, { recursive: true });
      const core = join(coreSounds, lang);
      if (existsSync(core)) for (const entry of readdirSync(core)) symlinkSync(join(core, entry), join(target, entry));
      symlinkSync(join(project, 'sounds', lang, 'spoofguard'), join(target, 'spoofguard'));
    }
    mkdirSync(join(this.dir, 'run', 'spool'), { recursive: true });
    mkdirSync(join(this.dir, 'log'), { recursive: true });
    writeFileSync(
      join(this.dir, 'asterisk.conf'),
      [
        '[directories]',
        `astetcdir => ${this.dir}`,
        `astmoddir => ${this.env.asteriskModules}`,
        `astdatadir => ${data}`,
        `astvarlibdir => ${data}`,
        `astkeydir => ${data}`,
        `astagidir => ${data}/agi-bin`,
        `astdbdir => ${this.dir}/run`,
        `astspooldir => ${this.dir}/run/spool`,
        `astrundir => ${this.dir}/run`,
        `astlogdir => ${this.dir}/log`,
        '[options]',
        'verbose = 3',
        ...(this.options.entityId ? [`entityid = ${this.options.entityId}`] : []),
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(this.dir, 'modules.conf'),
      ['[modules]', 'autoload = yes', ...NOLOAD.map((m) => `noload => ${m}.so`), ''].join('\n'),
    );
    writeFileSync(join(this.dir, 'logger.conf'), '[general]\n[logfiles]\nconsole => notice,warning,error\n');
  }

  /** One ARI request with the spoofguard user's credentials. */
  async ari(method: string, path: string): Promise<Response & { json(): Promise<unknown> }> {
    return fetch(`${this.ariUrl}/ari${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${this.ariUser}:${this.ariPassword}`).toString('base64')}` },
      signal: AbortSignal.timeout(5000),
    });
  }

  async cli(command: string): Promise<string> {
    const { stdout } = await run(this.env.asteriskBin, ['-C', join(this.dir, 'asterisk.conf'), '-rx', command], {
      timeout: 10_000,
    });
    return stdout;
  }

  /** Channels and bridges Asterisk still has (all of them, not only the app's). */
  async leftovers(): Promise<{ channels: number; bridges: number; cli: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.leftoversOnce();
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 500)); // Asterisk's HTTP server busy: ask again
      }
    }
  }

  private async leftoversOnce(): Promise<{ channels: number; bridges: number; cli: string }> {
    const [channels, bridges] = await Promise.all([
      this.ari('GET', '/channels').then((r) => r.json() as Promise<unknown[]>),
      this.ari('GET', '/bridges').then((r) => r.json() as Promise<unknown[]>),
    ]);
    const cli = await this.cli('core show channels count');
    return { channels: channels.length, bridges: bridges.length, cli };
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
