import { performance } from 'node:perf_hooks';
import { checkedCalled } from '../common/e164';
import { excerpt } from '../common/excerpt';
import type { Logger } from '../common/logger';
import { VERDICT_HEADER } from '../common/verdict-header';
import type { AriBridgeInfo, AriConnection } from './ari-adapter';
import type { AriChannel, AriEvent } from './ari-events';
import { SelfServiceCall, type SelfServiceDeps } from './self-service';
import { ArrivalLag } from '../common/arrival-lag';
import { OverloadBypass } from './overload-bypass';
import {
  callerIdOfBridge,
  type CallArgs,
  CallSession,
  type HandBackReason,
  type SessionDeps,
  subscriberIdOf,
} from './call-session';

const decode = (text: string | undefined): string | undefined => {
  if (!text) return undefined;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

export function parseArgs(args: readonly string[]): CallArgs {
  return {
    to: args[0] ?? '',
    trunk: args[1] || undefined,
    assertedIdentity: decode(args[2]),
    verdictHeader: decode(args[3]),
    sipCallId: decode(args[4]),
    identity: decode(args[5]),
  };
}

export interface AppSettings {
  app: string;
  maxCallsInSetup: number;
  /** More ARI requests waiting than this: new calls go back to the dialplan unscreened. */
  maxQueuedRequests: number;
  /** A call that reaches the app this much later than usual (Asterisk or the app behind) goes on unscreened. */
  maxLagMs: number;
  /** How often to reconcile with Asterisk besides after every (re)connection (0: never). */
  reconcileEveryMs: number;
  /** While overloaded, the dialplan sends new calls past the app for this long, renewed (0: never). */
  overloadBypassSec: number;
}

/**
 * The Stasis app: a session per inbound call, found by any of its channels (fonoster's Map<channelId,
 * session>), created on the caller's StasisStart and dropped when every leg it owns is gone. After every
 * (re)connection it reconciles with what Asterisk has: legs that vanished while the event socket was down
 * end their calls; bridged calls of an earlier spoofguard are adopted; other leftovers are released.
 */
export class AriApp {
  readonly sessions = new Map<string, CallSession>();
  private readonly active = new Set<CallSession>();
  private draining = false;
  private reconciling?: Promise<void>;
  private readonly lag = new ArrivalLag();
  /** Bridges older than this process may belong to an earlier spoofguard; younger ones were ours. */
  private readonly startedAt = Date.now();
  private readonly reconcileTimer?: NodeJS.Timeout;
  private readonly bypass: OverloadBypass;
  /** Feature-code calls from subscribers' phones (*71, *72, *73), by channel. */
  private readonly selfServiceCalls = new Map<string, SelfServiceCall>();

  constructor(
    private readonly ari: AriConnection,
    private readonly deps: Omit<SessionDeps, 'ari'>,
    private readonly settings: AppSettings,
    private readonly logger: Logger,
    private readonly selfService?: Omit<SelfServiceDeps, 'ari'>,
  ) {
    ari.on(
      'event',
      (event) =>
        void this.route(event).catch((err: Error) =>
          this.logger.error({ err: err.message, type: event.type }, 'ARI event handling failed'),
        ),
    );
    this.bypass = new OverloadBypass(
      ari,
      { bypassSec: settings.overloadBypassSec },
      (calls) => deps.handedBack('bypassed', calls),
      logger,
    );
    ari.on('connected', () => void this.reconcile());
    // besides after a reconnect: what a request that timed out under load left behind (a bridge, a leg)
    if (settings.reconcileEveryMs > 0)
      this.reconcileTimer = setInterval(() => {
        if (this.ari.connected) void this.reconcile();
      }, settings.reconcileEveryMs).unref();
  }

  /** Stops the timers; an overload bypass runs out in Asterisk by itself. */
  async stop(): Promise<void> {
    clearInterval(this.reconcileTimer);
    await this.bypass.stop();
  }

  get callsInProgress(): number {
    return this.active.size;
  }

  private get callsInSetup(): number {
    let n = 0;
    for (const s of this.active) if (s.inSetup) n++;
    return n;
  }

  private async route(event: AriEvent): Promise<void> {
    switch (event.type) {
      case 'StasisStart': {
        if (event.args[0] === 'dialed') return this.sessions.get(event.channel.id)?.subscriberAnswered();
        if (event.args[0] === 'self-service') return this.startSelfService(event.channel.id, event.args);
        if (this.sessions.has(event.channel.id)) return;
        const lag = this.lag.observe(event.channel.creationtime);
        const busy = this.draining
          ? 'draining'
          : this.callsInSetup >= this.settings.maxCallsInSetup ||
              this.ari.queued > this.settings.maxQueuedRequests ||
              lag > this.settings.maxLagMs
            ? 'overload'
            : undefined;
        if (busy) return this.handBackUnscreened(event.channel.id, busy, lag);
        // late, not yet too late: a backlog is building up; the bypass (if on) keeps more calls away
        if (lag > this.settings.maxLagMs / 2) this.bypass.pressure();
        const args = await this.callArgs(event.channel, event.args);
        if (!checkedCalled(args.to)) return this.refuseCalled(event.channel.id, args.to);
        return this.startCall(event.channel, args);
      }
      case 'ChannelDtmfReceived':
        this.selfServiceCalls.get(event.channel.id)?.digit(event.digit);
        return this.sessions.get(event.channel.id)?.digit(event.channel.id, event.digit);
      case 'PlaybackFinished': {
        const channelId = event.playback.target_uri.replace(/^channel:/, '');
        this.selfServiceCalls.get(channelId)?.playbackFinished(event.playback.id);
        return this.sessions.get(channelId)?.playbackFinished(event.playback.id);
      }
      case 'ChannelHangupRequest':
      case 'StasisEnd':
      case 'ChannelDestroyed':
        this.selfServiceCalls.get(event.channel.id)?.left();
        return this.sessions
          .get(event.channel.id)
          ?.legGone(event.channel.id, event.type, event.type === 'StasisEnd' ? undefined : event.cause);
      default:
        return;
    }
  }

  /**
   * A feature code from a subscriber's phone: Stasis(app,self-service,expect|end|advice,${CHANNEL(endpoint)}[,brand]).
   * Without self-service configured, or with arguments that do not read, the call is hung up.
   */
  private async startSelfService(channelId: string, args: readonly string[]): Promise<void> {
    const [, action, endpoint = '', brand] = args;
    if (!this.selfService || (action !== 'expect' && action !== 'end' && action !== 'advice') || !endpoint) {
      this.logger.warn(
        { channel: channelId, action: action?.slice(0, 16) },
        'feature code refused: self-service is not set up here, or the dialplan passed no action and endpoint',
      );
      await this.ari.hangup(channelId, 'normal').catch(() => undefined);
      return;
    }
    const call = new SelfServiceCall(channelId, action, endpoint, brand, { ...this.selfService, ari: this.ari });
    this.selfServiceCalls.set(channelId, call);
    try {
      await call.run();
    } finally {
      this.selfServiceCalls.delete(channelId);
    }
  }

  /**
   * A called number that is not digits with an optional '+' would reach the subscriber's dial string as more
   * than a number: the call is refused (cause 28, 484 Address Incomplete), never handed back to a Dial().
   */
  private async refuseCalled(channelId: string, to: string): Promise<void> {
    this.deps.refused('called-number');
    this.logger.warn(
      { channel: channelId, called: excerpt(to, 60), length: to.length },
      'called number refused: not digits with an optional leading + (at most 32); hanging up with cause 28',
    );
    await this.ari
      .hangup(channelId, 'number_incomplete')
      .catch((err: Error) => this.logger.warn({ channel: channelId, err: err.message }, 'refusal hang-up failed'));
  }

  /** Draining or overloaded: the call goes on in the dialplan, unscreened, at once (and is counted). */
  private async handBackUnscreened(channelId: string, reason: HandBackReason, lagMs = 0): Promise<void> {
    const started = performance.now();
    this.deps.handedBack(reason);
    if (reason === 'overload') this.bypass.overloaded();
    this.logger.info({ channel: channelId, reason }, 'call handed back to the dialplan unscreened');
    await this.ari
      .continueInDialplan(channelId)
      .catch((err: Error) => this.logger.warn({ channel: channelId, err: err.message }, 'hand-back failed'));
    this.deps.handBackDelay?.(reason, (lagMs + performance.now() - started) / 1000);
  }

  /**
   * The dialplan should pass called number, trunk, P-Asserted-Identity and the verdict header as Stasis
   * arguments (no extra round trip). Where it passes fewer, the called number comes from the channel's
   * extension and the headers are read through channel variables.
   */
  private async callArgs(channel: AriChannel, args: readonly string[]): Promise<CallArgs> {
    const parsed = parseArgs(args);
    if (!parsed.to) parsed.to = channel.dialplan?.exten ?? '';
    if (args.length < 3) {
      const [pai, verdict] = await Promise.all([
        this.ari.variable(channel.id, 'PJSIP_HEADER(read,P-Asserted-Identity)'),
        this.ari.variable(channel.id, `PJSIP_HEADER(read,${VERDICT_HEADER})`),
      ]);
      parsed.assertedIdentity = pai || undefined;
      parsed.verdictHeader = verdict || undefined;
    }
    return parsed;
  }

  private track(session: CallSession): void {
    this.sessions.set(session.caller.id, session);
    this.sessions.set(session.subscriberId, session);
    this.active.add(session);
    void session.ended.then(() => {
      if (this.sessions.get(session.caller.id) === session) this.sessions.delete(session.caller.id);
      if (this.sessions.get(session.subscriberId) === session) this.sessions.delete(session.subscriberId);
      this.active.delete(session);
    });
  }

  private async startCall(channel: AriChannel, args: CallArgs): Promise<void> {
    const session = new CallSession(channel, args, { ...this.deps, ari: this.ari });
    this.track(session);
    await session.begin();
  }

  /**
   * What Asterisk has, against what the sessions think they own. Runs after every (re)connection; events
   * missed while the socket was down are made up for here.
   */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce()
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'reconciliation with Asterisk failed'))
      .finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const askedAt = Date.now();
    const [channels, bridges] = await Promise.all([this.ari.listChannels(), this.ari.listBridges()]);
    const live = new Map(channels.map((c) => [c.id, c]));
    let vanished = 0;
    for (const session of [...this.active]) {
      for (const leg of session.legsConfirmedBefore(askedAt)) {
        if (live.has(leg)) continue;
        vanished++;
        await session.legGone(leg, 'vanished');
      }
    }
    if (vanished)
      this.logger.warn({ legs: vanished }, 'call legs vanished while the ARI event socket was down: calls ended');

    // what belongs to this app but to no session: left by an earlier spoofguard (a restart, a bounded drain)
    const ours = (id: string): boolean => {
      const app = live.get(id)?.dialplan;
      return app?.app_name === 'Stasis' && (app.app_data ?? '').split(',')[0] === this.settings.app;
    };
    const owned = (id: string): boolean => this.sessions.has(id) || this.selfServiceCalls.has(id);
    let adopted = 0;
    let released = 0;
    const now = Date.now();
    // Asterisk lists every app's bridges: only this app's are its business (another spoofguard, or any other
    // app, on the same Asterisk keeps its own calls). Older versions named a bridge by its id: theirs are ours
    // when one of their channels is in this app.
    const ofThisApp = (bridge: AriBridgeInfo): boolean =>
      bridge.name === this.settings.app || (bridge.name === bridge.id && bridge.channels.some(ours));
    for (const bridge of bridges) {
      const callerId = callerIdOfBridge(bridge.id);
      if (!callerId || owned(callerId) || !ofThisApp(bridge)) continue;
      const subscriberId = subscriberIdOf(callerId);
      const members = new Set(bridge.channels);
      const created = Date.parse(bridge.creationtime ?? '');
      const earlier = !Number.isFinite(created) || created < this.startedAt;
      if (
        earlier &&
        members.has(callerId) &&
        members.has(subscriberId) &&
        live.has(callerId) &&
        live.has(subscriberId)
      ) {
        const caller = live.get(callerId);
        this.track(
          CallSession.adopt(
            { id: callerId, name: '', state: caller?.state ?? 'Up', caller: { name: '', number: '' } },
            { ...this.deps, ari: this.ari },
          ),
        );
        adopted++;
        continue;
      }
      // half a call: release what is left of it
      for (const id of members) if (live.has(id)) await this.ari.hangup(id, 'normal').catch(() => undefined);
      await this.ari.destroyBridge(bridge.id).catch(() => undefined);
      released++;
    }
    // a channel that entered Stasis a moment ago may not have its session yet
    const settled = (id: string): boolean => {
      const created = Date.parse(live.get(id)?.creationtime ?? '');
      return !Number.isFinite(created) || now - created > 10_000;
    };
    const bridged = new Set(bridges.flatMap((b) => b.channels));
    for (const channel of channels) {
      if (!ours(channel.id) || owned(channel.id) || !settled(channel.id) || bridged.has(channel.id)) continue;
      released++;
      // a subscriber leg without its call is hung up; a caller waiting in Stasis goes on in the dialplan
      if (channel.id.endsWith('-sub')) await this.ari.hangup(channel.id, 'normal').catch(() => undefined);
      else await this.handBackUnscreened(channel.id, 'failure');
    }
    if (adopted || released)
      this.logger.info(
        { adopted, released },
        'reconciled with Asterisk: calls of an earlier spoofguard adopted or released',
      );
  }

  /**
   * Stops taking new calls (they go on in the dialplan) and waits up to `timeoutMs` for the calls in
   * progress to end. Then calls not yet bridged are handed back to the dialplan; bridged calls stay up in
   * Asterisk, and the next spoofguard to connect adopts them. No call is dropped.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    if (this.active.size === 0) return;
    this.logger.info({ calls: this.active.size, timeoutMs }, 'waiting for calls in progress to end');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)));
    const allEnded = Promise.all([...this.active].map((s) => s.ended)).then(() => false);
    const late = await Promise.race([allEnded, timedOut]);
    clearTimeout(timer);
    if (!late) return;
    const setups = [...this.active].filter((s) => s.inSetup);
    await Promise.all(setups.map((s) => s.abandon()));
    const bridged = [...this.active].filter((s) => s.current === 'connected').length;
    this.logger.warn(
      { handedBack: setups.length, bridged },
      'drain timeout: calls not yet bridged went back to the dialplan; bridged calls stay up for the next spoofguard',
    );
  }
}
