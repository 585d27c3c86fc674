import { randomBytes } from 'node:crypto';
import { type Config, loadConfig } from '../../services/common/config';
import { createLogger, type Logger } from '../../services/common/logger';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A config with its own Redis key prefix, so test files can share one real Redis in parallel. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  const keyPrefix = `t${randomBytes(5).toString('hex')}:`;
  return loadConfig({
    env: { REDIS_URL },
    overrides: { log: { level: 'silent' }, ...overrides, redis: { keyPrefix, ...((overrides.redis as object) ?? {}) } },
  });
}

export const quietLogger = (): Logger => createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
