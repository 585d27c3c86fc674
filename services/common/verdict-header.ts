import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { REASON_CODES, RENAMED_REASON_CODES } from '../domain/reason-codes';

/**
 * X-Spoofguard-Verdict: the SIP front's verdict, carried to the ARI app. Fields are `k=v` pairs joined by ';'
 * with `sig` last: an HMAC-SHA256 (shared key, named by `kid`) over everything before ";sig=".
 *   v=2;kid=k1;verdict=warn;score=92;brand=amazon;reasons=brand-number,brand-name;call=sip:abc.1;
 *   from=+18882804331;to=+4930901820;cid=3f…;ts=1795650000;nonce=9c…;sig=…
 * `call` is the call's id in the analysts' log: the ARI app logs the outcome under it, so one call is one record.
 * A header is good for one call only: the MAC covers the caller (`from`), the called number (`to`) and, for a
 * proxied call, a digest of its SIP Call-ID (`cid`); `ts` bounds its age and `nonce` is spent on first use (the
 * ARI app keeps spent nonces in Redis for the header's lifetime). Two keys can be live at once: the one that
 * signs and the one before it, so a key is rotated without a moment in which headers fail.
 */
export const VERDICT_HEADER = 'X-Spoofguard-Verdict';

const keyId = z.string().regex(/^[A-Za-z0-9_-]{1,16}$/);

const fieldsSchema = z.strictObject({
  v: z.literal('2'),
  kid: keyId,
  verdict: z.enum(['allow', 'warn', 'block']),
  score: z.coerce.number().int().min(0).max(100),
  brand: z
    .string()
    .regex(/^[a-z0-9-]{1,40}$/)
    .optional(),
  reasons: z
    .string()
    .max(600)
    .transform((s) =>
      s
        .split(',')
        .filter(Boolean)
        .map((code) => RENAMED_REASON_CODES[code] ?? code),
    )
    .pipe(z.array(z.enum(REASON_CODES))),
  call: z
    .string()
    .regex(/^[\w.@:+\-/]{1,200}$/)
    .optional(),
  from: z.string().regex(/^[\w+-]{0,40}$/),
  to: z.string().regex(/^\+?\d{0,32}$/),
  cid: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  ts: z.coerce.number().int().positive(),
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
  sig: z.string().regex(/^[0-9a-f]{64}$/),
});

/** A signing key and its id; the id travels in the header so that the verifier picks the key. */
export interface VerdictKey {
  id: string;
  key: string;
}

export interface SignedVerdict {
  verdict: 'allow' | 'warn' | 'block';
  score: number;
  brand?: string;
  reasons: string[];
  /** The call's id in the flagged-call log. */
  call?: string;
}

/** What the header is bound to: the call it was made for. */
export interface VerdictBinding {
  /** callerKey() of the screened caller. */
  from: string;
  /** The called number (checked: digits, an optional '+'). */
  to: string;
  /** The SIP Call-ID of the request that carries the header, when it keeps the caller's (proxied). */
  callId?: string;
}

export interface CheckedVerdict extends SignedVerdict {
  /** Seconds since the epoch when the SIP front signed it. */
  ts: number;
  kid: string;
  nonce: string;
  from: string;
  to: string;
  cid?: string;
}

/** The caller as both ends name it: E.164, else the short code (110), else its kind (anonymous, unparseable). */
export const callerKey = (caller: { e164?: string; shortCode?: string; kind: string }): string =>
  (caller.e164 ?? caller.shortCode ?? caller.kind).slice(0, 40);

const callIdDigest = (callId: string): string => createHash('sha256').update(callId).digest('hex').slice(0, 32);

const mac = (key: string, text: string): string => createHmac('sha256', key).update(text).digest('hex');

export function signVerdict(
  verdict: SignedVerdict,
  binding: VerdictBinding,
  key: VerdictKey,
  now = Date.now(),
  nonce = randomBytes(16).toString('hex'),
): string {
  const parts = [`v=2`, `kid=${key.id}`, `verdict=${verdict.verdict}`, `score=${Math.round(verdict.score)}`];
  if (verdict.brand) parts.push(`brand=${verdict.brand}`);
  parts.push(`reasons=${verdict.reasons.join(',')}`);
  if (verdict.call) parts.push(`call=${verdict.call}`);
  parts.push(`from=${binding.from}`, `to=${binding.to}`);
  if (binding.callId !== undefined) parts.push(`cid=${callIdDigest(binding.callId)}`);
  parts.push(`ts=${Math.floor(now / 1000)}`, `nonce=${nonce}`);
  const body = parts.join(';');
  return `${body};sig=${mac(key.key, body)}`;
}

export type VerifyResult = { ok: true; verdict: CheckedVerdict } | { ok: false; problem: string };

/**
 * Checks form, key, signature and age. Never throws: a forged or stale header is reported, not trusted. `keys`
 * are the live keys (one key alone is taken whatever its id). The binding and the nonce are checked apart
 * (bindingProblem, and the verifier's spent-nonce store).
 */
export function verifyVerdict(
  header: string | undefined,
  keys: string | readonly VerdictKey[],
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
  const key = typeof keys === 'string' ? keys : keys.find((k) => k.id === parsed.data.kid)?.key;
  if (!key) return { ok: false, problem: `verdict header signed with an unknown key (kid ${parsed.data.kid})` };
  const expected = Buffer.from(mac(key, header.slice(0, at)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(parsed.data.sig, 'hex')))
    return { ok: false, problem: 'verdict header signature does not match' };
  const age = now / 1000 - parsed.data.ts;
  if (age > maxAgeSec || age < -maxAgeSec) return { ok: false, problem: `verdict header is ${Math.round(age)} s old` };
  const { sig: _sig, v: _v, brand, call, cid, ...rest } = parsed.data;
  return {
    ok: true,
    verdict: { ...rest, ...(brand ? { brand } : {}), ...(call ? { call } : {}), ...(cid ? { cid } : {}) },
  };
}

/**
 * Whether a verified header was made for this call: its caller is one of `callers` (the keys of the identities
 * the call carries), its called number is `called`, and, when it names a Call-ID, the call's Call-ID is that one.
 * Undefined when it was; else what differs.
 */
export function bindingProblem(
  verdict: CheckedVerdict,
  call: { callers: readonly string[]; called: string; callId?: string },
): string | undefined {
  if (verdict.to !== call.called) return 'verdict header made for another called number';
  if (!call.callers.includes(verdict.from)) return 'verdict header made for another caller';
  if (verdict.cid !== undefined && (call.callId === undefined || callIdDigest(call.callId) !== verdict.cid))
    return 'verdict header made for another SIP call (Call-ID)';
  return undefined;
}
