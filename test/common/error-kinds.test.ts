import { createRedis } from '../../services/common/redis';
import { createLogger } from '../../services/common/logger';
import { until } from '../support/events';
import { freePort } from '../support/redis';

/** A logger whose lines are kept as parsed JSON. */
function capturing(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    destination: {
      write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) > 0,
    } as unknown as NodeJS.WritableStream,
  });
  return { logger, lines };
}

describe("a client's errors", () => {
  it('a Redis that refuses every connection is said once, however often the client retries', async () => {
    const { logger, lines } = capturing();
    const port = await freePort();
    let attempts = 0;
    const redis = createRedis({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 200 }, 'admin', 'test', logger);
    redis.on('reconnecting', () => attempts++);
    try {
      await until(() => attempts >= 4, 15_000, 'four reconnect attempts');
      const said = lines.filter((l) => String(l.msg).startsWith('Redis (test)'));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatchObject({ level: 40, code: 'ECONNREFUSED' });
    } finally {
      redis.disconnect();
    }
  });

  it('a wrong Redis password is an error line naming it, not a silent retry', async () => {
    const { logger, lines } = capturing();
    const redis = createRedis(
      { url: 'redis://nobody:not-the-password@127.0.0.1:6379', connectTimeoutMs: 500 },
      'admin',
      'auth-test',
      logger,
    );
    try {
      await until(() => lines.some((l) => String(l.msg).startsWith('Redis (auth-test)')), 10_000, 'the error said');
      const said = lines.filter((l) => String(l.msg).startsWith('Redis (auth-test)'));
      expect(said[0]).toMatchObject({ level: 50 });
      expect(String(said[0].err)).toMatch(/AUTH|password/i);
    } finally {
      redis.disconnect();
    }
  });
});
