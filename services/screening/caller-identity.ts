import type { TrunkConfig } from '../common/config-schema';
import {
  guessDigits,
  MAX_IDENTITY_VALUES,
  type NormalizedCaller,
  type NumberingContext,
  normalizeIdentity,
} from './normalize';
import type { ScreeningRequest } from './verdict';

export type IdentityHeaderName = TrunkConfig['identityHeaders'][number];

/**
 * Who the caller claims to be, read the way a scammer cannot bend: the first header the trunk trusts that has a
 * readable number is screened, every one of its values (a second P-Asserted-Identity value cannot hide the
 * first); a trusted header that is present but unreadable is noted and the next one in the trust order is
 * read; display names are taken from the screened header and from From (phones show either).
 */
export interface CallerIdentity {
  /** The header whose values are screened. */
  header: IdentityHeaderName;
  /** Its values, normalised (at least one). */
  callers: NormalizedCaller[];
  /** Display names a phone may show for this call, cleaned: the screened header's and From's. */
  names: string[];
  /** Trusted headers before `header` that were present but held no readable number. */
  unreadable: IdentityHeaderName[];
  /** The verification result of the trunk's own verification service, and the number it is for. */
  verified?: { verstat: string; digits?: string };
  /** verstat values that were not trusted (self-asserted, or for another number): for the analysts. */
  ignoredVerstat: string[];
}

export type TrunkIdentitySettings = NumberingContext &
  Pick<TrunkConfig, 'identityHeaders' | 'verification' | 'identityAlwaysSent'>;

function headerValue(request: ScreeningRequest, header: IdentityHeaderName): string | undefined {
  const value =
    header === 'From'
      ? request.from
      : header === 'P-Asserted-Identity'
        ? request.assertedIdentity
        : request.remotePartyId;
  // a caller that is not text at all (a bad API body) is read as such: normalizeIdentity says why
  if (typeof value !== 'string') return header === 'From' ? (value as unknown as string) : undefined;
  return value.trim() !== '' ? value : undefined;
}

/**
 * The digits readCallerIdentity will most likely screen, guessed without parsing (see guessDigits): the first
 * trusted header that looks like it holds a number. Undefined when no header does.
 */
export function guessCallerDigits(request: ScreeningRequest, trunk: TrunkIdentitySettings): string | undefined {
  for (const header of trunk.identityHeaders) {
    const value = headerValue(request, header);
    const digits = typeof value === 'string' ? guessDigits(value, trunk) : undefined;
    if (digits !== undefined) return digits;
  }
  return undefined;
}

export function readCallerIdentity(request: ScreeningRequest, trunk: TrunkIdentitySettings): CallerIdentity {
  const parsed = new Map<IdentityHeaderName, NormalizedCaller[]>();
  const read = (header: IdentityHeaderName): NormalizedCaller[] | undefined => {
    if (!parsed.has(header)) {
      const value = headerValue(request, header);
      // From carries one value: a comma in it is part of a broken name, not a second identity
      if (value !== undefined)
        parsed.set(header, normalizeIdentity(value, trunk, undefined, header === 'From' ? 1 : MAX_IDENTITY_VALUES));
    }
    return parsed.get(header);
  };

  const unreadable: IdentityHeaderName[] = [];
  let chosen: { header: IdentityHeaderName; callers: NormalizedCaller[] } | undefined;
  for (const header of trunk.identityHeaders) {
    const callers = read(header);
    if (!callers) continue;
    if (callers.every((c) => c.kind === 'unparseable')) {
      unreadable.push(header);
      continue;
    }
    chosen = { header, callers };
    break;
  }
  if (!chosen) {
    // nothing trusted was readable: From as it is (every SIP request has one), else the first trusted header
    const header: IdentityHeaderName = read('From') ? 'From' : (unreadable[0] ?? 'From');
    chosen = { header, callers: read(header) ?? normalizeIdentity(request.from, trunk, undefined, 1) };
    if (unreadable.includes(header)) unreadable.splice(unreadable.indexOf(header), 1);
  }

  const from = chosen.header === 'From' ? undefined : read('From');
  const names: string[] = [];
  const addName = (name: string | undefined): void => {
    if (name && !names.includes(name)) names.push(name);
  };
  addName(request.name);
  for (const caller of chosen.callers) addName(caller.displayName);
  for (const caller of from ?? []) addName(caller.displayName);
  for (const caller of chosen.callers) if (!caller.displayName && names[0]) caller.displayName = names[0];

  const { verified, ignoredVerstat } = readVerstat(request, trunk, chosen.callers, read);
  return {
    header: chosen.header,
    callers: chosen.callers,
    names,
    unreadable,
    ...(verified ? { verified } : {}),
    ignoredVerstat,
  };
}

/**
 * verstat counts only where the trunk's own network verified the call, on the header its verification service
 * writes, and only for the number it verified; an explicit `verstat` in the request is that service's word
 * (passed on by a dialplan, say) and likewise counts only on such a trunk. Every other verstat is ignored.
 */
function readVerstat(
  request: ScreeningRequest,
  trunk: TrunkIdentitySettings,
  screened: readonly NormalizedCaller[],
  read: (header: IdentityHeaderName) => NormalizedCaller[] | undefined,
): Pick<CallerIdentity, 'verified' | 'ignoredVerstat'> {
  const ignored = new Set<string>();
  let verified: CallerIdentity['verified'];
  const service = trunk.verification?.header;
  const isScreened = (digits: string | undefined): boolean => !!digits && screened.some((c) => c.digits === digits);
  if (request.verstat) {
    if (service) verified = { verstat: request.verstat, digits: screened[0]?.digits };
    else ignored.add(request.verstat);
  }
  for (const header of ['P-Asserted-Identity', 'Remote-Party-ID', 'From'] as const) {
    for (const caller of read(header) ?? []) {
      const verstat = caller.params?.verstat;
      if (!verstat) continue;
      if (!verified && header === service && isScreened(caller.digits)) verified = { verstat, digits: caller.digits };
      else if (verstat !== verified?.verstat || caller.digits !== verified.digits) ignored.add(verstat);
    }
  }
  return { ...(verified ? { verified } : {}), ignoredVerstat: [...ignored].map((v) => v.slice(0, 64)) };
}
