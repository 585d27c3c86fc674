import { E164 } from '../common/e164';
import type { Logger } from '../common/logger';
import type { Redis } from '../common/redis';
import type { ListKeys } from './list-keys';

/**
 * Reports from subscribers ("press 3"): counted per caller number in Redis, with the brand it posed as and
 * when it was last reported; an index sorted by count lets analysts promote the most reported to a list.
 */
export class ReportCounter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: ListKeys,
    private readonly logger: Logger,
  ) {}

  private keyOf(callerE164: string): string {
    return this.keys.reports(callerE164.replace(/^\+/, ''));
  }

  /** Never throws and never holds up the call: a report lost to a Redis outage is logged. */
  record(callerE164: string | undefined, brand: string | undefined): void {
    if (!callerE164 || !E164.test(callerE164)) return;
    const digits = callerE164.slice(1);
    this.redis
      .multi()
      .hincrby(this.keys.reports(digits), 'count', 1)
      .hset(this.keys.reports(digits), { last: Date.now(), ...(brand ? { brand } : {}) })
      .zincrby(this.keys.reportIndex(), 1, digits)
      .exec()
      .catch((err: Error) => this.logger.warn({ err: err.message, caller: callerE164 }, 'report not counted'));
  }

  async get(callerE164: string): Promise<{ count: number; brand?: string; last?: number } | undefined> {
    const details = await this.redis.hgetall(this.keyOf(callerE164));
    if (!details.count) return undefined;
    return {
      count: Number(details.count),
      ...(details.brand ? { brand: details.brand } : {}),
      ...(details.last ? { last: Number(details.last) } : {}),
    };
  }

  /** Notes that a reported number went onto a list, so analysts see it was dealt with. */
  async markPromoted(callerE164: string, at = Date.now()): Promise<boolean> {
    const key = this.keyOf(callerE164);
    if (!(await this.redis.exists(key))) return false;
    await this.redis.hset(key, 'promoted', at);
    return true;
  }

  async top(
    limit: number,
  ): Promise<{ number: string; count: number; brand?: string; last?: number; promoted?: number }[]> {
    const flat = await this.redis.zrevrange(this.keys.reportIndex(), 0, limit - 1, 'WITHSCORES');
    const out = [];
    for (let i = 0; i < flat.length; i += 2) {
      const details = await this.redis.hgetall(this.keys.reports(flat[i]));
      out.push({
        number: `+${flat[i]}`,
        count: Number(flat[i + 1]),
        ...(details.brand ? { brand: details.brand } : {}),
        ...(details.last ? { last: Number(details.last) } : {}),
        ...(details.promoted ? { promoted: Number(details.promoted) } : {}),
      });
    }
    return out;
  }
}
