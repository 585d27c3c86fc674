import { type KeyObject, verify } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { IdentityField } from './identity-field';

/** Why a PASSporT fails, as the verdict's reason names it. */
export type FailureCause = 'signature' | 'certificate' | 'time' | 'number' | 'format';

export class PassportError extends Error {
  constructor(
    readonly why: FailureCause,
    message: string,
  ) {
    super(message);
  }
}

export type Attestation = 'A' | 'B' | 'C';

/** The claims of a SHAKEN PASSporT (RFC 8225, RFC 8588), read before its signature is checked. */
export interface PassportClaims {
  x5u: string;
  /** orig.tn, canonical (digits only, RFC 8224 §8.3). */
  orig: string;
  dest: string[];
  iat: number;
  attest: Attestation;
  origid?: string;
}

/** RFC 8224 §8.3: visual separators and a leading + go; what is left must be digits. */
export function canonicalTn(tn: unknown): string | undefined {
  if (typeof tn !== 'string' || tn.length > 64) return undefined;
  const digits = tn.replace(/[\s().-]/g, '').replace(/^\+/, '');
  return /^\d{1,20}$/.test(digits) ? digits : undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The header and claims of one Identity field, with jose decoding: ES256 only, typ passport, ppt shaken (and the
 * field's own alg and ppt parameters agreeing), x5u present (and info, when given, the same), attest A/B/C,
 * orig.tn and dest.tn present. Nothing here is trusted until `verifySignature` passed.
 */
export function readPassport(field: IdentityField): PassportClaims {
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(field.token) as Record<string, unknown>;
    claims = decodeJwt(field.token) as Record<string, unknown>;
  } catch (err) {
    throw new PassportError('format', `PASSporT unreadable: ${(err as Error).message}`);
  }
  if (header.alg !== 'ES256')
    throw new PassportError('signature', `algorithm ${String(header.alg)} refused: ES256 only`);
  if (field.alg !== undefined && field.alg !== 'ES256')
    throw new PassportError('signature', `alg parameter ${field.alg} refused: ES256 only`);
  if (header.typ !== 'passport') throw new PassportError('format', `typ ${String(header.typ)} is not passport`);
  if (header.ppt !== 'shaken') throw new PassportError('format', `ppt ${String(header.ppt)} is not shaken`);
  if (field.ppt !== undefined && field.ppt !== header.ppt)
    throw new PassportError('format', `ppt parameter ${field.ppt} does not match the PASSporT's ${String(header.ppt)}`);
  if (typeof header.x5u !== 'string' || header.x5u.length === 0 || header.x5u.length > 2048)
    throw new PassportError('format', 'no x5u in the PASSporT');
  if (field.info !== undefined && field.info !== header.x5u)
    throw new PassportError('format', 'the info parameter and the x5u differ');

  const { iat, attest, origid } = claims;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new PassportError('format', 'no iat');
  if (attest !== 'A' && attest !== 'B' && attest !== 'C')
    throw new PassportError('format', `attest ${String(attest).slice(0, 8)} is not A, B or C`);
  const orig = isRecord(claims.orig) ? canonicalTn(claims.orig.tn) : undefined;
  if (!orig) throw new PassportError('format', 'no orig.tn');
  const destTn = isRecord(claims.dest) ? claims.dest.tn : undefined;
  const dest = Array.isArray(destTn) ? destTn.slice(0, 16).map(canonicalTn) : [];
  if (dest.length === 0 || dest.some((d) => d === undefined)) throw new PassportError('format', 'no dest.tn');
  return {
    x5u: header.x5u,
    orig,
    dest: dest as string[],
    iat,
    attest,
    ...(typeof origid === 'string' ? { origid: origid.slice(0, 64) } : {}),
  };
}

/**
 * The JWS signature (RFC 7515 §5.2) with the certificate's P-256 key: ES256 and nothing else, whatever the
 * header says (readPassport refused every other alg before). It is node's synchronous crypto.verify over the
 * signing input, with the raw r||s form ES256 uses: jose's compactVerify runs the same OpenSSL check through
 * a promisified crypto.verify on libuv's thread pool, which on a busy 2-core box costs a p99 of about 1 ms
 * per call in hand-offs (npm run bench:stir shows both); the tests hold the two to the same answers.
 */
export function verifySignature(token: string, key: KeyObject): void {
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  if (signature.length !== 64)
    throw new PassportError('signature', `an ES256 signature has 64 bytes, not ${signature.length}`);
  let valid: boolean;
  try {
    valid = verify('sha256', Buffer.from(token.slice(0, dot), 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch (err) {
    throw new PassportError('signature', `signature not checked: ${(err as Error).message}`);
  }
  if (!valid) throw new PassportError('signature', 'signature does not verify');
}
