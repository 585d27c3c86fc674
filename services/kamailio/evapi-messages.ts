import { z } from 'zod';

/**
 * The messages between kamailio/kamailio.cfg and spoofguard, one schema each way (the boundary's only one).
 * Kamailio sends the INVITE as it was received, base64-encoded, so that no byte a caller chose can reach the
 * JSON's syntax; spoofguard's answers carry only values it made itself (URIs from config and a checked number,
 * header values with control characters removed).
 */
const transactionId = z.number().int().min(0).max(0xffffffff);

/** An initial INVITE, suspended in Kamailio until answered (route[ASK]). */
export const askSchema = z.object({
  v: z.literal(1),
  /** tm's transaction index and label: the answer names them to resume it. */
  i: transactionId,
  l: transactionId,
  /** The Kamailio that asks (SG_NODE). */
  node: z.string().max(64).default(''),
  /** The address the INVITE came from (trunks match on it). */
  src: z.string().max(64),
  /** Kamailio's clock when it asked, in s (with µs). */
  t: z.number().optional(),
  /** The INVITE as received, base64. */
  msg: z.string().max(2_000_000),
});
export type Ask = z.infer<typeof askSchema>;

/** A relayed flagged call's final status (kamailio.cfg's onreply/failure routes for tracked calls). */
export const finalSchema = z.object({
  v: z.literal(1),
  track: z.string().max(128),
  final: z.number().int().min(100).max(699),
});
export type FinalReport = z.infer<typeof finalSchema>;

/** What spoofguard answers: relay (to a URI, with headers), reply (a final status), or unscreened (fail open). */
export type Answer =
  | {
      i: number;
      l: number;
      a: 'relay';
      uri: string;
      hdrs?: string;
      from?: string;
      pai?: string;
      /** Set on flagged calls whose outcome spoofguard logs: Kamailio reports their final status under it. */
      track?: string;
    }
  | { i: number; l: number; a: 'reply'; code: number; reason: string; hdrs?: string }
  | { i: number; l: number; a: 'unscreened' };

/** A header value as it may go into a request: no CR, LF or other control character (one header, one line). */
// eslint-disable-next-line no-control-regex
export const headerValue = (value: string): string => value.replace(/[\u0000-\u001f\u007f]/g, ' ');

/** Header lines in the form Kamailio's append_hf/append_to_reply take ("Name: value\r\n" each). */
export function headerLines(headers: Record<string, string>): string | undefined {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${headerValue(value)}\r\n`);
  return lines.length > 0 ? lines.join('') : undefined;
}
