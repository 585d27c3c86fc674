import { parseIdentityValue } from '../screening/identity-header';
import type { ScreeningRequest } from '../screening/verdict';

/** The SIP request as screening needs it: read through the trunk's trusted identity headers. */
export interface SipCallerInput {
  header(name: string): string | undefined;
  /** Each line of a header as it came (Identity may come several times); else header() is read. */
  headerLines?(name: string): string[];
  uri: string;
}

/** An Identity value is well under 2 KB; more than 16 of them, or longer ones, fail as format. */
const MAX_IDENTITY_VALUES = 16;
const MAX_IDENTITY_LENGTH = 16384;

/** The called number: the user part of the Request-URI (sip, sips or tel). */
export function calledOf(uri: string): string | undefined {
  const parsed = parseIdentityValue(uri.slice(0, 512));
  return parsed.user || undefined;
}

/**
 * The identity headers as they came (which to trust, and how, is the screening engine's decision by the
 * trunk's settings), the called number and whether the call carried an Identity header.
 */
export function screeningInput(request: SipCallerInput, trunkId: string, callId: string): ScreeningRequest {
  const to = calledOf(request.uri);
  const pai = request.header('P-Asserted-Identity');
  const rpid = request.header('Remote-Party-ID');
  const single = request.header('Identity');
  const identity = request.headerLines ? request.headerLines('Identity') : single !== undefined ? [single] : [];
  return {
    from: request.header('From') ?? '',
    ...(pai ? { assertedIdentity: pai } : {}),
    ...(rpid ? { remotePartyId: rpid } : {}),
    ...(to ? { to: to.slice(0, 256) } : {}),
    trunk: trunkId,
    identityHeader: identity.length > 0,
    ...(identity.length
      ? { identityValues: identity.slice(0, MAX_IDENTITY_VALUES).map((v) => v.slice(0, MAX_IDENTITY_LENGTH)) }
      : {}),
    callId: callId.slice(0, 256),
  };
}
