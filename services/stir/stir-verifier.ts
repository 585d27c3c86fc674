import type { Logger } from '../common/logger';
import type { StirResultLabel } from '../domain/reason-codes';
import { CertificateFetchError } from './certificate-fetcher';
import { IdentityFormatError, parseIdentityHeaders } from './identity-field';
import { CertificateError, type VerifiedSigner } from './certificate-chain';
import {
  type Attestation,
  type FailureCause,
  PassportError,
  type PassportClaims,
  readPassport,
  verifySignature,
} from './passport';
import type { SignerCache } from './signer-cache';

/** What verifying a call's Identity headers found: one of the verdict's reasons. */
export type StirResult =
  | { status: 'passed'; attest: Attestation; orig: string; origid?: string; x5u: string; spc: string }
  | { status: 'failed'; cause: FailureCause; detail: string }
  /** The certificate could not be had in time (repository down, slow): never a pass. */
  | { status: 'unverifiable'; detail: string }
  | { status: 'missing' };

export interface StirCheck {
  /** The request's Identity header values, as they came. */
  identity: readonly string[];
  /** The screened caller's number(s), E.164 digits: orig.tn must be one of them. */
  callerDigits: readonly string[];
  /** The called number, E.164 digits: dest.tn must hold it (undefined: an extension, not checked). */
  calledDigits?: string;
  /** The call's time (ms). */
  at: number;
}

export interface VerifierOptions {
  maxSkewSeconds: number;
  /**
   * Longest a call waits for its verification (ms). A certificate fetch that takes longer goes on (one per
   * URL) and serves the calls after it; this call is unverifiable.
   */
  timeoutMs: number;
}

/** The short form a log row, an event and a person read: passed-A, failed-signature, unverifiable, missing. */
export function stirLabel(result: StirResult): StirResultLabel {
  if (result.status === 'passed') return `passed-${result.attest}`;
  if (result.status === 'failed') return `failed-${result.cause}`;
  return result.status;
}

type Field = ReturnType<typeof parseIdentityHeaders>[number];
type Passed = Extract<StirResult, { status: 'passed' }>;

/** One result for the call: a failure first, else an unverifiable one, else the pass all fields agree on. */
function combine(results: readonly StirResult[]): StirResult {
  const failed = results.find((r) => r.status === 'failed');
  if (failed) return failed;
  const unverifiable = results.find((r) => r.status === 'unverifiable');
  if (unverifiable) return unverifiable;
  const passed = results as Passed[];
  const first = passed[0];
  if (passed.some((p) => p.orig !== first.orig || p.attest !== first.attest))
    return { status: 'failed', cause: 'format', detail: 'two Identity headers disagree' };
  return first;
}

/** The result a thrown error stands for; anything else is rethrown. */
function resultOf(err: unknown): StirResult {
  if (err instanceof PassportError) return { status: 'failed', cause: err.why, detail: err.message };
  if (err instanceof IdentityFormatError) return { status: 'failed', cause: 'format', detail: err.message };
  if (err instanceof CertificateError) return { status: 'failed', cause: 'certificate', detail: err.message };
  if (err instanceof CertificateFetchError)
    return err.kind === 'refused'
      ? { status: 'failed', cause: 'certificate', detail: err.message }
      : { status: 'unverifiable', detail: err.message };
  throw err;
}

/**
 * Verifies a call's SHAKEN PASSporTs (RFC 8224, 8225, 8588): parsed, claims checked against the call, the
 * signing certificate fetched (cached) and chained to the trust anchors, the ES256 signature checked. Every
 * SHAKEN field must pass and all must agree. It never throws and never takes longer than its budget. With
 * every certificate already at hand (the common case) it completes synchronously: no timer, no hand-off.
 */
export class StirVerifier {
  constructor(
    private readonly signers: SignerCache,
    private readonly options: VerifierOptions,
    private readonly logger: Logger,
  ) {}

  verify(check: StirCheck): Promise<StirResult> {
    if (check.identity.length === 0) return Promise.resolve({ status: 'missing' });
    let fields: Field[];
    try {
      fields = parseIdentityHeaders(check.identity);
    } catch (err) {
      return Promise.resolve(this.safely(() => resultOf(err)));
    }
    if (fields.length === 0) return Promise.resolve({ status: 'missing' });
    const quick = this.safely(() => this.withCachedSigners(fields, check));
    if (quick) return Promise.resolve(quick);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<StirResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ status: 'unverifiable', detail: `no result within ${this.options.timeoutMs} ms` }),
        this.options.timeoutMs,
      );
    });
    const full = Promise.all(fields.map((field) => this.one(field, check))).then(combine, (err: unknown) =>
      this.safely(() => resultOf(err)),
    );
    return Promise.race([full, expired]).finally(() => clearTimeout(timer));
  }

  /** A result from the fields, or undefined when a signer must be fetched first. */
  private withCachedSigners(fields: readonly Field[], check: StirCheck): StirResult | undefined {
    const results: StirResult[] = [];
    for (const field of fields) {
      try {
        const claims = this.claims(field, check);
        const signer = this.signers.cached(claims.x5u);
        if (signer === undefined) return undefined;
        results.push(this.checked(field, claims, signer, check));
      } catch (err) {
        results.push(resultOf(err));
      }
    }
    return combine(results);
  }

  private async one(field: Field, check: StirCheck): Promise<StirResult> {
    try {
      const claims = this.claims(field, check);
      return this.checked(field, claims, await this.signers.signer(claims.x5u), check);
    } catch (err) {
      return resultOf(err);
    }
  }

  /** The PASSporT's claims, checked against the call before any certificate is fetched for it. */
  private claims(field: Field, check: StirCheck): PassportClaims {
    const claims = readPassport(field);
    const skew = this.options.maxSkewSeconds;
    const age = check.at / 1000 - claims.iat;
    if (age > skew) throw new PassportError('time', `iat ${Math.round(age)} s before the call (at most ${skew})`);
    if (-age > skew) throw new PassportError('time', `iat ${Math.round(-age)} s after the call (at most ${skew})`);
    if (!check.callerDigits.includes(claims.orig))
      throw new PassportError('number', `orig.tn ${claims.orig} is not the caller's number`);
    if (check.calledDigits !== undefined && !claims.dest.includes(check.calledDigits))
      throw new PassportError('number', 'dest.tn does not hold the called number');
    return claims;
  }

  /** The certificate's dates at the call's time, then the signature. Throws or returns the pass. */
  private checked(field: Field, claims: PassportClaims, signer: VerifiedSigner | Error, check: StirCheck): Passed {
    if (signer instanceof Error) throw signer;
    if (check.at < signer.notBefore) throw new PassportError('certificate', 'certificate not yet valid');
    if (check.at > signer.notAfter) throw new PassportError('certificate', 'certificate expired');
    verifySignature(field.token, signer.key);
    return {
      status: 'passed',
      attest: claims.attest,
      orig: claims.orig,
      ...(claims.origid ? { origid: claims.origid } : {}),
      x5u: claims.x5u,
      spc: signer.spcs[0],
    };
  }

  /** A bug here must not fail the call: it is logged and the call is unverifiable. */
  private safely<T>(run: () => T): T | StirResult {
    try {
      return run();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'STIR verification failed unexpectedly; call unverifiable');
      return { status: 'unverifiable', detail: 'internal error' };
    }
  }
}
