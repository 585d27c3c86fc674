import type { StirResultLabel } from './reason-codes';

/**
 * The verstat value (ATIS-1000074 §5.3.1) that tells the subscriber's phone what our own STIR/SHAKEN check found:
 * every front passes it on the subscriber's leg.
 */
export function verstatOf(
  result: StirResultLabel,
): 'TN-Validation-Passed' | 'TN-Validation-Failed' | 'No-TN-Validation' {
  if (result.startsWith('passed')) return 'TN-Validation-Passed';
  if (result.startsWith('failed')) return 'TN-Validation-Failed';
  return 'No-TN-Validation';
}
