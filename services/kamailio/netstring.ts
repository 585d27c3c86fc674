/**
 * Netstrings ("<length>:<bytes>,"), the framing of Kamailio's evapi module in both directions. The decoder takes
 * bytes as TCP hands them over (a frame may come in pieces, several frames in one piece) and never holds more
 * than one frame's worth: a frame announcing more than `maxBytes` is skipped unread as its bytes go by, and
 * reported once. Whitespace between frames is ignored, as evapi does.
 */
export type NetstringEvent =
  | { kind: 'frame'; data: Buffer }
  /** A frame larger than maxBytes: its bytes were skipped. */
  | { kind: 'oversized'; bytes: number }
  /** Bytes that are no netstring (a bad length, a missing ','): the rest of the chunk was dropped; the stream is out of step. */
  | { kind: 'garbage'; excerpt: string };

const COLON = 0x3a;
const COMMA = 0x2c;
/** Length digits: enough for any frame we would take (1 MB has 7). */
const MAX_DIGITS = 9;

export class NetstringDecoder {
  /** Bytes of a frame (or its length) not yet complete. */
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of an oversized frame (and its ',') still to skip. */
  private skipping = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes held for a frame not yet complete: a half frame, when the connection ends. */
  get buffered(): number {
    return this.pending.length + this.skipping;
  }

  /** Decodes what came; events in order. */
  push(chunk: Buffer): NetstringEvent[] {
    const events: NetstringEvent[] = [];
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    let at = 0;
    while (at < data.length) {
      if (this.skipping > 0) {
        const skip = Math.min(this.skipping, data.length - at);
        this.skipping -= skip;
        at += skip;
        continue;
      }
      const byte = data[at] as number;
      if (byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a) {
        at++;
        continue;
      }
      let colon = at;
      while (colon < data.length && colon - at <= MAX_DIGITS) {
        const c = data[colon] as number;
        if (c === COLON || c < 0x30 || c > 0x39) break;
        colon++;
      }
      if (colon === data.length && colon - at <= MAX_DIGITS) break; // the length is still coming
      if (data[colon] !== COLON || colon === at) {
        events.push({ kind: 'garbage', excerpt: data.subarray(at, at + 40).toString('latin1') });
        data = Buffer.alloc(0);
        at = 0;
        break;
      }
      const length = Number(data.subarray(at, colon).toString('latin1'));
      if (length > this.maxBytes) {
        events.push({ kind: 'oversized', bytes: length });
        this.skipping = length + 1;
        at = colon + 1;
        continue;
      }
      const end = colon + 1 + length;
      if (end >= data.length) break; // the frame (or its ',') is still coming
      if (data[end] !== COMMA) {
        events.push({ kind: 'garbage', excerpt: data.subarray(at, at + 40).toString('latin1') });
        data = Buffer.alloc(0);
        at = 0;
        break;
      }
      events.push({ kind: 'frame', data: data.subarray(colon + 1, end) });
      at = end + 1;
    }
    if (at < data.length) this.pending = Buffer.from(data.subarray(at));
    return events;
  }

  /** Forgets a half frame (the connection it came on is gone). */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.skipping = 0;
  }
}

/** One netstring frame of a text, as a string (written as UTF-8: the length counts its bytes). */
export function netstringText(text: string): string {
  return `${Buffer.byteLength(text, 'utf8')}:${text},`;
}

/** One netstring frame of a text. */
export function netstring(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}:`, 'latin1'), body, Buffer.from(',', 'latin1')]);
}
