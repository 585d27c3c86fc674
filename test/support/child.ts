import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../../services/common/config';
import { listSettings } from '../../services/common/config-schema';

export const ROOT = join(__dirname, '..', '..');

/** The environment that gives a child process this config (every key through its documented variable). */
export function envFor(config: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const { path, env: name } of listSettings()) {
    const value = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
    env[name] = typeof value === 'object' ? JSON.stringify(value) : String(value);
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
  options: { built?: boolean } = {},
): ChildProcess & { output: () => string } {
  const entry = options.built
    ? [join(ROOT, 'bin/spoofguard.js')]
    : ['--import', 'tsx', join(ROOT, 'services/cli/main.ts')];
  const child = spawn(process.execPath, [...childNodeArgs(), ...entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...envFor(config), SPOOFGUARD_LOG_LEVEL: 'info', ...extraEnv },
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
