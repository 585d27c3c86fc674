import type { Logger } from '../common/logger';
import { CallSession, type SessionDeps } from './call-session';
import { describeError } from './describe-error';
import { type Middleware, runMiddleware } from './invite-middleware';
import type { SrfConnection } from './srf-adapter';
import type { ServerTransaction } from './srf-transaction';

/**
 * The SIP front's request handling: one CallSession per INVITE, run through the INVITE middleware, and
 * one central error handler that fails open (the call goes on to the next hop unscreened). OPTIONS pings
 * are answered here. On drain it stops taking INVITEs and waits for the calls it still handles.
 */
export class SipApp {
  private readonly calls = new Set<CallSession>();
  /** Calls not yet answered or passed on: the overload measure. */
  private undecided = 0;
  private shedSinceLog = 0;
  private shedLogTimer?: NodeJS.Timeout;
  private draining = false;
  /** Sees each INVITE's own decision time (ms) and verdict when it ends; the benchmark sets it, production not. */
  onDecision?: (sample: { ms: number; screeningMs: number; verdict: string }) => void;
  /** Counts INVITEs passed on or answered without a screening, by reason (metrics). */
  onUnscreened?: (reason: 'failure' | 'overload') => void;

  constructor(
    private readonly connection: SrfConnection,
    private readonly inviteSteps: readonly Middleware[],
    private readonly deps: SessionDeps,
    private readonly logger: Logger,
    private readonly maxCallsInSetup = Number.POSITIVE_INFINITY,
  ) {
    connection.route(
      'invite',
      (transaction) =>
        void this.onInvite(transaction).catch((err: unknown) =>
          this.logger.error({ err: describeError(err) }, 'INVITE handling failed outside its call (a bug)'),
        ),
    );
    connection.route('options', (transaction) => this.onOptions(transaction));
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  private async onInvite(transaction: ServerTransaction): Promise<void> {
    if (this.draining) return transaction.reply(503, 'Service Unavailable', { 'Retry-After': '0' });
    if (this.undecided >= this.maxCallsInSetup) return this.shed(transaction);
    this.undecided++;
    const call = new CallSession(transaction, this.deps, () => this.undecided--);
    this.calls.add(call);
    void call.ended.then(() => {
      this.calls.delete(call);
      if (call.decidedAt !== undefined)
        this.onDecision?.({
          ms: call.decidedAt - call.started,
          screeningMs: call.verdict?.elapsedMs ?? 0,
          verdict: call.verdict?.verdict ?? 'none',
        });
    });
    try {
      await runMiddleware(this.inviteSteps, call);
    } catch (err) {
      this.failOpen(call, err);
    }
  }

  /** The central error handler: whatever broke, the call is not dropped. */
  private failOpen(call: CallSession, err: unknown): void {
    call.log.error({ err: describeError(err) }, 'INVITE handling failed: passing the call on unscreened (fail open)');
    this.onUnscreened?.('failure');
    if (call.finalSent) return call.end();
    void call.passOnUnscreened(500);
  }

  /**
   * Overload: more INVITEs in screening than sip.maxCallsInSetup. The call goes on to the next hop at once,
   * unscreened and counted, rather than waiting in a queue that only grows; one log line a second says how many.
   */
  private shed(transaction: ServerTransaction): void {
    this.onUnscreened?.('overload');
    this.shedSinceLog++;
    this.shedLogTimer ??= setTimeout(() => {
      this.logger.warn(
        { unscreened: this.shedSinceLog, inSetup: this.undecided, max: this.maxCallsInSetup },
        'overloaded: INVITEs passed on to the next hop unscreened (sip.maxCallsInSetup)',
      );
      this.shedSinceLog = 0;
      this.shedLogTimer = undefined;
    }, 1000);
    this.shedLogTimer.unref();
    // not counted among the calls being decided: it is decided
    void new CallSession(transaction, this.deps).passOnUnscreened(503);
  }

  private onOptions(transaction: ServerTransaction): void {
    // a draining front says so, so the carrier's health check takes it out of rotation
    if (this.draining) transaction.reply(503, 'Service Unavailable', { 'Retry-After': '30' });
    else transaction.reply(200, 'OK', { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS' });
  }

  /** Stops taking INVITEs (drachtio-server routes them elsewhere) and waits for calls in hand, up to timeoutMs. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    if (this.connection.connected) this.connection.unroute('invite');
    if (this.calls.size === 0) return;
    this.logger.info({ calls: this.calls.size }, 'draining: waiting for calls in progress');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all([...this.calls].map((c) => c.ended)), timeout]);
    clearTimeout(timer);
    if (this.calls.size > 0) this.logger.warn({ calls: this.calls.size }, 'drain timeout: hanging up calls still up');
  }
}
