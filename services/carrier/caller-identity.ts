import { parseIdentityValue } from '../screening/identity-header';
import type { ScreeningRequest } from '../screening/verdict';

/** The SIP request as screening needs it: read through the trunk's trusted identity headers. */
export interface SipCallerInput {
  header(name: string): string | undefined;
  uri: string;
}

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
  return {
    from: request.header('From') ?? '',
    ...(pai ? { assertedIdentity: pai } : {}),
    ...(rpid ? { remotePartyId: rpid } : {}),
    ...(to ? { to: to.slice(0, 256) } : {}),
    trunk: trunkId,
    identityHeader: request.header('Identity') !== undefined,
    callId: callId.slice(0, 256),
  };
}
