import { createHash } from 'node:crypto';
import { E164 } from '../common/e164';
import type { Logger } from '../common/logger';
import type { Redis } from '../common/redis';
import { z } from 'zod';
import type { ListKeys } from './list-keys';

/** A warned call the subscriber took: what *73 needs to report it afterwards. */
const takenCallSchema = z.strictObject({
  callId: z.string().max(200),
  callerE164: z.string().regex(E164).optional(),
  brand: z.string().max(40).optional(),
  /** When the call came in (epoch ms). */
  at: z.number().int().min(0),
});
export type TakenCall = z.infer<typeof takenCallSchema>;

/**
 * Reports from subscribers ("press 3"): counted per caller number in Redis, once per subscriber, with the brand
 * it posed as and when it was last reported; an index sorted by count lets analysts promote the most reported
 * to a list. A caller's reports are forgotten `keepDays` after its last one.
 */
export class ReportCounter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: ListKeys,
    private readonly logger: Logger,
    private readonly keepDays = 90,
  ) {}

  private keyOf(callerE164: string): string {
    return this.keys.reports(callerE164.replace(/^\+/, ''));
  }

  /**
   * Counts a report, once per subscriber (one who presses 3 on every call of the same caller counts once).
   * Never throws and never holds up the call: a report lost to a Redis outage is logged.
   */
  record(callerE164: string | undefined, brand: string | undefined, subscriber?: string): void {
    void this.count(callerE164, brand, subscriber).catch((err: Error) =>
      this.logger.warn({ err: err.message, caller: callerE164 }, 'report not counted'),
    );
  }

  /** The same as record(), for callers that wait: true when the report counted, false for a repeat. */
  async count(callerE164: string | undefined, brand: string | undefined, subscriber?: string): Promise<boolean> {
    if (!callerE164 || !E164.test(callerE164)) return false;
    const key = this.keys.reports(callerE164.slice(1));
    // the subscriber only as a digest: the report says who was called by a scammer, not whom
    const by = `by:${createHash('sha256')
      .update(subscriber ?? 'unknown')
      .digest('hex')
      .slice(0, 16)}`;
    if (subscriber !== undefined && (await this.redis.hsetnx(key, by, Date.now())) === 0) {
      await this.redis.expire(key, this.keepDays * 86_400);
      return false;
    }
    await this.redis
      .multi()
      .hincrby(key, 'count', 1)
      .hset(key, { last: Date.now(), ...(brand ? { brand } : {}) })
      .expire(key, this.keepDays * 86_400)
      .zincrby(this.keys.reportIndex(), 1, callerE164.slice(1))
      .exec();
    return true;
  }

  /**
   * Remembers the last warned call a subscriber took (*73 reports it afterwards), for `keepDays`. Never throws:
   * a call not remembered is logged.
   */
  rememberTaken(subscriberDigits: string, call: TakenCall): void {
    void this.redis
      .set(this.keys.lastTaken(subscriberDigits), JSON.stringify(call), 'EX', this.keepDays * 86_400)
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'taken call not remembered for *73'));
  }

  /** The last warned call the subscriber took and has not reported yet (undefined: none). */
  async lastTaken(subscriberDigits: string): Promise<TakenCall | undefined> {
    const text = await this.redis.get(this.keys.lastTaken(subscriberDigits));
    if (!text) return undefined;
    const parsed = takenCallSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * The subscriber reported call `callId`: it is not offered again. The call as it was remembered, or undefined
   * when it is no longer the last one taken (reported already, or another taken since).
   */
  async forgetTaken(subscriberDigits: string, callId: string): Promise<TakenCall | undefined> {
    const taken = await this.lastTaken(subscriberDigits);
    if (taken?.callId !== callId) return undefined;
    return (await this.redis.del(this.keys.lastTaken(subscriberDigits))) === 1 ? taken : undefined;
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
      // its reports were forgotten (keepDays after the last one): the index forgets it too
      if (!details.count) {
        await this.redis.zrem(this.keys.reportIndex(), flat[i]);
        continue;
      }
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
