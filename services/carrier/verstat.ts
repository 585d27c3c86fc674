import { verstatOf } from '../domain/verstat';
import type { VerdictStir } from '../screening/verdict';

/**
 * Passing our own STIR/SHAKEN result on to the subscriber's phone the way ATIS-1000074 does: a `verstat`
 * parameter on the telephone number of P-Asserted-Identity (From when there is none), which phones show as
 * a check mark or a warning. Whatever verstat the caller put on either header is removed first.
 */

const VERSTAT_PARAM = /;\s*verstat=[^;@>?,\s]*/gi;

/**
 * The header value with `verstat` set on its URI's telephone number: a sip(s) URI's user part, or a tel URI.
 * undefined when the value has no such number (then it is left as it came, minus any verstat of the caller's).
 */
export function withVerstat(value: string, verstat: string): string | undefined {
  // the URI: in angle brackets after an optional (quoted) display name, or an addr-spec whose parameters
  // (after the first ';') belong to the header (RFC 3261 §20)
  const quoted = /^\s*"(?:[^"\\]|\\.)*"\s*/.exec(value);
  const start = quoted ? quoted[0].length : 0;
  const open = value.indexOf('<', start);
  let uriStart: number;
  let uriEnd: number;
  if (open >= 0) {
    uriStart = open + 1;
    uriEnd = value.indexOf('>', uriStart);
    if (uriEnd < 0) return undefined;
  } else {
    uriStart = start;
    const semi = value.indexOf(';', start);
    uriEnd = semi < 0 ? value.length : semi;
  }
  const uri = value.slice(uriStart, uriEnd).replace(VERSTAT_PARAM, '').trim();
  const rest = value.slice(uriEnd).replace(VERSTAT_PARAM, '');
  const head = value.slice(0, uriStart);
  const sip = /^(sips?:)([^@;]*)((?:;[^@]*)?)@(.*)$/i.exec(uri);
  const tel = /^(tel:)([^;]*)(.*)$/i.exec(uri);
  const number = sip?.[2] ?? tel?.[2] ?? '';
  // only a telephone number is vouched for (ATIS-1000074): anonymous or a name gets none
  if (!/^\+?[\d().-]{3,32}$/.test(number)) return `${head}${uri}${rest}`;
  const marked = sip ? `${sip[1]}${sip[2]}${sip[3]};verstat=${verstat}@${sip[4]}` : `${uri};verstat=${verstat}`;
  // a URI with parameters must be in angle brackets
  return open >= 0 ? `${head}${marked}${rest}` : `${head}<${marked}>${rest}`;
}

/** A header value without any verstat parameter (the caller's own claim). */
export const withoutVerstat = (value: string): string => value.replace(VERSTAT_PARAM, '');

const hasVerstat = (value: string | undefined): value is string =>
  value !== undefined && withoutVerstat(value) !== value;

/**
 * The identity headers to rewrite for a verified call: verstat on P-Asserted-Identity when the request has one,
 * else on From; the other one loses any verstat the caller put there. `current` gives a header's value as it
 * goes on (tag mode may have rewritten it already).
 */
export function verstatHeaders(
  stir: VerdictStir,
  current: (name: string) => string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  const pai = current('P-Asserted-Identity');
  const from = current('From');
  const carrier = pai !== undefined ? 'P-Asserted-Identity' : 'From';
  const value = pai ?? from;
  // an unsigned call goes on as it came, unless the caller wrote a verstat of its own: that one is replaced
  if (stir.result === 'missing' && !hasVerstat(pai) && !hasVerstat(from)) return out;
  if (value !== undefined) {
    const marked = withVerstat(value, verstatOf(stir.result));
    if (marked !== undefined && marked !== value) out[carrier] = marked;
  }
  if (pai !== undefined && hasVerstat(from)) out.From = withoutVerstat(from);
  return out;
}
