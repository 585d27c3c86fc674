import { z } from 'zod';
import type { ReasonCode, StirResultLabel } from '../domain/reason-codes';
import type { Language } from './brand-data';
import type { NormalizedCaller } from './normalize';

export type VerdictKind = 'allow' | 'warn' | 'block';

export interface Reason {
  code: ReasonCode;
  /** This reason's contribution; 0 for reasons that only inform. */
  score: number;
  text: Record<Language, string>;
  brand?: string;
  /** The reason was found but an allowlist overrode it. */
  suppressed?: boolean;
}

export interface Verdict {
  verdict: VerdictKind;
  score: number;
  brand?: string;
  /** The brand as people know it ("Amazon"). */
  brandName?: string;
  reasons: Reason[];
  caller: Omit<NormalizedCaller, 'params'>;
  /** The called number as E.164, or as it came when it is no public number (an extension). */
  called?: string;
  trunk: string;
  /** The identity header that was screened (From, P-Asserted-Identity, Remote-Party-ID). */
  identity?: string;
  /** Redis did not answer within the budget: the verdict is allow (fail open). */
  degraded: boolean;
  /** The subscriber turned warnings off: a warn verdict became allow. */
  warningsOff?: boolean;
  /** The subscriber's language, when set. */
  language?: string;
  listVersion?: number;
  elapsedMs: number;
  /** The call's id in the flagged-call log, when the SIP front logged it first (signed verdict header). */
  logId?: string;
  /** Our own STIR/SHAKEN check of the call's Identity headers (trunks with `stir: verify`). */
  stir?: VerdictStir;
  /** How long that check took within this screening (ms). */
  stirMs?: number;
}

export interface VerdictStir {
  result: StirResultLabel;
  /** Why it failed or could not be checked. */
  detail?: string;
  /** The signer's origination id (RFC 8588), kept for trace-back. */
  origid?: string;
}

/** One screening request from outside (CLI line, API body, call flow): validated here. */
/** Identity values are read however long they are (padding must not help); this only bounds a request's size. */
const IDENTITY_MAX = 65536;
export const screeningRequestSchema = z.strictObject({
  /** The From header's value, or a number in any form. */
  from: z.string().max(IDENTITY_MAX),
  /** P-Asserted-Identity (several values, or several headers, joined by ","). */
  assertedIdentity: z.string().max(IDENTITY_MAX).optional(),
  remotePartyId: z.string().max(IDENTITY_MAX).optional(),
  /** The display name as the switch shows it (Asterisk's CALLERID(name)); screened beside the headers' names. */
  name: z.string().max(IDENTITY_MAX).optional(),
  to: z.string().max(256).optional(),
  trunk: z.string().max(64).optional(),
  /** What the trunk's own verification service reported: counts only on a trunk with `verification`. */
  verstat: z.string().max(64).optional(),
  /** The call carried an Identity header (SIP front only). */
  identityHeader: z.boolean().optional(),
  /** The call's Identity header values (RFC 8224), as they came: verified on trunks with `stir: verify`. */
  identityValues: z.array(z.string().max(16384)).max(16).optional(),
  callId: z.string().max(256).optional(),
});
export type ScreeningRequest = z.infer<typeof screeningRequestSchema>;
