import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { REASON_CODES } from '../screening/brand-data';

/**
 * X-Spoofguard-Verdict: the SIP front's verdict, carried to the ARI app. Fields are `k=v` pairs joined by ';'
 * with `sig` last: an HMAC-SHA256 (shared key) over everything before ";sig=". The timestamp bounds replay.
 *   v=1;verdict=warn;score=92;brand=amazon;reasons=brand-number,brand-name;call=sip:abc@host;ts=1795650000;sig=…
 * `call` is the call's id in the analysts' log: the ARI app logs the outcome under it, so one call is one record.
 */
export const VERDICT_HEADER = 'X-Spoofguard-Verdict';

const fieldsSchema = z.strictObject({
  v: z.literal('1'),
  verdict: z.enum(['allow', 'warn', 'block']),
  score: z.coerce.number().int().min(0).max(100),
  brand: z
    .string()
    .regex(/^[a-z0-9-]{1,40}$/)
    .optional(),
  reasons: z
    .string()
    .max(600)
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(REASON_CODES))),
  call: z
    .string()
    .regex(/^[\w.@:+\-/]{1,200}$/)
    .optional(),
  ts: z.coerce.number().int().positive(),
  sig: z.string().regex(/^[0-9a-f]{64}$/),
});

export interface SignedVerdict {
  verdict: 'allow' | 'warn' | 'block';
  score: number;
  brand?: string;
  reasons: string[];
  /** The call's id in the flagged-call log. */
  call?: string;
  /** Seconds since the epoch when the SIP front signed it. */
  ts: number;
}

const mac = (key: string, text: string): string => createHmac('sha256', key).update(text).digest('hex');

export function signVerdict(verdict: Omit<SignedVerdict, 'ts'>, key: string, now = Date.now()): string {
  const parts = [`v=1`, `verdict=${verdict.verdict}`, `score=${Math.round(verdict.score)}`];
  if (verdict.brand) parts.push(`brand=${verdict.brand}`);
  parts.push(`reasons=${verdict.reasons.join(',')}`);
  if (verdict.call) parts.push(`call=${verdict.call}`);
  parts.push(`ts=${Math.floor(now / 1000)}`);
  const body = parts.join(';');
  return `${body};sig=${mac(key, body)}`;
}

export type VerifyResult = { ok: true; verdict: SignedVerdict } | { ok: false; problem: string };

/** Checks form, signature and age. Never throws: a forged or stale header is reported, not trusted. */
export function verifyVerdict(
  header: string | undefined,
  key: string,
  maxAgeSec: number,
  now = Date.now(),
): VerifyResult {
  if (!header) return { ok: false, problem: 'no verdict header' };
  if (header.length > 1024) return { ok: false, problem: 'verdict header too long' };
  const at = header.lastIndexOf(';sig=');
  if (at < 0) return { ok: false, problem: 'verdict header without signature' };
  const pairs = header.split(';').map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? [pair, ''] : [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
  });
  const parsed = fieldsSchema.safeParse(Object.fromEntries(pairs));
  if (!parsed.success)
    return { ok: false, problem: `malformed verdict header (${parsed.error.issues[0]?.path.join('.')})` };
  const expected = Buffer.from(mac(key, header.slice(0, at)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(parsed.data.sig, 'hex')))
    return { ok: false, problem: 'verdict header signature does not match' };
  const age = now / 1000 - parsed.data.ts;
  if (age > maxAgeSec || age < -maxAgeSec) return { ok: false, problem: `verdict header is ${Math.round(age)} s old` };
  const { verdict, score, brand, reasons, call, ts } = parsed.data;
  return { ok: true, verdict: { verdict, score, reasons, ts, ...(brand ? { brand } : {}), ...(call ? { call } : {}) } };
}
