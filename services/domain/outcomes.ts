/** What became of a flagged call: the subscriber's decision, or how the call ended without one. */
export const OUTCOMES = [
  'accepted',
  'rejected',
  'reported',
  'caller-hung-up',
  'unanswered',
  'blocked',
  'failed',
] as const;
export type Outcome = (typeof OUTCOMES)[number];
