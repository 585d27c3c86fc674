/**
 * INVITE→final latency at the caller, read off the wire: dumpcap captures the caller's UDP port on the loopback
 * interface (kernel timestamps, microseconds) and tshark reads the SIP in it afterwards. sipp's own response
 * times come in its main loop's ticks (4 ms steps on this kernel), too coarse for p99 figures of a few ms.
 * Both tools are Wireshark's (Debian: apt-get install tshark); without them the bench falls back to sipp's.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether dumpcap and tshark are installed and may capture here (why not, when they cannot). */
export async function captureUnavailable(): Promise<string | undefined> {
  try {
    const { stdout } = await run('dumpcap', ['-D']);
    if (!/\blo\b/.test(stdout)) return 'dumpcap lists no loopback interface (capture rights?)';
    await run('tshark', ['-v']);
    return undefined;
  } catch (err) {
    return `dumpcap/tshark cannot run (${(err as Error).message.split('\n')[0]}): apt-get install tshark`;
  }
}

export class CallerCapture {
  private readonly dir = mkdtempSync(join(tmpdir(), 'sg-capture-'));
  private readonly file = join(this.dir, 'caller.pcapng');
  private process?: ChildProcess;

  constructor(private readonly port: number) {}

  /** Resolves once dumpcap captures (it says so on stderr). */
  async start(): Promise<void> {
    const child = spawn('dumpcap', ['-q', '-i', 'lo', '-f', `udp port ${this.port}`, '-w', this.file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.process = child;
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dumpcap did not start capturing: ${err.trim()}`)), 10_000);
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('Capturing on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`dumpcap exited with ${code}: ${err.trim()}`));
      });
    });
  }

  /**
   * Stops the capture and returns each call's INVITE→final time in ms: from the first transmission of its
   * INVITE to the first final response (status 200–699) to it, both as the caller's socket saw them.
   * Calls that got no final answer have no entry.
   */
  async latencies(): Promise<number[]> {
    const child = this.process;
    if (child && child.exitCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    const { stdout } = await run(
      'tshark',
      [
        '-r',
        this.file,
        '-n',
        '-d',
        `udp.port==${this.port},sip`,
        '-Y',
        'sip.CSeq.method == "INVITE"',
        '-T',
        'fields',
        '-E',
        'separator=;',
        '-e',
        'frame.time_relative',
        '-e',
        'sip.Call-ID',
        '-e',
        'sip.Method',
        '-e',
        'sip.Status-Code',
      ],
      { maxBuffer: 1 << 30 },
    );
    const sent = new Map<string, number>();
    const answered = new Set<string>();
    const out: number[] = [];
    for (const line of stdout.split('\n')) {
      const [time, callId, method, status] = line.split(';');
      if (!time || !callId || answered.has(callId)) continue; // the first final answer only
      const at = Number(time) * 1000;
      if (method === 'INVITE') {
        if (!sent.has(callId)) sent.set(callId, at);
      } else if (Number(status) >= 200) {
        const from = sent.get(callId);
        if (from !== undefined) {
          out.push(at - from);
          answered.add(callId);
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    return out;
  }
}
