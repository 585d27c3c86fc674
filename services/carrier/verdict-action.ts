import { checkedCalled } from '../common/e164';
import type { Outcome } from '../events';
import type { Verdict } from '../screening/verdict';
import type { MatchedTrunk } from './trunks';
import { verstatHeaders } from './verstat';

/**
 * What a verdict does to a SIP call, in one place for both carrier fronts (drachtio and Kamailio): where the
 * call goes, what headers are added or rewritten, or which final answer it gets. The fronts only carry it out.
 */
export interface CarrierRouting {
  /** Clean (and unscreened) calls: a SIP URI; a base naming only a host gets the called number as its user. */
  nextHop: string;
  /** Warned calls in route mode; empty: warned calls go to the next hop as they came. */
  warningIvrUri: string;
  /** 608 or 603 (config-checked). */
  blockStatus: number;
  blockCallInfo: string;
}

/** How a relayed call travels: as it came, to the warning IVR, or tagged (the display name prefixed). */
export type RelayHow = 'plain' | 'ivr' | 'tag';

export type SipAction =
  | {
      kind: 'relay';
      how: RelayHow;
      target: string;
      /** Headers added to the request (the signed verdict header for the IVR). */
      added: Record<string, string>;
      /** New values of headers the caller sent (tag mode: From and P-Asserted-Identity with the prefix). */
      rewritten: Record<string, string>;
    }
  | { kind: 'reply'; status: number; reason: string; headers: Record<string, string> };

export interface ActionInput {
  verdict: Verdict;
  trunk: MatchedTrunk;
  /** The called user of the Request-URI, as it came (checked here before it reaches any URI). */
  called: string | undefined;
  routing: CarrierRouting;
  /** A header of the request as it came (tag mode rewrites From and P-Asserted-Identity). */
  header(name: string): string | undefined;
  /** The signed X-Spoofguard-Verdict value for this call, or undefined with no key: asked only for the IVR. */
  sign(): string | undefined;
}

/** The names of headers the fronts rewrite in tag mode, as the request has them. */
const TAGGED_HEADERS = ['From', 'P-Asserted-Identity'] as const;

/** "Betrugsverdacht: " before the display name of a name-addr, keeping the URI and parameters. */
export function prefixDisplayName(value: string, prefix: string, fallbackName: string): string {
  const escaped = (s: string) => s.replace(/["\\]/g, '\\$&');
  const quoted = /^\s*"((?:[^"\\]|\\.)*)"\s*</.exec(value);
  if (quoted) return `"${escaped(prefix)}${quoted[1]}" <${value.slice(quoted[0].length)}`;
  const token = /^\s*([^<"]*?)\s*</.exec(value);
  if (token) return `"${escaped(prefix + (token[1] || fallbackName))}" <${value.slice(token[0].length)}`;
  // addr-spec without angle brackets: parameters after it belong to the header, so wrap only the URI
  const semi = value.indexOf(';');
  const uri = semi < 0 ? value.trim() : value.slice(0, semi).trim();
  return `"${escaped(prefix + fallbackName)}" <${uri}>${semi < 0 ? '' : value.slice(semi)}`;
}

/**
 * The target URI for a call: a base that names only a host gets the called number as its user
 * (sip:ivr.example.net → sip:+4930…@ivr.example.net). Only a checked number (digits, an optional leading '+')
 * is ever put into a URI: for any other called user there is no target (undefined), and the caller is refused.
 */
export function targetFor(base: string, calledUser: string | undefined): string | undefined {
  if (!calledUser || /^sips?:[^@;>]+@/.test(base)) return base;
  const scheme = base.startsWith('sips:') ? 5 : base.startsWith('sip:') ? 4 : 0;
  if (scheme === 0) return base;
  const user = checkedCalled(calledUser);
  return user === undefined ? undefined : `${base.slice(0, scheme)}${user}@${base.slice(scheme)}`;
}

/** The reason codes a person reads in the Reason header of a block: those that raised the score. */
export function blockReasonCodes(verdict: Verdict): string[] {
  return verdict.reasons.filter((r) => !r.suppressed && r.score > 0).map((r) => r.code);
}

/** The final answer to a blocked call: 608 Rejected (or 603 Decline) with an RFC 8688 Reason and Call-Info. */
export function blockReply(verdict: Verdict, routing: CarrierRouting): SipAction & { kind: 'reply' } {
  const codes = blockReasonCodes(verdict);
  const text = `Suspected caller ID spoofing${verdict.brandName ? ` (${verdict.brandName})` : ''}: ${codes.join(', ')}`;
  const status = routing.blockStatus;
  const headers: Record<string, string> = {
    // a header value never carries quotes, backslashes or line ends of the brand's name or a reason code
    Reason: `SIP;cause=${status};text="${text.replace(/["\\\r\n]/g, '')}"`,
  };
  if (routing.blockCallInfo) headers['Call-Info'] = routing.blockCallInfo;
  return { kind: 'reply', status, reason: status === 608 ? 'Rejected' : 'Decline', headers };
}

/** 484 for a called number that is not a number: it never reaches a URI. */
export const ADDRESS_INCOMPLETE: SipAction = { kind: 'reply', status: 484, reason: 'Address Incomplete', headers: {} };

/**
 * The verdict's action on the call, by trunk policy: block → the block reply; warn in tag mode → the next hop
 * with the display name prefixed; warn → the warning IVR with the signed header (the next hop as it came when
 * no IVR is configured); allow → the next hop. A call whose Identity we verified carries the result as verstat.
 */
export function verdictAction(input: ActionInput): SipAction {
  const { verdict, trunk, routing } = input;
  if (verdict.verdict === 'block') return blockReply(verdict, routing);
  let how: RelayHow = 'plain';
  if (verdict.verdict === 'warn') how = trunk.mode === 'tag' ? 'tag' : routing.warningIvrUri ? 'ivr' : 'plain';
  const target = targetFor(how === 'ivr' ? routing.warningIvrUri : routing.nextHop, input.called);
  if (target === undefined) return ADDRESS_INCOMPLETE;
  const added: Record<string, string> = {};
  const rewritten: Record<string, string> = {};
  if (how === 'ivr') {
    const signed = input.sign();
    if (signed) added['X-Spoofguard-Verdict'] = signed;
  }
  if (how === 'tag') {
    const name = verdict.brandName ? `${verdict.brandName}?` : '';
    for (const header of TAGGED_HEADERS) {
      const value = input.header(header);
      if (value !== undefined) rewritten[header] = prefixDisplayName(value, trunk.tagPrefix, name);
    }
  }
  // our own STIR/SHAKEN result goes on to the phone as verstat (ATIS-1000074)
  if (verdict.stir)
    Object.assign(
      rewritten,
      verstatHeaders(verdict.stir, (h) => rewritten[h] ?? input.header(h)),
    );
  return { kind: 'relay', how, target, added, rewritten };
}

/** What a final status means for the subscriber's decision. */
export function outcomeOf(status: number | undefined): Outcome {
  if (status === undefined) return 'failed';
  if (status >= 200 && status < 300) return 'accepted';
  if ([403, 486, 600, 603, 607, 608].includes(status)) return 'rejected';
  if (status === 408 || status === 480) return 'unanswered';
  if (status === 487) return 'caller-hung-up';
  return 'failed';
}

/**
 * Whether the warning IVR took the call: it then logs the outcome under our id. Only a failure to reach it
 * (no answer, 408, 5xx/6xx from the way there) is ours to log.
 */
export const reachedIvr = (how: RelayHow, status: number | undefined): boolean =>
  how === 'ivr' && status !== undefined && status < 500 && status !== 408;
