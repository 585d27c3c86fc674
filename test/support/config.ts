import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../services/common/config';
import { createLogger, type Logger } from '../../services/common/logger';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A config with its own Redis key prefix, so test files can share one real Redis in parallel. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  const id = randomBytes(5).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'sg-test-'));
  const section = (key: string): object => (overrides[key] as object) ?? {};
  return loadConfig({
    env: { REDIS_URL },
    overrides: {
      log: { level: 'silent' },
      ...overrides,
      redis: { keyPrefix: `t${id}:`, ...section('redis') },
      // roles run alone in tests would all want the same ops port
      ops: { port: 0, ...section('ops') },
      // a verdict must not fail open because a loaded CI box stalled the first look-up past 50 ms;
      // tests of the budget itself set their own
      screening: { budgetMs: 1000, ...section('screening') },
      console: { port: 0, ...section('console') },
      queue: { name: `q${id}`, spoolDir: join(dir, 'spool'), backoffMs: 100, ...section('queue') },
      worker: { batchWaitMs: 10, lockDurationMs: 2000, stalledIntervalMs: 1000, ...section('worker') },
      flaggedLog: {
        sqlitePath: join(dir, 'log.sqlite'),
        pseudonymKey: 'test-key-0123456789abcdef',
        ...section('flaggedLog'),
      },
    },
  });
}

export const quietLogger = (): Logger => createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
