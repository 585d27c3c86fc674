/**
 * Redis key layout of the lists. Every key of one deployment shares the hash tag {<prefix>lists}, so the
 * look-up script may touch them all in one call, also on Redis Cluster.
 *
 *   state                hash: version (bumped by every list and subscriber-record change), gen, buckets, count:
 *                        the generation readers use
 *   n:<gen>:<bucket>     hash: exact brand numbers; field = floor(n / buckets), value = meta id
 *   nlog:<gen>           list: numbers changed in generation <gen> in place, in order: "digits:metaId" added,
 *                        "digits:" removed (call-path processes keep their in-process number index up to date from it)
 *   px:<gen>             hash: number prefixes (digits) → meta id
 *   al:<gen>             hash: globally allowed numbers (digits) → meta id
 *   names:<gen>          hash: folded pattern → JSON name entry
 *   meta:<gen>           hash: meta id → JSON {brand, reason, label, source, origin, addedAt, expiresAt}
 *   sub:<called>         hash: allow:<digits>|allow:brand:<id> → expiry (ms, 0 = none); pref:warnings, pref:lang
 *   reports:<digits>     hash: reports from subscribers ("press 3")
 */
export class ListKeys {
  readonly tag: string;
  readonly state: string;
  readonly genSeq: string;
  readonly metaSeq: string;
  readonly lock: string;
  readonly changes: string;

  constructor(prefix: string) {
    this.tag = `{${prefix}lists}`;
    this.state = `${this.tag}:state`;
    this.genSeq = `${this.tag}:genseq`;
    this.metaSeq = `${this.tag}:metaseq`;
    this.lock = `${this.tag}:lock`;
    this.changes = `${prefix}lists:changed`;
  }

  bucket(gen: number, bucket: number): string {
    return `${this.tag}:n:${gen}:${bucket}`;
  }
  prefixes(gen: number): string {
    return `${this.tag}:px:${gen}`;
  }
  numberLog(gen: number): string {
    return `${this.tag}:nlog:${gen}`;
  }
  allow(gen: number): string {
    return `${this.tag}:al:${gen}`;
  }
  names(gen: number): string {
    return `${this.tag}:names:${gen}`;
  }
  /** Meta JSON → its record's id, so equal meta records are written once. */
  metaIndex(gen: number): string {
    return `${this.tag}:metaidx:${gen}`;
  }

  meta(gen: number): string {
    return `${this.tag}:meta:${gen}`;
  }
  subscriber(called: string): string {
    return `${this.tag}:sub:${keyPart(called)}`;
  }
  reports(digits: string): string {
    return `${this.tag}:reports:${keyPart(digits)}`;
  }
  /** The last warned call a subscriber took (for *73 "report it afterwards"). */
  lastTaken(subscriberDigits: string): string {
    return `${this.tag}:taken:${keyPart(subscriberDigits)}`;
  }

  reportIndex(): string {
    return `${this.tag}:reports`;
  }
}

/** Untrusted text never becomes part of a key as it is: anything but [A-Za-z0-9_+-] is hex-encoded. */
export function keyPart(text: string): string {
  if (/^[A-Za-z0-9_+-]{1,64}$/.test(text)) return text;
  return `~${Buffer.from(text.slice(0, 256), 'utf8').toString('hex')}`;
}

/** Numbers are spread over buckets by value; the field keeps only the quotient, which Redis stores as a small integer. */
export function bucketOf(digits: string, buckets: number): { bucket: number; field: string } {
  const n = Number(digits);
  const bucket = n % buckets;
  return { bucket, field: String((n - bucket) / buckets) };
}

export function digitsFromBucket(field: string, bucket: number, buckets: number): string {
  return String(Number(field) * buckets + bucket);
}

/**
 * About 64 numbers a bucket: few keys, yet far below Redis' 128-entry listpack limit even for the fullest
 * bucket. A prime count keeps stepped ranges (every 2nd, 7th … number) spread over all buckets, and the
 * quotient field stays below 2^31 for numbers of up to 13 digits at a million entries (4-byte integers).
 */
export function bucketCountFor(count: number): number {
  let buckets = Math.max(257, Math.ceil(count / 64));
  while (!isPrime(buckets)) buckets++;
  return buckets;
}

function isPrime(n: number): boolean {
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
