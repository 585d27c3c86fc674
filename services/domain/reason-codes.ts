/** Why a call was flagged (or let through): the codes a verdict's reasons carry, in every layer and in the log. */
export const REASON_CODES = [
  'brand-number',
  'brand-prefix',
  'brand-name',
  'emergency-caller-id',
  'police-number-with-area-code',
  'domestic-on-international',
  'caller-equals-called',
  'stir-failed',
  'stir-passed',
  'stir-unsigned',
  'stir-ignored',
  'invalid-number',
  'unparseable',
  'malformed-caller-id',
  'identity-unreadable',
  'anonymous',
  'allowlisted',
  'subscriber-allowlisted',
  'degraded',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];
