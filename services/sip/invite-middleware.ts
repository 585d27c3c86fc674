import { checkedCalled } from '../common/e164';
import { excerpt } from '../common/excerpt';
import type { Verdict, ScreeningRequest } from '../screening/verdict';
import { screeningInput } from '../carrier/caller-identity';
import { type CallSession, OWN_HEADER } from './call-session';
import type { TrunkMatcher } from '../carrier/trunks';

/**
 * The INVITE pipeline, in order, drachtio style: each step reads or decides one thing about the call and
 * returns next(), or answers the request and stops. The steps run in this order for every INVITE. Only a step
 * that waits (screening) is async: a step that merely returns next() costs no promise and no resumption of
 * its own, which every INVITE would pay once per step.
 */
export type Next = () => Promise<void> | void;
export type Middleware = (call: CallSession, next: Next) => Promise<void> | void;

export interface InviteDeps {
  trunks: TrunkMatcher;
  screen(request: ScreeningRequest): Promise<Verdict>;
  maxMessageBytes: number;
  /** Counts a call refused for what the caller sent (metrics). */
  refused(reason: string): void;
}

/** 513 for requests too large to be honest INVITEs: nothing else reads them. */
export const rejectOversized =
  (maxBytes: number): Middleware =>
  (call, next) => {
    const { bytes } = call.transaction.request;
    if (bytes > maxBytes) {
      call.log.warn({ bytes, maxBytes }, 'INVITE too large: rejected');
      return call.reply(513, 'Message Too Large');
    }
    return next();
  };

/**
 * Loop protection (RFC 3261 §16.3): a request with no hops left is answered 483 here, before any work; the
 * bridge passes Max-Forwards on one lower (CallSession), as the proxy does.
 */
export const checkMaxForwards: Middleware = (call, next) => {
  const hops = call.maxForwards;
  if (hops !== undefined && hops <= 0) {
    call.log.info({ maxForwards: hops }, 'Max-Forwards exhausted: answered 483 Too Many Hops');
    return call.reply(483, 'Too Many Hops');
  }
  return next();
};

/** X-Spoofguard-* headers are ours: from outside they are forgeries. Noted here, never read, never passed on. */
export const stripForeignHeaders: Middleware = (call, next) => {
  call.foreignHeaders = call.transaction.request.headerNames().filter((name) => OWN_HEADER.test(name));
  if (call.foreignHeaders.length > 0)
    call.log.warn({ headers: call.foreignHeaders }, 'foreign X-Spoofguard headers removed');
  return next();
};

/**
 * The called number is the caller's choice, and it goes into the next hop's or the IVR's Request-URI: a user
 * part that is not digits with an optional leading '+' (at most 32) is refused with 484 Address Incomplete,
 * before screening. A Request-URI without a user part has no called number to check.
 */
export const checkCalled =
  (refused: (reason: string) => void): Middleware =>
  (call, next) => {
    if (!call.input) throw new Error('checkCalled before readCaller');
    const called = call.input.to;
    if (called !== undefined && checkedCalled(called) === undefined) {
      refused('called-number');
      call.log.warn(
        { called: excerpt(called, 60), length: called.length },
        'called number refused: not digits with an optional leading + (at most 32): answered 484',
      );
      return call.reply(484, 'Address Incomplete');
    }
    return next();
  };

export const identifyTrunk =
  (trunks: TrunkMatcher): Middleware =>
  (call, next) => {
    call.trunk = trunks.match(call.transaction.request.source.address, (name) => call.header(name));
    return next();
  };

export const readCaller: Middleware = (call, next) => {
  const trunk = call.trunk;
  if (!trunk) throw new Error('readCaller before identifyTrunk');
  call.input = screeningInput(
    {
      header: (name) => call.header(name),
      headerLines: (name) => call.transaction.request.headerLines(name),
      uri: call.transaction.request.uri,
    },
    trunk.id,
    call.transaction.request.callId,
  );
  return next();
};

/** The engine fails open by itself (degraded → allow); an error here is a bug, and also fails open. */
export const screenCall =
  (screen: InviteDeps['screen']): Middleware =>
  async (call, next) => {
    if (!call.input) throw new Error('screenCall before readCaller');
    call.verdict = await screen(call.input);
    // a carrier's clean calls are most of its traffic: their line is debug; flagged and degraded ones are info
    const level = call.verdict.verdict === 'allow' && !call.verdict.degraded ? 'debug' : 'info';
    if (call.logs(level))
      call.log[level](
        {
          trunk: call.trunk?.id,
          identity: call.verdict.identity,
          verdict: call.verdict.verdict,
          score: call.verdict.score,
          brand: call.verdict.brand,
          degraded: call.verdict.degraded,
        },
        'screened',
      );
    await next();
  };

export const routeCall: Middleware = (call) => call.route();

export function inviteMiddleware(deps: InviteDeps): Middleware[] {
  return [
    rejectOversized(deps.maxMessageBytes),
    checkMaxForwards,
    stripForeignHeaders,
    identifyTrunk(deps.trunks),
    readCaller,
    checkCalled(deps.refused),
    screenCall(deps.screen),
    routeCall,
  ];
}

/** Runs the steps in order; each decides whether the next one runs. A step may throw or reject: the caller handles both. */
export function runMiddleware(steps: readonly Middleware[], call: CallSession): Promise<void> | void {
  const at = (i: number): Promise<void> | void => steps[i]?.(call, () => at(i + 1));
  return at(0);
}
