import type { TrunkConfig } from '../common/config-schema';
import { parseIdentityValue } from '../screening/identity-header';
import type { ScreeningRequest } from '../screening/verdict';

/** The SIP request as screening needs it: read through the trunk's trusted identity headers. */
export interface SipCallerInput {
  header(name: string): string | undefined;
  uri: string;
}

/** Identity headers longer than this are not read at all: the caller ID counts as unparseable. */
const MAX_IDENTITY_LENGTH = 2048;

/** RFC 3261 allows several values of P-Asserted-Identity (a sip and a tel URI): the first is the one shown. */
function firstValue(header: string): string {
  let quoted = false;
  let angle = false;
  for (let i = 0; i < header.length; i++) {
    const ch = header[i];
    if (ch === '"' && header[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && ch === '<') angle = true;
    else if (!quoted && ch === '>') angle = false;
    else if (!quoted && !angle && ch === ',') return header.slice(0, i).trim();
  }
  return header.trim();
}

/** The called number: the user part of the Request-URI (sip, sips or tel). */
export function calledOf(uri: string): string | undefined {
  const parsed = parseIdentityValue(uri.slice(0, 512));
  return parsed.user || undefined;
}

/**
 * Caller, name and STIR/SHAKEN signals from the first identity header the trunk trusts that the request
 * carries (From is always there). verstat is taken from that header, else from any identity header, since
 * verifiers put it on P-Asserted-Identity or From.
 */
export function screeningInput(
  request: SipCallerInput,
  trunk: Pick<TrunkConfig, 'identityHeaders'>,
  trunkId: string,
  callId: string,
): ScreeningRequest & { trustedHeader: string } {
  let trustedHeader = 'From';
  let value = request.header('From') ?? '';
  for (const name of trunk.identityHeaders) {
    const present = request.header(name);
    if (present && present.trim() !== '') {
      trustedHeader = name;
      value = present;
      break;
    }
  }
  const from = value.length > MAX_IDENTITY_LENGTH ? value : firstValue(value);
  let verstat: string | undefined;
  for (const name of [trustedHeader, 'P-Asserted-Identity', 'From']) {
    const header = request.header(name);
    if (!header || header.length > MAX_IDENTITY_LENGTH) continue;
    verstat = parseIdentityValue(header).params.verstat;
    if (verstat) break;
  }
  const to = calledOf(request.uri);
  return {
    from: from.slice(0, 4096),
    ...(to ? { to: to.slice(0, 256) } : {}),
    trunk: trunkId,
    ...(verstat ? { verstat: verstat.slice(0, 64) } : {}),
    identityHeader: request.header('Identity') !== undefined,
    callId: callId.slice(0, 256),
    trustedHeader,
  };
}
