import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { callLogger, type Level, type Logger } from '../common/logger';
import type { FlaggedCallEvent, Outcome } from '../events';
import { flaggedEvent, outcomeEvent } from '../events/flagged-call';
import type { ScreeningRequest, Verdict } from '../screening/verdict';
import { calledOf } from '../carrier/caller-identity';
import { describeError } from './describe-error';
import { SetupDeadlines } from './setup-deadlines';
import { BridgeFailed, type ServerTransaction } from './srf-transaction';
import type { MatchedTrunk } from '../carrier/trunks';
import {
  blockReasonCodes,
  type CarrierRouting,
  type RelayHow,
  targetFor,
  verdictAction,
  outcomeOf,
  reachedIvr,
} from '../carrier/verdict-action';

export interface SipRouting extends CarrierRouting {
  /** Longest wait for a proxied or bridged call's final answer from drachtio-server. */
  setupTimeoutMs: number;
  /** Longest a bridged call may last: then both legs get a BYE (sip.maxCallSec). */
  maxCallMs: number;
}

export interface SessionDeps {
  emit(event: FlaggedCallEvent): void;
  /**
   * The signed X-Spoofguard-Verdict value, bound to the called number and (for a proxied call, which keeps
   * the caller's Call-ID) the SIP Call-ID; undefined when no key is configured.
   */
  sign(verdict: Verdict, logId: string, binding: { to: string; callId?: string }): string | undefined;
  routing: SipRouting;
  logger: Logger;
}

/** Headers the B2BUA never copies: drachtio-server makes its own for the B leg, or they are ours to strip. */
const NOT_COPIED = new Set([
  'via',
  'call-id',
  'cseq',
  'contact',
  'content-length',
  'max-forwards',
  'route',
  'record-route',
  'authorization',
  'proxy-authorization',
  // session timers are agreed per leg (session-timer.ts): the caller's terms are not the callee's
  'session-expires',
  'x',
  'min-se',
]);
export const OWN_HEADER = /^x-spoofguard-/i;
/**
 * Our key of each call: this process's random id and a counter. A caller chooses its Call-ID, so a reused one
 * must not merge into an old record; this is as unique as a UUID a call, without the random bytes of one.
 */
const PROCESS_KEY = randomUUID();
/** The calls of this process waiting for a final answer (sip.setupTimeoutSec). */
const SETUP_DEADLINES = new SetupDeadlines();
let callsSeen = 0;
const nextLogId = (): string => `sip:${PROCESS_KEY}.${(++callsSeen).toString(36)}`;

/** What of the caller's Call-ID is kept as a search field: printable, bounded. */
const sipCallIdOf = (callId: string): string => callId.replace(/[^\x21-\x7e]/g, '?').slice(0, 256);

/**
 * One INVITE through the SIP front: what the middleware learnt about it (trunk, screening input, verdict),
 * then the routing the verdict asks for, the FlaggedCall events, and its end.
 */
export class CallSession {
  readonly logId: string;
  /** The caller's Call-ID, kept as a search field of the log. */
  readonly sipCallId: string;
  readonly started = performance.now();
  readonly receivedAt = Date.now();
  /** X-Spoofguard-* headers that came from outside: never read, never passed on. */
  foreignHeaders: string[] = [];
  trunk?: MatchedTrunk;
  input?: ScreeningRequest;
  verdict?: Verdict;
  /** When the app had decided (its own time, for the benchmark). */
  decidedAt?: number;
  private sent = false;
  private resolveEnded!: () => void;
  readonly ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));

  constructor(
    readonly transaction: ServerTransaction,
    private readonly deps: SessionDeps,
    /** Told once, when the call is answered, passed on or ended (the app counts calls still being decided). */
    private readonly onDecided?: () => void,
  ) {
    this.logId = nextLogId();
    this.sipCallId = sipCallIdOf(transaction.request.callId);
  }

  private callLog?: Logger;

  /** The call's logger: every line carries the call's ids. Made on first use; a clean call may log nothing. */
  get log(): Logger {
    return (this.callLog ??= callLogger(this.deps.logger, this.logId, { sipCallId: this.sipCallId }));
  }

  /** Whether lines at `level` are written: the path every clean call takes asks first and builds no line. */
  logs(level: Level): boolean {
    return this.deps.logger.isLevelEnabled(level);
  }

  /** Whether the caller got (or is getting) its answer: a reply, or the request passed on. */
  get finalSent(): boolean {
    return this.sent;
  }

  set finalSent(sent: boolean) {
    if (!sent) return;
    this.sent = true;
    this.decided();
  }

  private decidedTold = false;

  private decided(): void {
    if (this.decidedTold) return;
    this.decidedTold = true;
    this.onDecided?.();
  }

  /** A header as the rest of the app may see it: our own header names never come from outside. */
  header(name: string): string | undefined {
    return OWN_HEADER.test(name) ? undefined : this.transaction.request.header(name);
  }

  /** The INVITE's Max-Forwards (70 when absent, RFC 3261 §8.1.1.6); undefined when unreadable. */
  get maxForwards(): number | undefined {
    const value = this.transaction.request.header('Max-Forwards');
    if (value === undefined) return 70;
    return /^\s*\d{1,9}\s*$/.test(value) ? Number(value) : undefined;
  }

  get flagged(): boolean {
    return this.verdict !== undefined && this.verdict.verdict !== 'allow';
  }

  reply(status: number, reason?: string, headers?: Record<string, string>): void {
    this.finalSent = true;
    this.decidedAt ??= performance.now();
    this.transaction.reply(status, reason, headers);
    this.end();
  }

  end(): void {
    // a call that ends without an answer of its own (an error) is no longer being decided either
    this.decided();
    this.resolveEnded();
  }

  /**
   * Fail open: the call goes on to the next hop unscreened (after an error, or above sip.maxCallsInSetup).
   * Forged X-Spoofguard-* headers are removed on this path too: a request that carries one is bridged (the
   * proxy can only add headers), one that carries none is proxied as it came. A called number that is not a
   * number never reaches a URI (484); when even passing on fails, the caller gets `failStatus`.
   */
  async passOnUnscreened(failStatus: 500 | 503): Promise<void> {
    this.foreignHeaders = this.transaction.request.headerNames().filter((name) => OWN_HEADER.test(name));
    const target = targetFor(this.deps.routing.nextHop, calledOf(this.transaction.request.uri));
    this.finalSent = true;
    try {
      if (target === undefined) return this.reply(484, 'Address Incomplete');
      if (this.foreignHeaders.length > 0) return await this.bridge(target, {}, 'plain');
      await this.withinSetupTime(this.transaction.proxy([target], {}, this.trunk?.recordRoute ?? true), 'proxied');
    } catch (err) {
      this.log.error(
        { err: describeError(err) },
        `passing an INVITE on unscreened failed too: answering ${failStatus}`,
      );
      try {
        if (failStatus === 500) this.transaction.reply(500, 'Server Internal Error');
        else this.transaction.reply(503, 'Service Unavailable', { 'Retry-After': '1' });
      } catch {
        // the transaction is gone (connection lost): drachtio-server answers the caller itself
      }
    } finally {
      this.end();
    }
  }

  /**
   * Carries out what the verdict does to the call (carrier/verdict-action.ts, shared with the Kamailio front);
   * what throws here reaches the app's central (fail-open) handler.
   */
  async route(): Promise<void> {
    const verdict = this.verdict as Verdict;
    const trunk = this.trunk as MatchedTrunk;
    const action = verdictAction({
      verdict,
      trunk,
      called: this.input?.to,
      routing: this.deps.routing,
      header: (name) => this.header(name),
      // a bridged B leg gets a Call-ID of drachtio-server's own: only a proxied call is bound to its Call-ID
      sign: () =>
        this.deps.sign(verdict, this.logId, {
          to: this.input?.to ?? '',
          ...(this.foreignHeaders.length > 0 ? {} : { callId: this.transaction.request.callId }),
        }),
    });
    // the middleware refused such a called number before screening (checkCalled): a second guard, not a path
    if (action.kind === 'reply' && action.status === 484)
      throw new Error('no target for a called number that is not a number');
    if (action.kind === 'reply') {
      // the answer first, the log after: events never hold up a call
      this.reply(action.status, action.reason, action.headers);
      this.emitFlagged();
      this.emitOutcome('blocked', {});
      this.log.info({ status: action.status, reasons: blockReasonCodes(verdict) }, 'blocked');
      return;
    }
    return this.forward(action.target, action.how, action.added, action.rewritten);
  }

  /**
   * Proxies when the request can go on as it came (plus our header); bridges as a B2BUA when a header must
   * be removed or rewritten: drachtio-server only adds headers to a proxied request, never removes one.
   */
  private async forward(
    target: string,
    how: RelayHow,
    added: Record<string, string>,
    rewritten: Record<string, string>,
  ): Promise<void> {
    this.decidedAt = performance.now();
    this.finalSent = true;
    if (how === 'tag' || this.foreignHeaders.length > 0 || Object.keys(rewritten).length > 0) {
      if (this.flagged) setImmediate(() => this.emitFlagged());
      return this.bridge(target, added, how, rewritten);
    }

    const started = Date.now();
    // the proxy command is on its way when proxy() returns; the log comes after
    const proxied = this.transaction.proxy([target], added, (this.trunk as MatchedTrunk).recordRoute);
    if (this.flagged) this.emitFlagged();
    const result = await this.withinSetupTime(proxied, 'proxied');
    if (!result) return this.end();
    if (this.logs('debug')) this.log.debug({ target, finalStatus: result.finalStatus }, 'proxied');
    if (this.flagged && !reachedIvr(how, result.finalStatus))
      this.emitOutcome(outcomeOf(result.finalStatus), { ringMs: Date.now() - started });
    this.end();
  }

  private async bridge(
    target: string,
    added: Record<string, string>,
    how: RelayHow,
    rewritten: Record<string, string> = {},
  ): Promise<void> {
    const headers: Record<string, string> = {};
    const request = this.transaction.request;
    const newValues = new Map(Object.entries(rewritten).map(([name, value]) => [name.toLowerCase(), value]));
    for (const name of request.headerNames()) {
      if (NOT_COPIED.has(name.toLowerCase()) || OWN_HEADER.test(name)) continue;
      const lines = request.headerLines(name);
      // a header that came as several lines goes on as several lines (drachtio-srf writes a value as it is)
      const value =
        newValues.get(name.toLowerCase()) ?? (lines.length > 1 ? lines.join(`\r\n${name}: `) : request.header(name));
      if (value !== undefined) headers[name] = value;
    }
    // the B leg is a new dialog: drachtio-server gives it its own tags
    for (const name of Object.keys(headers)) {
      if (/^(from|to)$/i.test(name)) headers[name] = (headers[name] as string).replace(/;\s*tag=[^;]*/i, '');
      // the caller's demand for a session timer is met on its own leg; the callee is asked for one of ours
      if (/^require$/i.test(name)) {
        const rest = (headers[name] as string)
          .split(',')
          .map((t) => t.trim())
          .filter((t) => t && t.toLowerCase() !== 'timer');
        if (rest.length) headers[name] = rest.join(', ');
        else delete headers[name];
      }
    }
    // the B leg is a hop of its own: one fewer left, as a proxy would pass it on
    headers['Max-Forwards'] = String(Math.min(70, (this.maxForwards ?? 70) - 1));
    Object.assign(headers, added);
    const started = Date.now();
    try {
      const call = await this.withinSetupTime(this.transaction.bridge(target, headers), 'bridged');
      if (!call) return;
      const answered = Date.now();
      this.log.info({ target, how, removed: this.foreignHeaders }, 'bridged');
      // a lost BYE must not hold the dialogs (and a drain) forever
      const tooLong = setTimeout(() => {
        this.log.warn(
          { maxCallSec: this.deps.routing.maxCallMs / 1000 },
          'call longer than sip.maxCallSec: hanging up both legs',
        );
        call.hangUp();
      }, this.deps.routing.maxCallMs);
      tooLong.unref();
      const side = await call.ended.finally(() => clearTimeout(tooLong));
      if (this.flagged && how !== 'ivr')
        this.emitOutcome('accepted', { ringMs: answered - started, talkMs: Date.now() - answered });
      this.log.info({ hungUp: side }, 'bridged call ended');
    } catch (err) {
      const status = err instanceof BridgeFailed ? err.status : undefined;
      if (!(err instanceof BridgeFailed)) this.log.error({ err: (err as Error).message }, 'bridge failed');
      if (this.flagged && !reachedIvr(how, status))
        this.emitOutcome(outcomeOf(status), { ringMs: Date.now() - started });
    } finally {
      this.end();
    }
  }

  /**
   * drachtio-server reports every proxied or bridged call's final answer, but one lost report (a peer that
   * answers a CANCEL wrongly, a drachtio-server bug) would keep the call counted, and a drain waiting, forever.
   */
  private async withinSetupTime<T>(answer: Promise<T>, what: string): Promise<T | undefined> {
    const result = await SETUP_DEADLINES.within(answer, this.deps.routing.setupTimeoutMs);
    if (result === undefined)
      this.log.warn(
        { waitedMs: this.deps.routing.setupTimeoutMs, how: what },
        'no final answer reported by drachtio-server within sip.setupTimeoutSec: the app stops waiting for this call',
      );
    return result;
  }

  /** Which call the events are about: our key, the caller's Call-ID beside it. */
  private eventCall() {
    return { callId: this.logId, sipCallId: this.sipCallId, source: 'sip' as const, receivedAt: this.receivedAt };
  }

  private emitFlagged(): void {
    const v = this.verdict as Verdict;
    const call = this.eventCall();
    this.deps.emit(flaggedEvent({ ...call, called: v.called, trunk: v.trunk }, v));
  }

  private emitOutcome(outcome: Outcome, timings: { ringMs?: number; talkMs?: number }): void {
    this.deps.emit(outcomeEvent(this.eventCall(), outcome, timings));
  }
}
