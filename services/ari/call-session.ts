import { callLogger, type Logger } from '../common/logger';
import { type FlaggedCallEvent, flaggedEvent, type Outcome, outcomeEvent } from '../events/flagged-call';
import type { ScreeningRequest, Verdict } from '../screening/verdict';
import type { AriConnection, HangupReason } from './ari-adapter';
import type { AriChannel } from './ari-events';
import { media, type Prompts } from './prompts';

/**
 * One inbound call, as an explicit state machine:
 *
 *   screening ─┬─ allow ──► dialing ──(answer)──► connected ──► ended
 *              ├─ warn ───► dialing ──(answer)──► warning ──(1)──► connected
 *              │                                      ├──(2 / 3 / no key twice)──► rejecting ──► ended
 *              │                                      └──(caller hangs up)──► notifying ──► ended
 *              └─ block ──► blocking ──► ended
 *
 * The caller hears ringing while the subscriber's phone rings; on a warned call only the subscriber hears
 * the warning. Busy, unanswered and rejected subscribers pass their cause back to the caller.
 */
export type SessionState =
  'screening' | 'dialing' | 'warning' | 'connected' | 'rejecting' | 'notifying' | 'blocking' | 'ended';

/** What the Stasis dialplan passes: Stasis(app, <called>, <trunk>, <URIENCODE(PAI)>, <URIENCODE(X-Spoofguard-Verdict)>). */
export interface CallArgs {
  to: string;
  trunk?: string;
  assertedIdentity?: string;
  verdictHeader?: string;
}

export interface SessionDeps {
  ari: AriConnection;
  screen(request: ScreeningRequest): Promise<Verdict>;
  /** A trusted verdict from a valid X-Spoofguard-Verdict header, or undefined. */
  trustedVerdict(header: string | undefined, request: ScreeningRequest): Verdict | undefined;
  emit(event: FlaggedCallEvent): void;
  report(callerE164: string | undefined, brand: string | undefined): void;
  prompts: Prompts;
  settings: {
    subscriberEndpoint: string;
    dialTimeoutSec: number;
    digitTimeoutMs: number;
    warnedNamePrefix: string;
    defaultLanguage: string;
    rejectWith: 'busy' | 'announcement';
    blockAnswer: boolean;
  };
  /** Prefix of call ids: unique across the cluster (one per Asterisk). */
  callIdPrefix: string;
  logger: Logger;
}

/** Q.850 cause of the subscriber's leg → what the caller is told. */
export function reasonForCause(cause: number): HangupReason {
  if (cause === 17) return 'busy';
  if (cause === 18 || cause === 19) return 'no_answer';
  if (cause === 21) return 'rejected';
  if (cause === 16 || cause === 31) return 'normal';
  return 'congestion';
}

const DIGITS = new Set(['1', '2', '3']);

export class CallSession {
  state: SessionState = 'screening';
  /** Its id in the flagged-call log. */
  callId: string;
  /** The id the subscriber's channel gets when it is dialled (known up front, so its events find this call). */
  readonly plannedSubscriberChannel: string;
  subscriberChannel?: string;
  private verdict?: Verdict;
  private bridgeId?: string;
  private playbackId?: string;
  private promptRounds = 0;
  private digitTimer?: NodeJS.Timeout;
  private readonly ourHangups = new Set<string>();
  private callerGone = false;
  private subscriberGone = true;
  private outcome?: Outcome;
  private readonly times: {
    start: number;
    dial?: number;
    answer?: number;
    decision?: number;
    connect?: number;
    end?: number;
  } = { start: Date.now() };
  private resolveEnded!: () => void;
  readonly ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));
  private readonly log: Logger;
  private playbackSeq = 0;
  /** The announcement to a rejected caller: when it ends, the caller is hung up. */
  private pendingCallerBye?: string;

  constructor(
    readonly caller: AriChannel,
    readonly args: CallArgs,
    private readonly deps: SessionDeps,
  ) {
    this.callId = `${deps.callIdPrefix}${caller.id}`;
    this.plannedSubscriberChannel = `${caller.id}-sub`;
    this.log = callLogger(deps.logger, this.callId, { channel: caller.id });
  }

  get flagged(): boolean {
    return this.verdict !== undefined && this.verdict.verdict !== 'allow';
  }

  /** Screens (or trusts the SIP front's signed verdict) and takes the path the verdict says. */
  async begin(): Promise<void> {
    try {
      const request: ScreeningRequest = {
        // the caller ID as Asterisk took it (From, or P-Asserted-Identity where the endpoint trusts it) and the
        // P-Asserted-Identity the dialplan passed: which counts is the trunk's setting, in the screening engine
        from: this.caller.caller.number || 'anonymous',
        ...(this.args.assertedIdentity ? { assertedIdentity: this.args.assertedIdentity } : {}),
        name: this.caller.caller.name || undefined,
        to: this.args.to,
        trunk: this.args.trunk,
        callId: this.callId,
      };
      const trusted = this.deps.trustedVerdict(this.args.verdictHeader, request);
      this.verdict = trusted ?? (await this.deps.screen(request));
      // the SIP front logged this call (caller, its trunk, verdict) first: only the outcome is added here
      if (trusted?.logId) this.callId = trusted.logId;
      this.log.info(
        {
          verdict: this.verdict.verdict,
          score: this.verdict.score,
          brand: this.verdict.brand,
          degraded: this.verdict.degraded,
          trusted: trusted !== undefined,
        },
        'screened',
      );
      if (this.callerGone) return this.finish('caller-hung-up');
      if (this.flagged && !this.verdict.logId) this.emitFlagged();
      if (this.verdict.verdict === 'block') return await this.block();
      await this.dialSubscriber();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'call setup failed');
      await this.fail();
    }
  }

  private async dialSubscriber(): Promise<void> {
    this.state = 'dialing';
    this.subscriberChannel = this.plannedSubscriberChannel;
    this.subscriberGone = false;
    const { caller } = this.caller;
    const prefix = this.deps.settings.warnedNamePrefix.replace('{brand}', this.verdict?.brandName ?? '');
    const name = this.flagged ? `${prefix}${caller.name}`.slice(0, 80) : caller.name;
    this.times.dial = Date.now();
    // the dial request first: building an ARI request costs the client time, and the subscriber's phone
    // should start ringing as early as possible; the caller's ringing indication follows
    const dialled = this.deps.ari.originate({
      endpoint: this.deps.settings.subscriberEndpoint.replace('{to}', this.args.to),
      channelId: this.subscriberChannel,
      appArgs: `dialed,${this.caller.id}`,
      callerId: `"${name.replace(/["\\]/g, '')}" <${caller.number}>`,
      timeoutSec: this.deps.settings.dialTimeoutSec,
      originator: this.caller.id,
    });
    const ringing = this.deps.ari
      .ring(this.caller.id)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'ring indication failed'));
    await Promise.all([dialled, ringing]);
  }

  /** The subscriber picked up (their channel entered Stasis). */
  async subscriberAnswered(): Promise<void> {
    if (this.state !== 'dialing' || !this.subscriberChannel) return;
    this.times.answer = Date.now();
    if (this.callerGone) return this.hangup(this.subscriberChannel, 'normal');
    if (!this.flagged) return this.connect();
    this.state = 'warning';
    await this.playPrompt();
  }

  private async playPrompt(): Promise<void> {
    if (!this.subscriberChannel) return;
    this.promptRounds++;
    const mediaList =
      this.promptRounds === 1
        ? this.deps.prompts.warning(this.verdict?.brand, this.verdict?.reasons.map((r) => r.code) ?? [])
        : [media('choices')];
    await this.play(this.subscriberChannel, mediaList);
  }

  private async play(channelId: string, mediaList: string[]): Promise<void> {
    this.playbackId = `${channelId}-pb${++this.playbackSeq}`;
    await this.deps.ari.play(channelId, this.playbackId, mediaList, this.language);
  }

  private get language(): string {
    return this.verdict?.language ?? this.deps.settings.defaultLanguage;
  }

  async playbackFinished(playbackId: string): Promise<void> {
    if (playbackId !== this.playbackId) return;
    this.playbackId = undefined;
    if (this.state === 'warning') {
      clearTimeout(this.digitTimer);
      this.digitTimer = setTimeout(() => void this.noDigit(), this.deps.settings.digitTimeoutMs);
    } else if (this.state === 'rejecting' || this.state === 'notifying') {
      if (this.subscriberChannel && !this.subscriberGone) await this.hangup(this.subscriberChannel, 'normal');
    } else if (this.state === 'blocking') {
      await this.hangup(this.caller.id, 'normal');
    }
  }

  private async noDigit(): Promise<void> {
    if (this.state !== 'warning') return;
    if (this.promptRounds < 2) return this.playPrompt();
    this.log.info('no choice after two rounds: rejecting');
    await this.reject('rejected');
  }

  async digit(channelId: string, digit: string): Promise<void> {
    if (this.state !== 'warning' || channelId !== this.subscriberChannel || !DIGITS.has(digit)) return;
    clearTimeout(this.digitTimer);
    this.times.decision = Date.now();
    if (this.playbackId) await this.deps.ari.stopPlayback(this.playbackId).catch(() => undefined);
    this.playbackId = undefined;
    this.log.info({ digit }, 'subscriber chose');
    if (digit === '1') return this.connect();
    if (digit === '3') this.deps.report(this.verdict?.caller.e164, this.verdict?.brand);
    await this.reject(digit === '3' ? 'reported' : 'rejected');
  }

  private async connect(): Promise<void> {
    if (!this.subscriberChannel) return;
    this.state = 'connected';
    this.outcome = 'accepted';
    this.bridgeId = `${this.caller.id}-bridge`;
    await this.deps.ari.answer(this.caller.id);
    await this.deps.ari.createBridge(this.bridgeId);
    await this.deps.ari.addToBridge(this.bridgeId, [this.caller.id, this.subscriberChannel]);
    this.times.connect = Date.now();
  }

  private async reject(outcome: 'rejected' | 'reported'): Promise<void> {
    this.state = 'rejecting';
    this.outcome = outcome;
    this.times.decision ??= Date.now();
    const toCaller =
      this.deps.settings.rejectWith === 'busy'
        ? this.hangup(this.caller.id, 'busy')
        : this.deps.ari.answer(this.caller.id).then(() => this.hangupAfter(this.caller.id, media('rejected-caller')));
    await Promise.all([
      toCaller,
      this.subscriberChannel
        ? this.play(this.subscriberChannel, [media(outcome === 'reported' ? 'call-reported' : 'call-rejected')])
        : undefined,
    ]);
  }

  /** The neutral announcement to the caller, then hang up (the playback's end is not tracked for the caller). */
  private async hangupAfter(channelId: string, mediaName: string): Promise<void> {
    const id = `${channelId}-bye`;
    await this.deps.ari.play(channelId, id, [mediaName], this.language);
    this.pendingCallerBye = id;
  }

  private async block(): Promise<void> {
    this.state = 'blocking';
    this.outcome = 'blocked';
    if (!this.deps.settings.blockAnswer) return this.hangup(this.caller.id, 'rejected');
    await this.deps.ari.answer(this.caller.id);
    await this.play(this.caller.id, [media('blocked')]);
  }

  /** A channel of this call is gone (ChannelDestroyed). */
  async channelGone(channelId: string, cause: number): Promise<void> {
    const ours = this.ourHangups.has(channelId);
    if (channelId === this.caller.id) {
      this.callerGone = true;
      if (!ours) await this.callerHungUp();
    } else if (channelId === this.subscriberChannel) {
      this.subscriberGone = true;
      if (!ours) await this.subscriberHungUp(cause);
    }
    if (this.callerGone && this.subscriberGone) await this.finish(this.outcome ?? 'failed');
  }

  private async callerHungUp(): Promise<void> {
    clearTimeout(this.digitTimer);
    if (this.state === 'warning' && this.subscriberChannel && !this.subscriberGone) {
      // release the subscriber with a short notice instead of dead air
      this.outcome = 'caller-hung-up';
      this.state = 'notifying';
      if (this.playbackId) await this.deps.ari.stopPlayback(this.playbackId).catch(() => undefined);
      await this.play(this.subscriberChannel, [media('caller-hung-up')]).catch(() =>
        this.hangup(this.subscriberChannel as string, 'normal'),
      );
      return;
    }
    if (this.state === 'dialing' || this.state === 'screening') this.outcome = 'caller-hung-up';
    if (this.subscriberChannel && !this.subscriberGone) await this.hangup(this.subscriberChannel, 'normal');
  }

  private async subscriberHungUp(cause: number): Promise<void> {
    clearTimeout(this.digitTimer);
    if (this.state === 'dialing') {
      this.outcome = cause === 17 || cause === 21 ? 'rejected' : cause === 18 || cause === 19 ? 'unanswered' : 'failed';
      if (!this.callerGone) await this.hangup(this.caller.id, reasonForCause(cause));
      return;
    }
    if (this.state === 'warning') this.outcome = 'rejected';
    if (!this.callerGone) await this.hangup(this.caller.id, 'normal');
  }

  private async hangup(channelId: string, reason: HangupReason): Promise<void> {
    if (this.ourHangups.has(channelId)) return;
    this.ourHangups.add(channelId);
    await this.deps.ari
      .hangup(channelId, reason)
      .catch((err: Error) => this.log.debug({ err: err.message, channelId }, 'hang-up of a channel already gone'));
  }

  /** The caller's announcement after a rejection finished: hang the caller up. */
  async callerPlaybackFinished(playbackId: string): Promise<void> {
    if (playbackId === this.pendingCallerBye) await this.hangup(this.caller.id, 'normal');
  }

  private async fail(): Promise<void> {
    this.outcome = 'failed';
    await this.hangup(this.caller.id, 'failure');
    if (this.subscriberChannel && !this.subscriberGone) await this.hangup(this.subscriberChannel, 'normal');
  }

  private async finish(outcome: Outcome): Promise<void> {
    if (this.state === 'ended') return;
    this.state = 'ended';
    clearTimeout(this.digitTimer);
    this.times.end = Date.now();
    if (this.bridgeId) await this.deps.ari.destroyBridge(this.bridgeId).catch(() => undefined);
    if (this.flagged) this.emitOutcome(outcome);
    this.log.info({ outcome }, 'call ended');
    this.resolveEnded();
  }

  private emitFlagged(): void {
    const call = { callId: this.callId, source: 'ari' as const, receivedAt: this.times.start };
    this.deps.emit(flaggedEvent({ ...call, called: this.args.to, trunk: this.args.trunk }, this.verdict as Verdict));
  }

  private emitOutcome(outcome: Outcome): void {
    const t = this.times;
    const end = t.end ?? Date.now();
    const span = (from?: number, to?: number): number | undefined =>
      from !== undefined ? Math.max(0, (to ?? end) - from) : undefined;
    const timings = {
      ringMs: span(t.dial, t.answer),
      warningMs:
        t.answer !== undefined && this.verdict?.verdict === 'warn'
          ? span(t.answer, t.decision ?? t.connect)
          : undefined,
      talkMs: span(t.connect),
    };
    this.deps.emit(outcomeEvent({ callId: this.callId, source: 'ari', receivedAt: t.start }, outcome, timings, end));
  }
}
