/** What became of a flagged call: the subscriber's decision, or how the call ended without one. */
export const OUTCOMES = [
  'accepted',
  'rejected',
  'reported',
  'caller-hung-up',
  'unanswered',
  'blocked',
  'failed',
  /** Let through unwarned because the subscriber said they expect this brand's call (*71, or an allowance). */
  'expected-by-subscriber',
  /** Taken after the warning, and reported by the subscriber afterwards (*73, then 1). */
  'reported-after',
] as const;
export type Outcome = (typeof OUTCOMES)[number];
