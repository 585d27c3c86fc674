/**
 * SIP session timers (RFC 4028) for a bridged call: the terms each leg agrees, an interval and who refreshes.
 * The app states them (the 2xx to the caller, the INVITE to the callee); drachtio-server, which is the user
 * agent of both legs, runs them: it arms a timer from the Session-Expires of each dialog's 2xx, sends the
 * refreshing re-INVITEs where we refresh, resets the timer on the peer's refreshes, and where the peer stops
 * refreshing sends a BYE (Reason: "Session timer expired") and tells the app as if the peer had hung up, so the
 * other leg is ended too. It does not state the terms in its 2xx to a peer's refresh, which to the peer means
 * "no timer" (§7.4) while drachtio-server still ends the call when refreshes stop: the app answers refreshes
 * (refreshAnswerHeaders). One lost BYE then holds the dialogs for one interval, not forever (sip.maxCallSec is
 * the bound for peers without timers).
 */

/** RFC 4028 §4: no interval below 90 s may be asked for. */
export const MIN_SE_SEC = 90;

/** What one leg agreed: the interval and which side sends the refreshes. */
export interface TimerTerms {
  intervalSec: number;
  refresher: 'us' | 'peer';
  /** The peer said `timer` in Supported or Require: it gets `Require: timer` in our answers. */
  peerSupports: boolean;
}

export interface HeaderReader {
  header(name: string): string | undefined;
}

const lists = (m: HeaderReader, name: string): string[] =>
  (m.header(name) ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);

const saysTimer = (m: HeaderReader): boolean =>
  lists(m, 'Supported').includes('timer') || lists(m, 'Require').includes('timer');

/** `Session-Expires: 1800;refresher=uac`, read; undefined when absent or not a number. */
function sessionExpires(m: HeaderReader): { sec: number; refresher?: 'uac' | 'uas' } | undefined {
  // 'x' is its compact form (RFC 4028 §4)
  const match = /^\s*(\d{1,10})\s*(?:;(.*))?$/.exec(m.header('Session-Expires') ?? m.header('x') ?? '');
  if (!match) return undefined;
  const refresher = /(?:^|;)\s*refresher\s*=\s*(uac|uas)\s*(?:;|$)/i.exec(match[2] ?? '')?.[1]?.toLowerCase();
  return { sec: Number(match[1]), ...(refresher ? { refresher: refresher as 'uac' | 'uas' } : {}) };
}

export type CallerTimer =
  /** The caller asked for less than we take: answer 422 with this Min-SE (RFC 4028 §8.1). */
  | { tooSmall: true; minSe: number }
  /** A timer on the caller's leg, or none (the caller neither supports nor asked for one). */
  | { tooSmall?: false; terms?: TimerTerms };

/**
 * The caller's INVITE, read as its UAS (RFC 4028 §9): a timer when the caller supports timers or a proxy asked
 * for one. The interval is the caller's, lowered to ours; the caller refreshes when it said so, or when it
 * supports timers and left the choice to us (it is the side that knows it is alive); else we do.
 */
export function callerTimer(invite: HeaderReader, ourSec: number): CallerTimer {
  if (ourSec === 0) return {};
  const asked = sessionExpires(invite);
  const supports = saysTimer(invite);
  if (!asked && !supports) return {};
  const minSe = Math.max(MIN_SE_SEC, Number(/^\s*(\d{1,10})/.exec(invite.header('Min-SE') ?? '')?.[1] ?? 0));
  if (asked && asked.sec < MIN_SE_SEC) return { tooSmall: true, minSe: MIN_SE_SEC };
  const intervalSec = Math.max(minSe, Math.min(asked?.sec ?? ourSec, ourSec));
  const peerRefreshes = supports && asked?.refresher !== 'uas';
  return { terms: { intervalSec, refresher: peerRefreshes ? 'peer' : 'us', peerSupports: supports } };
}

/** Headers of the INVITE to the callee (we are its UAC): we support timers and ask for ours. */
export function calleeOffer(ourSec: number, supported: string | undefined): Record<string, string> {
  if (ourSec === 0) return {};
  const tokens = (supported ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (!tokens.some((t) => t.toLowerCase() === 'timer')) tokens.push('timer');
  return { Supported: tokens.join(', '), 'Session-Expires': String(ourSec), 'Min-SE': String(MIN_SE_SEC) };
}

/** Headers that state a leg's terms (the 2xx to the caller). `role`: what we are in that dialog. */
export function termsHeaders(terms: TimerTerms, role: 'uas' | 'uac'): Record<string, string> {
  const weAre = role;
  const peerIs = role === 'uas' ? 'uac' : 'uas';
  const refresher = terms.refresher === 'us' ? weAre : peerIs;
  return {
    'Session-Expires': `${terms.intervalSec};refresher=${refresher}`,
    ...(terms.peerSupports ? { Require: 'timer' } : {}),
  };
}

/**
 * The terms of our 2xx to a peer's refresh (re-INVITE or UPDATE) on a bridged leg: its Session-Expires copied
 * (§9), the refresher it names or, when it names none, itself (drachtio-server may then refresh too, which is
 * harmless); nothing when it asked for no timer.
 */
export function refreshAnswerHeaders(refresh: HeaderReader): Record<string, string> {
  const asked = sessionExpires(refresh);
  if (!asked) return {};
  return {
    'Session-Expires': `${asked.sec};refresher=${asked.refresher ?? 'uac'}`,
    ...(saysTimer(refresh) ? { Require: 'timer' } : {}),
  };
}
