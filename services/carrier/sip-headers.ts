/** Reading a SIP request's header section as text: shared by the drachtio and the Kamailio front. */

/** The compact forms of RFC 3261 §7.3.3 and later RFCs (Identity: y, RFC 8224). */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  y: 'identity',
  o: 'event',
  r: 'refer-to',
  b: 'referred-by',
  u: 'allow-events',
  x: 'session-expires',
};

/**
 * Every header line of a raw SIP message, unfolded, by full lower-case name (compact forms expanded), in order:
 * read once per request that needs them.
 */
export function headerLinesOf(raw: string): Map<string, string[]> {
  const end = raw.indexOf('\r\n\r\n');
  const lines = (end < 0 ? raw : raw.slice(0, end)).split('\r\n').slice(1);
  const out = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (last?.length) last[last.length - 1] = `${last[last.length - 1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      last = undefined;
      continue;
    }
    const short = line.slice(0, colon).trim().toLowerCase();
    const name = COMPACT[short] ?? short;
    last = out.get(name) ?? [];
    out.set(name, last);
    last.push(line.slice(colon + 1).trim());
  }
  return out;
}
