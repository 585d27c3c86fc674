import type { Logger } from '../common/logger';
import type { StirResultLabel } from '../domain/reason-codes';
import { CertificateError } from './certificate-chain';
import { CertificateFetchError } from './certificate-fetcher';
import { IdentityFormatError, parseIdentityHeaders } from './identity-field';
import { type Attestation, type FailureCause, PassportError, readPassport, verifySignature } from './passport';
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
  /** Longest a verification may take, certificate fetch included (ms). */
  timeoutMs: number;
}

/** The short form a log row, an event and a person read: passed-A, failed-signature, unverifiable, missing. */
export function stirLabel(result: StirResult): StirResultLabel {
  if (result.status === 'passed') return `passed-${result.attest}`;
  if (result.status === 'failed') return `failed-${result.cause}`;
  return result.status;
}

/**
 * Verifies a call's SHAKEN PASSporTs (RFC 8224, 8225, 8588): parsed, claims checked against the call, the
 * signing certificate fetched (cached) and chained to the trust anchors, the ES256 signature checked. Every
 * SHAKEN field must pass and all must agree. It never throws and never takes longer than its budget.
 */
export class StirVerifier {
  constructor(
    private readonly signers: SignerCache,
    private readonly options: VerifierOptions,
    private readonly logger: Logger,
  ) {}

  verify(check: StirCheck): Promise<StirResult> {
    if (check.identity.length === 0) return Promise.resolve({ status: 'missing' });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<StirResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ status: 'unverifiable', detail: `no result within ${this.options.timeoutMs} ms` }),
        this.options.timeoutMs,
      );
    });
    return Promise.race([this.run(check), expired]).finally(() => clearTimeout(timer));
  }

  private async run(check: StirCheck): Promise<StirResult> {
    try {
      const fields = parseIdentityHeaders(check.identity);
      if (fields.length === 0) return { status: 'missing' };
      const results = await Promise.all(fields.map((field) => this.one(field, check)));
      const failed = results.find((r) => r.status === 'failed');
      if (failed) return failed;
      const unverifiable = results.find((r) => r.status === 'unverifiable');
      if (unverifiable) return unverifiable;
      const passed = results as Extract<StirResult, { status: 'passed' }>[];
      const first = passed[0];
      if (passed.some((p) => p.orig !== first.orig || p.attest !== first.attest))
        return { status: 'failed', cause: 'format', detail: 'two Identity headers disagree' };
      return first;
    } catch (err) {
      if (err instanceof IdentityFormatError) return { status: 'failed', cause: 'format', detail: err.message };
      this.logger.error({ err: (err as Error).message }, 'STIR verification failed unexpectedly; call unverifiable');
      return { status: 'unverifiable', detail: 'internal error' };
    }
  }

  private async one(field: ReturnType<typeof parseIdentityHeaders>[number], check: StirCheck): Promise<StirResult> {
    try {
      const claims = readPassport(field);
      const skew = this.options.maxSkewSeconds;
      const age = check.at / 1000 - claims.iat;
      if (age > skew) throw new PassportError('time', `iat ${Math.round(age)} s before the call (at most ${skew})`);
      if (-age > skew) throw new PassportError('time', `iat ${Math.round(-age)} s after the call (at most ${skew})`);
      if (!check.callerDigits.includes(claims.orig))
        throw new PassportError('number', `orig.tn ${claims.orig} is not the caller's number`);
      if (check.calledDigits !== undefined && !claims.dest.includes(check.calledDigits))
        throw new PassportError('number', 'dest.tn does not hold the called number');
      const signer = await this.signers.signer(claims.x5u);
      if (check.at < signer.notBefore) throw new PassportError('certificate', 'certificate not yet valid');
      if (check.at > signer.notAfter) throw new PassportError('certificate', 'certificate expired');
      await verifySignature(field.token, signer.key);
      return {
        status: 'passed',
        attest: claims.attest,
        orig: claims.orig,
        ...(claims.origid ? { origid: claims.origid } : {}),
        x5u: claims.x5u,
        spc: signer.spcs[0],
      };
    } catch (err) {
      if (err instanceof PassportError) return { status: 'failed', cause: err.why, detail: err.message };
      if (err instanceof CertificateError) return { status: 'failed', cause: 'certificate', detail: err.message };
      if (err instanceof CertificateFetchError)
        return err.kind === 'refused'
          ? { status: 'failed', cause: 'certificate', detail: err.message }
          : { status: 'unverifiable', detail: err.message };
      throw err;
    }
  }
}
