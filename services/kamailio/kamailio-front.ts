import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ArrivalLag } from '../common/arrival-lag';
import { checkedCalled } from '../common/e164';
import { excerpt } from '../common/excerpt';
import { callLogger, type Logger } from '../common/logger';
import { screeningInput } from '../carrier/caller-identity';
import { headerLinesOf } from '../carrier/sip-headers';
import type { TrunkMatcher } from '../carrier/trunks';
import {
  ADDRESS_INCOMPLETE,
  blockReasonCodes,
  type CarrierRouting,
  outcomeOf,
  reachedIvr,
  type RelayHow,
  type SipAction,
  verdictAction,
} from '../carrier/verdict-action';
import type { FlaggedCallEvent } from '../events';
import { flaggedEvent, outcomeEvent } from '../events/flagged-call';
import type { ScreeningRequest, Verdict } from '../screening/verdict';
import {
  type Answer,
  type Ask,
  askSchema,
  type FinalReport,
  finalSchema,
  headerLines,
  headerValue,
} from './evapi-messages';

/** Where an answer goes back: the link the question came on. */
export interface ReplyTo {
  readonly endpoint: string;
  send(text: string): boolean;
}

export interface FrontDeps {
  trunks: TrunkMatcher;
  screen(request: ScreeningRequest): Promise<Verdict>;
  routing: CarrierRouting;
  /** The signed X-Spoofguard-Verdict value bound to the called number and the Call-ID (Kamailio proxies: it keeps it). */
  sign(verdict: Verdict, logId: string, binding: { to: string; callId: string }): string | undefined;
  emit(event: FlaggedCallEvent): void;
  /** Kamailio's wait for an answer (kamailio.budgetMs = SG_BUDGET_MS). */
  budgetMs: number;
  /** How long a relayed flagged call's final status is awaited (sip.setupTimeoutSec). */
  setupTimeoutMs: number;
  logger: Logger;
  answered?(action: string): void;
  /** Counts a call refused for what the caller sent (metrics). */
  refused?(reason: string): void;
  fault?(kind: string): void;
  /** Kamailio's clock reading of an ask, compared with ours (ms since the epoch): injectable for tests. */
  now?: () => number;
}

/** A relayed flagged call whose final status Kamailio reports back (kamailio.cfg route[RESUME], "track"). */
interface Tracked {
  logId: string;
  sipCallId: string;
  receivedAt: number;
  how: RelayHow;
  relayedAt: number;
  expiresAt: number;
}

const PROCESS_KEY = randomUUID();
let callsSeen = 0;
const nextLogId = (): string => `kam:${PROCESS_KEY}.${(++callsSeen).toString(36)}`;

const ACTION_NAMES: Record<RelayHow, string> = { plain: 'relay', ivr: 'relay-ivr', tag: 'relay-tag' };

/** The request line and headers of an INVITE as Kamailio received it; undefined when it does not read. */
interface SipRequest {
  method: string;
  uri: string;
  callId: string;
  header(name: string): string | undefined;
  headerLines(name: string): string[];
}

const OWN_HEADER = /^x-spoofguard-/i;

export function readRequest(text: string): SipRequest | undefined {
  const lineEnd = text.indexOf('\r\n');
  const first = /^([A-Za-z]{1,20}) (\S{1,2048}) SIP\/2\.0$/.exec(lineEnd < 0 ? '' : text.slice(0, lineEnd));
  if (!first) return undefined;
  const lines = headerLinesOf(text);
  // X-Spoofguard-* headers are ours: from outside they are forgeries (Kamailio removed them too)
  const header = (name: string): string | undefined =>
    OWN_HEADER.test(name) ? undefined : lines.get(name.toLowerCase())?.[0];
  return {
    method: (first[1] as string).toUpperCase(),
    uri: first[2] as string,
    callId: header('Call-ID') ?? '',
    header,
    headerLines: (name) => (OWN_HEADER.test(name) ? [] : (lines.get(name.toLowerCase()) ?? [])),
  };
}

/**
 * The Kamailio front's decisions: each INVITE Kamailio asks about is read, screened with the same engine and
 * trunk config as the drachtio front, and answered with what carrier/verdict-action.ts says the verdict does.
 * Bad input never throws out of here: a message that does not read is logged and counted, and where it named
 * a transaction, that INVITE is answered "unscreened" so Kamailio need not wait out its budget.
 */
export class KamailioFront {
  private readonly tracked = new Map<string, Tracked>();
  private readonly lag = new ArrivalLag();
  private inScreening = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly sweep: NodeJS.Timeout;
  /** Stale INVITEs skipped since the last summary line (logged at most once a second). */
  private staleSinceLog = 0;
  private staleLogTimer?: NodeJS.Timeout;

  constructor(private readonly deps: FrontDeps) {
    this.sweep = setInterval(() => this.forgetExpired(), 5000);
    this.sweep.unref();
  }

  /** INVITEs being screened, and flagged calls whose final status is awaited. */
  get activeCalls(): number {
    return this.inScreening + this.tracked.size;
  }

  /** Screenings in hand (a drain waits for them). */
  get screening(): number {
    return this.inScreening;
  }

  /** Resolves when no screening is in hand (a drain waits for it). */
  whenIdle(): Promise<void> {
    if (this.inScreening === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    clearInterval(this.sweep);
    clearTimeout(this.staleLogTimer);
  }

  /** One frame from a link: an INVITE to screen, or a tracked call's final status. */
  handle(data: Buffer, from: ReplyTo): void {
    const arrived = performance.now();
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch {
      return this.unparseable(data, from, 'not JSON');
    }
    // the two kinds differ by one key: each is checked by its own schema (a union tries both)
    const isFinal = typeof parsed === 'object' && parsed !== null && 'track' in parsed;
    const message = (isFinal ? finalSchema : askSchema).safeParse(parsed);
    if (!message.success) return this.unparseable(data, from, message.error.issues[0]?.message ?? 'invalid', parsed);
    if (isFinal) return this.onFinal(message.data as FinalReport);
    void this.onAsk(message.data as Ask, from, arrived);
  }

  private unparseable(data: Buffer, from: ReplyTo, why: string, parsed?: unknown): void {
    this.deps.fault?.('unparseable');
    this.deps.logger.warn(
      { endpoint: from.endpoint, why, excerpt: excerpt(data.toString('utf8'), 120) },
      'message from Kamailio that is not an ask or a final status of kamailio.cfg: ignored',
    );
    // where the transaction can be named, Kamailio need not wait out its budget
    const p = parsed as { i?: unknown; l?: unknown } | undefined;
    if (typeof p?.i === 'number' && typeof p.l === 'number' && Number.isInteger(p.i) && Number.isInteger(p.l))
      this.send(from, { i: p.i, l: p.l, a: 'unscreened' }, 'unscreened');
  }

  private async onAsk(ask: Ask, from: ReplyTo, arrived: number): Promise<void> {
    const now = this.deps.now?.() ?? Date.now();
    const waited = this.lag.observeAt(ask.t === undefined ? Number.NaN : ask.t * 1000, now);
    // past half the budget an answer is likely to meet Kamailio's timer, and Kamailio 5.6 mishandles an answer
    // that arrives as the budget ends (t_continue keeps the transaction forever): such an INVITE is left to the
    // budget's end, unscreened and counted there
    if (waited > this.deps.budgetMs / 2) return this.stale(waited);
    const request = readRequest(Buffer.from(ask.msg, 'base64').toString('utf8'));
    if (!request || request.method !== 'INVITE') {
      this.deps.fault?.('unreadable-sip');
      this.deps.logger.warn(
        { endpoint: from.endpoint, node: ask.node, method: request?.method },
        'ask from Kamailio whose message is no readable INVITE: answered unscreened',
      );
      return this.send(from, { i: ask.i, l: ask.l, a: 'unscreened' }, 'unscreened');
    }
    const logId = nextLogId();
    const sipCallId = request.callId.replace(/[^\x21-\x7e]/g, '?').slice(0, 256);
    const receivedAt = Date.now() - (performance.now() - arrived);
    let log: Logger | undefined;
    const callLog = (): Logger => (log ??= callLogger(this.deps.logger, logId, { sipCallId, node: ask.node }));
    this.inScreening++;
    try {
      const trunk = this.deps.trunks.match(ask.src, request.header);
      const input = screeningInput(
        { header: request.header, headerLines: request.headerLines, uri: request.uri },
        trunk.id,
        request.callId,
      );
      if (input.to !== undefined && checkedCalled(input.to) === undefined) {
        callLog().warn(
          { called: excerpt(input.to, 60) },
          'called number refused: not digits with an optional leading +: answered 484',
        );
        this.deps.refused?.('called-number');
        return this.answer(from, ask, ADDRESS_INCOMPLETE, arrived, 'refused');
      }
      const v = await this.deps.screen(input);
      const flagged = v.verdict !== 'allow';
      const level = flagged || v.degraded ? 'info' : 'debug';
      if (this.deps.logger.isLevelEnabled(level))
        callLog()[level](
          {
            trunk: trunk.id,
            identity: v.identity,
            verdict: v.verdict,
            score: v.score,
            brand: v.brand,
            degraded: v.degraded,
          },
          'screened',
        );
      const action = verdictAction({
        verdict: v,
        trunk,
        called: input.to,
        routing: this.deps.routing,
        header: request.header,
        sign: () => this.deps.sign(v, logId, { to: input.to ?? '', callId: request.callId }),
      });
      const call = { callId: logId, sipCallId, source: 'kamailio' as const, receivedAt };
      let track: string | undefined;
      if (flagged && action.kind === 'relay') {
        track = logId;
        this.tracked.set(logId, {
          logId,
          sipCallId,
          receivedAt,
          how: action.how,
          relayedAt: Date.now(),
          expiresAt: Date.now() + this.deps.setupTimeoutMs,
        });
      }
      this.answer(from, ask, action, arrived, v.verdict, track);
      if (flagged) this.deps.emit(flaggedEvent({ ...call, called: v.called, trunk: v.trunk }, v));
      if (action.kind === 'reply' && v.verdict === 'block') {
        this.deps.emit(outcomeEvent(call, 'blocked', {}));
        callLog().info({ status: action.status, reasons: blockReasonCodes(v) }, 'blocked');
      }
    } catch (err) {
      callLog().error(
        { err: (err as Error).message },
        'screening an INVITE for Kamailio failed: answered unscreened (fail open)',
      );
      this.send(from, { i: ask.i, l: ask.l, a: 'unscreened' }, 'unscreened');
    } finally {
      if (--this.inScreening === 0 && this.idleWaiters.length > 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    }
  }

  private answer(from: ReplyTo, ask: Ask, action: SipAction, arrived: number, verdict: string, track?: string): void {
    let answer: Answer;
    let name: string;
    if (action.kind === 'reply') {
      answer = { i: ask.i, l: ask.l, a: 'reply', code: action.status, reason: action.reason };
      const hdrs = headerLines(action.headers);
      if (hdrs) answer.hdrs = hdrs;
      name = 'reply';
    } else {
      answer = { i: ask.i, l: ask.l, a: 'relay', uri: action.target };
      const hdrs = headerLines(action.added);
      if (hdrs) answer.hdrs = hdrs;
      const from_ = action.rewritten.From;
      const pai = action.rewritten['P-Asserted-Identity'];
      if (from_ !== undefined) answer.from = headerValue(from_);
      if (pai !== undefined) answer.pai = headerValue(pai);
      if (track) answer.track = track;
      name = verdict === 'warn' && action.how === 'plain' ? 'relay-warned' : (ACTION_NAMES[action.how] ?? 'relay');
    }
    const ms = performance.now() - arrived;
    if (ms > this.deps.budgetMs) this.deps.fault?.('late');
    this.send(from, answer, name);
  }

  private send(to: ReplyTo, answer: Answer, name: string): void {
    if (to.send(JSON.stringify(answer))) this.deps.answered?.(name);
    // the link went down while the INVITE was screened: Kamailio passes it on when its budget ends
    else this.deps.fault?.('unsent');
  }

  /** The INVITE waited past half of Kamailio's budget before its screening could start: not screened. */
  private stale(waitedMs: number): void {
    this.deps.fault?.('stale');
    this.staleSinceLog++;
    this.staleLogTimer ??= setTimeout(() => {
      this.deps.logger.warn(
        { skipped: this.staleSinceLog, waitedMs: Math.round(waitedMs), budgetMs: this.deps.budgetMs },
        'overloaded: INVITEs waited past half of kamailio.budgetMs before their screening and were not screened (Kamailio passes them on unscreened when its budget ends)',
      );
      this.staleSinceLog = 0;
      this.staleLogTimer = undefined;
    }, 1000);
    this.staleLogTimer.unref();
  }

  /** A relayed flagged call's final status: its outcome, unless the warning IVR took it (the IVR logs that). */
  private onFinal(report: FinalReport): void {
    const call = this.tracked.get(report.track);
    if (!call) {
      this.deps.fault?.('unknown-track');
      this.deps.logger.info(
        { track: excerpt(report.track, 80) },
        'final status from Kamailio for no call of ours (expired, or another process’s): ignored',
      );
      return;
    }
    this.tracked.delete(report.track);
    if (reachedIvr(call.how, report.final)) return;
    this.deps.emit(
      outcomeEvent(
        { callId: call.logId, sipCallId: call.sipCallId, source: 'kamailio', receivedAt: call.receivedAt },
        outcomeOf(report.final),
        { ringMs: Date.now() - call.relayedAt },
      ),
    );
  }

  private forgetExpired(now = Date.now()): void {
    for (const [key, call] of this.tracked) {
      if (call.expiresAt > now) continue;
      this.tracked.delete(key);
      this.deps.logger.info(
        { callId: call.logId },
        'no final status from Kamailio within sip.setupTimeoutSec: outcome not logged',
      );
    }
  }
}
