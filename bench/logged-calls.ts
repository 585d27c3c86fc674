import type { FlaggedCallEvent } from '../services/events/flagged-call';

const DAY = 86_400_000;
const BRANDS = ['amazon', 'amazon', 'amazon', 'amazon', 'amazon', 'amazon', 'paypal', 'paypal', 'dhl', undefined];
const OUTCOMES = ['accepted', 'rejected', 'reported', 'caller-hung-up', 'unanswered'] as const;

/**
 * One logged call of a benchmark's log of `rows` calls over 90 days from `start`: flagged and its outcome, as the
 * worker stores them. Brands, verdicts, outcomes and callers vary; `rareReasonEvery` makes the brand-prefix
 * reason rare (one call in that many), so that a filter on it walks most of the log.
 */
export function loggedCall(i: number, rows: number, start: number, rareReasonEvery = 3): FlaggedCallEvent[] {
  const brand = BRANDS[i % BRANDS.length];
  const block = i % 7 === 0;
  const caller = `+1888${String(1_000_000 + ((i * 7919) % 50_000)).padStart(7, '0')}`;
  const callId = `bench-${i}`;
  const receivedAt = new Date(start + Math.floor((i / rows) * 90 * DAY)).toISOString();
  return [
    {
      v: 1,
      kind: 'flagged',
      callId,
      source: i % 2 ? 'ari' : 'sip',
      receivedAt,
      caller: { raw: caller, e164: caller, kind: 'number', displayName: brand ? `${brand} support` : 'Polizei' },
      called: `+4930${String(100_000 + (i % 200_000))}`,
      trunk: 'carrier',
      verdict: block ? 'block' : 'warn',
      score: block ? 99 : 80,
      reasons: block
        ? ['emergency-caller-id']
        : i % rareReasonEvery
          ? ['brand-number', 'brand-name']
          : ['brand-prefix'],
      ...(brand && !block ? { brand } : {}),
      degraded: false,
    },
    {
      v: 1,
      kind: 'outcome',
      callId,
      source: i % 2 ? 'ari' : 'sip',
      receivedAt,
      outcome: block ? 'blocked' : OUTCOMES[i % OUTCOMES.length],
      timings: { ringMs: 3000 },
    },
  ];
}
