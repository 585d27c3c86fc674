import IORedis from 'ioredis';
import type { Config } from '../../services/common/config';
import type { FlaggedCallEvent } from '../../services/events/flagged-call';
import { REDIS_URL } from './config';

export function flagged(callId: string, extra: Partial<FlaggedCallEvent> = {}): FlaggedCallEvent {
  return {
    v: 1,
    kind: 'flagged',
    callId,
    source: 'ari',
    receivedAt: new Date().toISOString(),
    caller: {
      raw: '"Amazon" <sip:+18882804331@carrier.example.net>',
      e164: '+18882804331',
      kind: 'number',
      displayName: 'Amazon',
    },
    called: '+4930901820',
    trunk: 'de-national',
    verdict: 'warn',
    score: 92,
    reasons: ['brand-number', 'brand-name'],
    brand: 'amazon',
    degraded: false,
    ...extra,
  };
}

export function outcome(
  callId: string,
  result: FlaggedCallEvent['outcome'],
  extra: Partial<FlaggedCallEvent> = {},
): FlaggedCallEvent {
  return {
    v: 1,
    kind: 'outcome',
    callId,
    source: 'ari',
    receivedAt: new Date().toISOString(),
    outcome: result,
    timings: { ringMs: 4200, warningMs: 9100, talkMs: 0 },
    endedAt: new Date().toISOString(),
    ...extra,
  };
}

/** Removes a test queue's BullMQ keys. */
export async function dropQueue(config: Config): Promise<void> {
  const redis = new IORedis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      `${config.queue.prefix}:${config.queue.name}:*`,
      'COUNT',
      1000,
    );
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

export async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
