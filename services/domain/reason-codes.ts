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
  'stir-passed-A',
  'stir-passed-B',
  'stir-passed-C',
  'stir-unverifiable',
  'stir-missing',
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

/** Codes renamed since: an event or a signed header written before reads as the code's new name. */
export const RENAMED_REASON_CODES: Readonly<Record<string, ReasonCode>> = { 'stir-unsigned': 'stir-missing' };

/** What verifying a call's STIR/SHAKEN Identity found (trunks with `stir: verify`), as logs and events name it. */
export const STIR_RESULTS = [
  'passed-A',
  'passed-B',
  'passed-C',
  'failed-signature',
  'failed-certificate',
  'failed-time',
  'failed-number',
  'failed-format',
  'unverifiable',
  'missing',
] as const;
export type StirResultLabel = (typeof STIR_RESULTS)[number];
