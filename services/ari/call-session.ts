import { checkedCalled } from '../common/e164';
import { callLogger, type Logger } from '../common/logger';
import { background } from '../common/process-policy';
import type { Outcome } from '../domain/outcomes';
import { verstatOf } from '../domain/verstat';
import { type FlaggedCallEvent, flaggedEvent, outcomeEvent } from '../events/flagged-call';
import { cleanDisplayName, type NormalizedCaller } from '../screening/normalize';
import type { ScreeningRequest, Verdict } from '../screening/verdict';
import { AriRequestError, type AriConnection, type DialplanTarget, type HangupReason } from './ari-adapter';
import type { AriChannel } from './ari-events';
import { media, type Prompts } from './prompts';
import { type SessionEvent, type SessionState, TRANSITIONS } from './session-states';

/** Tries of a hand-back (continue) that fails for another reason than the caller being gone, and their spacing. */
const HAND_BACK_TRIES = 3;
const HAND_BACK_RETRY_MS = 250;

/**
 * What the Stasis dialplan passes: Stasis(app, <called>, <trunk>, <URIENCODE(PAI)>, <URIENCODE(X-Spoofguard-Verdict)>,
 * <URIENCODE(SIP Call-ID)>, <URIENCODE(Identity)>); verdict header and Call-ID only in [from-sipfront], Identity
 * where the trunk verifies STIR/SHAKEN (`stir: verify`).
 */
export interface CallArgs {
  to: string;
  trunk?: string;
  assertedIdentity?: string;
  verdictHeader?: string;
  /** The SIP Call-ID of the caller's leg ([from-sipfront] passes it): a verdict header is bound to it. */
  sipCallId?: string;
  /** The caller's Identity header (RFC 8224), for trunks with `stir: verify`. */
  identity?: string;
}

/**
 * The P-Asserted-Identity that carries our own STIR/SHAKEN result to the subscriber's phone (ATIS-1000074):
 * a tel URI of the verified caller's E.164 number with verstat; undefined when the trunk does not verify.
 */
export function verstatIdentity(verdict: Verdict | undefined): string | undefined {
  const e164 = verdict?.caller.e164;
  if (!verdict?.stir || !e164 || !/^\+[1-9]\d{1,14}$/.test(e164)) return undefined;
  return `<tel:${e164};verstat=${verstatOf(verdict.stir.result)}>`;
}

/** The channel variable the dialplan's pre-dial handler puts on the subscriber's leg (asterisk/extensions.conf). */
export const VERSTAT_VARIABLE = 'SPOOFGUARD_PAI';

/**
 * Why a call went on in the dialplan (the label of spoofguard_ari_handed_back_total); 'bypassed': sent past
 * Stasis() by the dialplan while the app was overloaded.
 */
export type HandBackReason = 'clean' | 'overload' | 'bypassed' | 'draining' | 'failure' | 'deadline';

export interface SessionSettings {
  subscriberEndpoint: string;
  dialTimeoutSec: number;
  digitTimeoutMs: number;
  warnedNamePrefix: string;
  defaultLanguage: string;
  rejectWith: 'busy' | 'announcement';
  blockAnswer: boolean;
  cleanCalls: 'dialplan' | 'stasis';
  refuseContext: string;
  setupDeadlineSec: number;
  maxCallSec: number;
}

export interface SessionDeps {
  ari: AriConnection;
  screen(request: ScreeningRequest): Promise<Verdict>;
  /** A trusted verdict from a valid, unused X-Spoofguard-Verdict header made for this call, or undefined. */
  trustedVerdict(args: CallArgs, request: ScreeningRequest): Promise<Verdict | undefined>;
  emit(event: FlaggedCallEvent): void;
  /** A subscriber's report (key 3): counted once per subscriber and caller. */
  report(callerE164: string | undefined, brand: string | undefined, subscriber: string): void;
  handedBack(reason: HandBackReason, calls?: number): void;
  /** A call refused for what the caller sent (reason: called-number). */
  refused(reason: string): void;
  /** How long after its creation a call went back unscreened (overload, draining). */
  handBackDelay?(reason: HandBackReason, seconds: number): void;
  prompts: Prompts;
  settings: SessionSettings;
  /** The last warned call a subscriber took (E.164 digits of the called number), for *73 to report afterwards. */
  rememberTaken?(
    subscriberDigits: string,
    call: { callId: string; callerE164?: string; brand?: string; at: number },
  ): void;
  /** Prefix of call ids: unique across the cluster (one per Asterisk: ari:<node id>:). */
  callIdPrefix(): string;
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

/** The id a leg or bridge of a call gets, so that its events and a later reconciliation find the call. */
export const subscriberIdOf = (callerId: string): string => `${callerId}-sub`;
export const bridgeIdOf = (callerId: string): string => `${callerId}-bridge`;
/** The caller's channel id of a bridge named by bridgeIdOf; undefined for any other bridge. */
export const callerIdOfBridge = (bridgeId: string): string | undefined =>
  bridgeId.endsWith('-bridge') ? bridgeId.slice(0, -'-bridge'.length) : undefined;

/**
 * The caller ID the subscriber's phone is rung with, built only from what screening cleaned: the number as
 * E.164 (or the raw one when it is plain digits), the display name without control, format or bidi characters.
 * A warned call shows the prefix and the name or number, never a bare "⚠ Amazon? ".
 */
export function originateCallerId(shown: NormalizedCaller | undefined, rawNumber: string, warnPrefix: string): string {
  const number = shown?.e164 ?? checkedCalled(rawNumber) ?? '';
  const clean = cleanDisplayName(shown?.displayName) ?? '';
  const name = warnPrefix ? `${warnPrefix}${clean || number}`.trim() : clean;
  return `"${name.replace(/["\\<>]/g, '').slice(0, 80)}" <${number}>`;
}

const CHOICE_DIGITS = new Set(['1', '2', '3']);
type PlaybackKind = 'warning' | 'choices' | 'notice';

/** What the app tells a session about one of its legs. */
export type LegSignal = 'ChannelHangupRequest' | 'StasisEnd' | 'ChannelDestroyed' | 'vanished';

/** One inbound call (session-states.ts: its states, and the table it moves through). */
export class CallSession {
  /** Changed only by the session itself, as Asterisk's events and the subscriber's keys move the call on. */
  private state: SessionState = 'screening';
  /** Its id in the flagged-call log. */
  callId: string;
  readonly subscriberId: string;
  readonly bridgeId: string;
  private verdict?: Verdict;
  private bridgeCreated?: Promise<boolean>;
  private subscriberDialled = false;
  private callerGone = false;
  private subscriberGone = false;
  private readonly ourHangups = new Set<string>();
  private warningHeard = false;
  private choiceRounds = 0;
  /** What plays to the subscriber; and the id of an announcement to the caller, after which it is hung up. */
  private playback?: { id: string; kind: PlaybackKind };
  private callerPlayback?: string;
  private playbackSeq = 0;
  private digitTimer?: NodeJS.Timeout;
  private deadline?: NodeJS.Timeout;
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

  constructor(
    readonly caller: AriChannel,
    readonly args: CallArgs,
    private readonly deps: SessionDeps,
  ) {
    this.callId = `${deps.callIdPrefix()}${caller.id}`;
    this.subscriberId = subscriberIdOf(caller.id);
    this.bridgeId = bridgeIdOf(caller.id);
    this.log = callLogger(deps.logger, this.callId, { channel: caller.id });
    this.confirmedAt.set(caller.id, Date.now());
  }

  /** Where the call is (the state machine above). */
  get current(): SessionState {
    return this.state;
  }

  /**
   * Moves the call as the table says; false (and no move) when the event cannot come in this state: a call
   * that left or ended stays so, whatever arrives late.
   */
  private move(event: SessionEvent): boolean {
    const transition = TRANSITIONS[event];
    if (!transition.from.includes(this.state)) {
      if (this.state !== 'ended' && this.state !== 'handed-back')
        this.log.warn({ state: this.state, event }, 'event not expected in this state: the call stays where it is');
      return false;
    }
    this.state = transition.to;
    return true;
  }

  get flagged(): boolean {
    return this.verdict !== undefined && this.verdict.verdict !== 'allow';
  }

  /**
   * Let through unwarned only because the subscriber expects the brand's call (*71, or an allowance an admin
   * set): the brand's reasons were there, suppressed by the subscriber's allowance.
   */
  get expectedBySubscriber(): boolean {
    const v = this.verdict;
    return (
      v !== undefined &&
      v.verdict === 'allow' &&
      v.reasons.some((r) => r.code === 'subscriber-allowlisted') &&
      v.reasons.some((r) => r.suppressed && r.brand !== undefined && r.score > 0)
    );
  }

  /** Not yet bridged or ended: counts against ari.maxCallsInSetup and is handed back when a drain runs out. */
  get inSetup(): boolean {
    return !['connected', 'handed-back', 'ended'].includes(this.state);
  }

  /** The channels this call still holds in Asterisk. */
  get legs(): string[] {
    const legs: string[] = [];
    if (!this.callerGone && this.state !== 'handed-back') legs.push(this.caller.id);
    if (this.subscriberDialled && !this.subscriberGone) legs.push(this.subscriberId);
    return legs;
  }

  /** When Asterisk confirmed each leg exists (the caller's StasisStart, the dial request's answer). */
  private readonly confirmedAt = new Map<string, number>();

  /**
   * The legs Asterisk had confirmed before `time`: only those can have vanished from a list of channels
   * asked for at `time` (a leg being dialled then may not be in it yet).
   */
  legsConfirmedBefore(time: number): string[] {
    return this.legs.filter((leg) => (this.confirmedAt.get(leg) ?? Infinity) < time);
  }

  /** A bridged call found in Asterisk after a restart of spoofguard: watched until either side hangs up. */
  static adopt(caller: AriChannel, deps: SessionDeps): CallSession {
    const session = new CallSession(caller, { to: '' }, deps);
    session.move('adopted');
    session.subscriberDialled = true;
    session.confirmedAt.set(session.subscriberId, Date.now());
    session.bridgeCreated = Promise.resolve(true);
    session.log.info('bridged call of an earlier spoofguard adopted');
    return session;
  }

  /** Screens (or trusts the SIP front's signed verdict) and takes the path the verdict says. */
  async begin(): Promise<void> {
    // a deadline watches a call; it must not keep a stopping process alive
    this.deadline = setTimeout(
      () => background(this.expire(), this.log, 'setup deadline'),
      this.deps.settings.setupDeadlineSec * 1000,
    ).unref();
    try {
      const request: ScreeningRequest = {
        // the caller ID as Asterisk took it (From, or P-Asserted-Identity where the endpoint trusts it) and the
        // P-Asserted-Identity the dialplan passed: which counts is the trunk's setting, in the screening engine
        from: this.caller.caller.number || 'anonymous',
        ...(this.args.assertedIdentity ? { assertedIdentity: this.args.assertedIdentity } : {}),
        ...(this.args.identity ? { identityValues: [this.args.identity.slice(0, 16384)] } : {}),
        name: this.caller.caller.name || undefined,
        to: this.args.to,
        trunk: this.args.trunk,
        callId: this.callId,
      };
      const trusted = await this.deps.trustedVerdict(this.args, request);
      this.verdict = trusted ?? (await this.deps.screen(request));
      // the SIP front logged this call (caller, its trunk, verdict) first: only the outcome is added here
      if (trusted?.logId) this.callId = trusted.logId;
      this.log[this.flagged ? 'info' : 'debug'](
        {
          verdict: this.verdict.verdict,
          score: this.verdict.score,
          brand: this.verdict.brand,
          degraded: this.verdict.degraded,
          trusted: trusted !== undefined,
        },
        'screened',
      );
      if (this.flagged && !this.verdict.logId) this.emitFlagged();
      // the log keeps what the subscriber's "I expect this call" let through, and that it was let through
      if (this.expectedBySubscriber) {
        this.emitFlagged();
        this.emitOutcome('expected-by-subscriber');
      }
      if (this.callerGone) return await this.finish('caller-hung-up');
      if (this.verdict.verdict === 'block') return await this.block();
      if (!this.flagged && this.deps.settings.cleanCalls === 'dialplan') return await this.handBack('clean');
      await this.dialSubscriber();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'call setup failed: handing the caller back to the dialplan');
      this.outcome = 'failed';
      await this.handBack('failure');
    }
  }

  /** Back to the dialplan, which dials the subscriber itself (fail open); counted by reason. */
  async handBack(reason: HandBackReason): Promise<void> {
    const identity = reason === 'clean' ? verstatIdentity(this.verdict) : undefined;
    // the dialplan dials the subscriber: the channel it dials inherits the verified identity ("_")
    if (identity)
      await this.deps.ari
        .setVariable(this.caller.id, `_${VERSTAT_VARIABLE}`, identity)
        .catch((err: Error) => this.log.warn({ err: err.message }, 'verstat not passed on to the dialplan'));
    if (await this.leaveStasis()) {
      if (reason !== 'clean') this.log.info({ reason }, 'handed back to the dialplan');
      this.deps.handedBack(reason);
    }
    await this.finish(this.outcome ?? (this.flagged ? 'failed' : 'accepted'));
  }

  /**
   * The caller leaves Stasis, to the next priority or to `target`; a subscriber leg still up is hung up.
   * The call is done for spoofguard once Asterisk took it (the StasisEnd that follows finds no session).
   * False when the caller was gone already, or the call had left before.
   */
  private async leaveStasis(target?: DialplanTarget): Promise<boolean> {
    if (!this.move('leave-stasis')) return false;
    this.clearTimers();
    if (this.subscriberDialled && !this.subscriberGone) await this.hangup(this.subscriberId, 'normal');
    // a hand-back that fails for another reason than the caller being gone is tried again: a caller left in
    // Stasis would hear nothing until the next reconciliation
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.ari.continueInDialplan(this.caller.id, target);
        return true;
      } catch (err) {
        const message = (err as Error).message;
        const gone = (err as { status?: number }).status === 404 || /not in stasis/i.test(message);
        if (gone) {
          this.callerGone = true;
          this.log.debug({ err: message }, 'caller already gone: nothing to hand back');
          return false;
        }
        if (attempt >= HAND_BACK_TRIES) {
          this.log.warn(
            { err: message, tries: attempt },
            'hand-back failed: the caller stays in Stasis until the next reconciliation releases it',
          );
          return false;
        }
        this.log.info({ err: message, attempt }, 'hand-back failed: trying again');
        await new Promise((r) => setTimeout(r, HAND_BACK_RETRY_MS * attempt));
      }
    }
  }

  private async dialSubscriber(): Promise<void> {
    // a call handed back while it was screened (setup deadline, drain) rings no one
    if (!this.move('dial')) return;
    this.subscriberDialled = true;
    const prefix = this.deps.settings.warnedNamePrefix.replace('{brand}', this.verdict?.brandName ?? '');
    const callerId = originateCallerId(this.verdict?.caller, this.caller.caller.number, this.flagged ? prefix : '');
    const verstat = verstatIdentity(this.verdict);
    this.times.dial = Date.now();
    // the dial request first: the subscriber's phone should ring as early as possible; the caller's ringing
    // indication and (for a clean call) the bridge follow while it rings
    const dialled = this.deps.ari
      .originate({
        endpoint: this.deps.settings.subscriberEndpoint.replace('{to}', this.args.to),
        channelId: this.subscriberId,
        appArgs: `dialed,${this.caller.id}`,
        callerId,
        timeoutSec: this.deps.settings.dialTimeoutSec,
        originator: this.caller.id,
        ...(verstat ? { variables: { 'PJSIP_HEADER(add,P-Asserted-Identity)': verstat } } : {}),
      })
      .then(() => void this.confirmedAt.set(this.subscriberId, Date.now()));
    const ringing = this.deps.ari
      .ring(this.caller.id)
      .catch((err: Error) => this.log.debug({ err: err.message }, 'ring indication failed'));
    if (!this.flagged) this.prepareBridge();
    await Promise.all([dialled, ringing]);
  }

  private prepareBridge(): Promise<boolean> {
    this.bridgeCreated ??= this.deps.ari.createBridge(this.bridgeId).then(
      () => true,
      (err: Error) => {
        this.log.warn({ err: err.message }, 'bridge could not be created');
        return false;
      },
    );
    return this.bridgeCreated;
  }

  /** The subscriber picked up (their channel entered Stasis). */
  async subscriberAnswered(): Promise<void> {
    if (this.state !== 'dialing') return;
    this.times.answer = Date.now();
    if (this.callerGone) return this.hangup(this.subscriberId, 'normal');
    if (!this.flagged) return this.connect();
    this.move('warn');
    void this.prepareBridge(); // while the warning plays: connecting after "1" is then one request less
    await this.play('warning', this.deps.prompts.warning(this.verdict?.brand, this.reasonCodes()));
  }

  private reasonCodes(): string[] {
    return this.verdict?.reasons.map((r) => r.code) ?? [];
  }

  /** Plays to the subscriber; its PlaybackFinished is matched by the id. */
  private async play(kind: PlaybackKind, mediaList: string[]): Promise<void> {
    this.playback = { id: `${this.subscriberId}-pb${++this.playbackSeq}`, kind };
    await this.deps.ari.play(this.subscriberId, this.playback.id, mediaList, this.language);
  }

  /** Answers the caller and plays an announcement, after which the caller is hung up. */
  private async announceToCaller(mediaName: string): Promise<void> {
    await this.deps.ari.answer(this.caller.id);
    this.callerPlayback = `${this.caller.id}-pb${++this.playbackSeq}`;
    await this.deps.ari.play(this.caller.id, this.callerPlayback, [media(mediaName)], this.language);
  }

  private get language(): string {
    return this.verdict?.language ?? this.deps.settings.defaultLanguage;
  }

  async playbackFinished(playbackId: string): Promise<void> {
    if (this.callerPlayback === playbackId) {
      this.callerPlayback = undefined;
      return this.hangup(this.caller.id, 'normal');
    }
    if (this.playback?.id !== playbackId) return;
    const { kind } = this.playback;
    this.playback = undefined;
    if (this.state === 'warning') {
      if (kind === 'warning') {
        // "1" counts from here on: the subscriber has heard why this call is suspicious
        this.warningHeard = true;
        return this.playChoices();
      }
      if (kind === 'choices') {
        clearTimeout(this.digitTimer);
        this.digitTimer = setTimeout(
          () => background(this.noDigit(), this.log, 'no-key timeout'),
          this.deps.settings.digitTimeoutMs,
        );
      }
    } else if (this.state === 'rejecting' || this.state === 'notifying') {
      if (!this.subscriberGone) await this.hangup(this.subscriberId, 'normal');
    }
  }

  private async playChoices(): Promise<void> {
    this.choiceRounds++;
    await this.play('choices', [media('choices')]);
  }

  private async noDigit(): Promise<void> {
    if (this.state !== 'warning') return;
    if (this.choiceRounds < 2) return this.playChoices();
    this.log.info('no choice after the choices were read twice: rejecting');
    await this.reject('rejected');
  }

  /**
   * A key from the subscriber. 2 and 3 count at any time (a subscriber who already knows enough may hang
   * up the scam early); 1 counts only once the warning was played to its end, so a key pressed by habit in
   * the first second cannot connect a warned call whose warning was never heard.
   */
  async digit(channelId: string, digit: string): Promise<void> {
    if (this.state !== 'warning' || channelId !== this.subscriberId || !CHOICE_DIGITS.has(digit)) return;
    if (digit === '1' && !this.warningHeard) {
      this.log.info('1 pressed before the warning ended: not counted');
      return;
    }
    clearTimeout(this.digitTimer);
    this.times.decision = Date.now();
    this.log.info({ digit }, 'subscriber chose');
    if (this.playback) {
      const { id } = this.playback;
      this.playback = undefined;
      await this.deps.ari.stopPlayback(id).catch(() => undefined);
    }
    if (digit === '1') return this.connect();
    if (digit === '3') this.deps.report(this.verdict?.caller.e164, this.verdict?.brand, this.args.to);
    await this.reject(digit === '3' ? 'reported' : 'rejected');
  }

  /** Bridge both legs, then answer the caller: its 200 OK comes once the media path exists. */
  private async connect(): Promise<void> {
    if (!this.move('connect')) return;
    if (this.flagged) this.outcome = 'accepted';
    clearTimeout(this.deadline);
    this.deadline = setTimeout(
      () => background(this.callTooLong(), this.log, 'maximum call duration'),
      this.deps.settings.maxCallSec * 1000,
    ).unref();
    try {
      if (!(await this.prepareBridge())) throw new Error('no bridge');
      await this.deps.ari.addToBridge(this.bridgeId, [this.caller.id, this.subscriberId]);
      this.times.connect = Date.now();
      await this.deps.ari.answer(this.caller.id);
    } catch (err) {
      if (this.callerGone || this.subscriberGone) return; // the hang-up events finish the call
      this.log.error({ err: (err as Error).message }, 'bridging failed: hanging up both sides');
      this.outcome = 'failed';
      await Promise.all([this.hangup(this.caller.id, 'congestion'), this.hangup(this.subscriberId, 'normal')]);
    }
  }

  private async reject(outcome: 'rejected' | 'reported'): Promise<void> {
    if (!this.move('reject')) return;
    this.outcome = outcome;
    this.times.decision ??= Date.now();
    await Promise.all([
      this.releaseCaller(),
      this.play('notice', [media(outcome === 'reported' ? 'call-reported' : 'call-rejected')]).catch(() =>
        this.hangup(this.subscriberId, 'normal'),
      ),
    ]);
  }

  /** The caller of a call the subscriber turned down: busy, or a neutral announcement (ari.rejectWith). */
  private async releaseCaller(): Promise<void> {
    if (this.callerGone) return;
    if (this.deps.settings.rejectWith === 'busy') return this.hangup(this.caller.id, 'busy');
    await this.announceToCaller('rejected-caller').catch(() => this.hangup(this.caller.id, 'busy'));
  }

  private async block(): Promise<void> {
    if (!this.move('block')) return;
    this.outcome = 'blocked';
    if (!this.deps.settings.blockAnswer) {
      // a refusal the caller's network reads as one: 608 Rejected from the dialplan (PJSIPHangup)
      await this.leaveStasis({ context: this.deps.settings.refuseContext, extension: 's', priority: 1 });
      return this.finish('blocked');
    }
    await this.announceToCaller('blocked').catch(() => this.hangup(this.caller.id, 'rejected'));
  }

  /** A leg of this call is gone, or leaving: the first of the signals Asterisk sends for it counts. */
  async legGone(channelId: string, signal: LegSignal, cause?: number): Promise<void> {
    if (this.state === 'ended') return;
    if (channelId === this.caller.id) {
      if (this.callerGone || this.state === 'handed-back') return;
      this.callerGone = true;
      if (this.state === 'screening') return; // begin() sees it once the verdict is in
      if (!this.ourHangups.has(channelId)) await this.callerHungUp(signal);
    } else if (channelId === this.subscriberId) {
      if (this.subscriberGone) return;
      // an unanswered leg's cause (busy, no answer) comes with its ChannelDestroyed
      if (this.state === 'dialing' && signal === 'ChannelHangupRequest' && cause === undefined) return;
      this.subscriberGone = true;
      if (!this.ourHangups.has(channelId)) await this.subscriberHungUp(cause ?? 16);
    } else return;
    if (this.legs.length === 0) await this.finish(this.outcome ?? 'failed');
  }

  private async callerHungUp(signal: LegSignal): Promise<void> {
    clearTimeout(this.digitTimer);
    this.log.info({ state: this.state, signal }, 'caller gone');
    if (this.state === 'warning' && !this.subscriberGone) {
      // release the subscriber with a short notice instead of dead air
      this.outcome = 'caller-hung-up';
      this.move('caller-left');
      if (this.playback) await this.deps.ari.stopPlayback(this.playback.id).catch(() => undefined);
      await this.play('notice', [media('caller-hung-up')]).catch(() => this.hangup(this.subscriberId, 'normal'));
      return;
    }
    if (this.state === 'dialing' || this.state === 'screening') this.outcome ??= 'caller-hung-up';
    if (this.subscriberDialled && !this.subscriberGone) await this.hangup(this.subscriberId, 'normal');
  }

  private async subscriberHungUp(cause: number): Promise<void> {
    clearTimeout(this.digitTimer);
    this.log.info({ state: this.state, cause }, 'subscriber gone');
    if (this.state === 'dialing') {
      this.outcome = cause === 17 || cause === 21 ? 'rejected' : cause === 18 || cause === 19 ? 'unanswered' : 'failed';
      if (!this.callerGone) await this.hangup(this.caller.id, reasonForCause(cause));
      return;
    }
    if (this.state === 'warning') {
      // hung up on the warning: a rejection, and the caller hears it as one
      this.outcome = 'rejected';
      this.move('reject');
      return this.releaseCaller();
    }
    if (this.state === 'rejecting' && this.callerPlayback) return; // the caller's announcement ends it
    if (!this.callerGone) await this.hangup(this.caller.id, 'normal');
  }

  private async hangup(channelId: string, reason: HangupReason): Promise<void> {
    if (this.ourHangups.has(channelId)) return;
    this.ourHangups.add(channelId);
    if (channelId === this.caller.id) this.callerGone = true;
    else if (channelId === this.subscriberId) this.subscriberGone = true;
    await this.deps.ari
      .hangup(channelId, reason)
      .catch((err: Error) => this.log.debug({ err: err.message, channelId }, 'hang-up of a channel already gone'));
    if (this.legs.length === 0) await this.finish(this.outcome ?? 'failed');
  }

  /** Setup took longer than ari.setupDeadlineSec: something is stuck; the caller goes back to the dialplan. */
  private async expire(): Promise<void> {
    if (!this.inSetup) return;
    this.log.warn(
      { state: this.state, deadlineSec: this.deps.settings.setupDeadlineSec },
      'call not bridged or ended within ari.setupDeadlineSec: handing the caller back to the dialplan',
    );
    this.outcome = 'failed';
    await this.handBack('deadline');
  }

  private async callTooLong(): Promise<void> {
    if (this.state !== 'connected') return;
    this.log.warn({ maxCallSec: this.deps.settings.maxCallSec }, 'call longer than ari.maxCallSec: hanging up');
    await Promise.all([this.hangup(this.caller.id, 'normal'), this.hangup(this.subscriberId, 'normal')]);
  }

  /** The drain ran out: a call not yet bridged goes back to the dialplan rather than being dropped. */
  async abandon(): Promise<void> {
    if (this.inSetup) await this.handBack('draining');
  }

  private clearTimers(): void {
    clearTimeout(this.digitTimer);
    clearTimeout(this.deadline);
  }

  private async finish(outcome: Outcome): Promise<void> {
    const handedBack = this.state === 'handed-back';
    if (!this.move('end')) return;
    this.clearTimers();
    this.times.end = Date.now();
    if (this.bridgeCreated && (await this.bridgeCreated)) {
      await this.deps.ari.destroyBridge(this.bridgeId).catch((err: unknown) => {
        if (!(err instanceof AriRequestError && err.status === 404))
          this.log.warn({ err: (err as Error).message }, 'bridge not destroyed');
      });
    }
    if (this.flagged) this.emitOutcome(outcome);
    // a warned call the subscriber took: *73 may report it afterwards
    const called = this.verdict?.called;
    if (outcome === 'accepted' && this.verdict?.verdict === 'warn' && called?.startsWith('+'))
      this.deps.rememberTaken?.(called.slice(1), {
        callId: this.callId,
        ...(this.verdict.caller.e164 ? { callerE164: this.verdict.caller.e164 } : {}),
        ...(this.verdict.brand ? { brand: this.verdict.brand } : {}),
        at: this.times.start,
      });
    if (this.flagged || !handedBack) this.log.info({ outcome: this.flagged ? outcome : undefined }, 'call ended');
    this.resolveEnded();
  }

  /** Which call the events are about: the log's key and the channel. */
  private eventCall() {
    return { callId: this.callId, channelId: this.caller.id, source: 'ari' as const, receivedAt: this.times.start };
  }

  private emitFlagged(): void {
    const call = this.eventCall();
    const verdict = this.verdict as Verdict;
    // a call let through by the subscriber's allowance: the brand it posed as is the one its reasons name
    const brand = verdict.brand ?? verdict.reasons.find((r) => r.suppressed && r.brand)?.brand;
    this.deps.emit(
      flaggedEvent(
        { ...call, called: this.args.to, trunk: this.args.trunk },
        { ...verdict, ...(brand ? { brand } : {}) },
      ),
    );
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
    this.deps.emit(outcomeEvent(this.eventCall(), outcome, timings, end));
  }
}
