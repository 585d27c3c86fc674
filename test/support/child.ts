import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../../services/common/config';
import { listSettings } from '../../services/common/config-schema';

export const ROOT = join(__dirname, '..', '..');

/**
 * The environment that gives a child process this config (every key through its documented variable), or with
 * `changedFrom` only the keys whose values differ from that config, as an operator sets them: benchmarks use it,
 * since drachtio-srf reads an environment variable for every SIP header line and glibc's getenv scans the
 * whole environment, so a hundred extra variables cost the app a measurable share of its CPU.
 */
export function envFor(config: Config, changedFrom?: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const text = (from: Config, path: string): string => {
    const value = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], from);
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  };
  for (const { path, env: name } of listSettings()) {
    const value = text(config, path);
    if (!changedFrom || text(changedFrom, path) !== value) env[name] = value;
  }
  return env;
}

/** Node options for the children (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a benchmark's app). */
export const childNodeArgs = (): string[] => (process.env.SPOOFGUARD_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);

/**
 * Starts `spoofguard <args>` from the TypeScript sources, or with `built` as users run it: the compiled
 * JavaScript (`npm run build`, bin/spoofguard.js), which benchmarks measure.
 */
export function spawnSpoofguard(
  args: string[],
  config: Config,
  extraEnv: NodeJS.ProcessEnv = {},
  options: { built?: boolean; changedFrom?: Config } = {},
): ChildProcess & { output: () => string } {
  const entry = options.built
    ? [join(ROOT, 'bin/spoofguard.js')]
    : ['--import', 'tsx', join(ROOT, 'services/cli/main.ts')];
  const child = spawn(process.execPath, [...childNodeArgs(), ...entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...envFor(config, options.changedFrom), SPOOFGUARD_LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Runs a CommonJS script (TypeScript sources through tsx) in a node process of its own; its exit and output. */
export function runScript(
  script: string,
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
