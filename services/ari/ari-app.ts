import type { Logger } from '../common/logger';
import { VERDICT_HEADER } from '../common/verdict-header';
import type { AriConnection } from './ari-adapter';
import type { AriChannel, AriEvent } from './ari-events';
import { type CallArgs, CallSession, type SessionDeps } from './call-session';

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
  };
}

/**
 * The Stasis app: a session per inbound call, found by either of its channels (fonoster's Map<channelId,
 * session>), created on the caller's StasisStart and dropped when the call has ended.
 */
export class AriApp {
  readonly sessions = new Map<string, CallSession>();
  private draining = false;
  private readonly active = new Set<CallSession>();

  constructor(
    private readonly ari: AriConnection,
    private readonly deps: Omit<SessionDeps, 'ari'>,
    private readonly logger: Logger,
  ) {
    ari.on(
      'event',
      (event) =>
        void this.route(event).catch((err: Error) =>
          this.logger.error({ err: err.message, type: event.type }, 'event handling failed'),
        ),
    );
  }

  get callsInProgress(): number {
    return this.active.size;
  }

  private async route(event: AriEvent): Promise<void> {
    switch (event.type) {
      case 'StasisStart': {
        if (event.args[0] === 'dialed') return this.sessions.get(event.args[1] ?? '')?.subscriberAnswered();
        if (this.draining) {
          // shutting down: the call goes on in the dialplan (e.g. a plain Dial) instead of being dropped
          this.logger.info({ channel: event.channel.id }, 'draining: call handed back to the dialplan');
          return this.ari.continueInDialplan(event.channel.id).catch(() => undefined);
        }
        return this.startCall(event.channel, await this.callArgs(event.channel, event.args));
      }
      case 'ChannelDtmfReceived':
        return this.sessions.get(event.channel.id)?.digit(event.channel.id, event.digit);
      case 'PlaybackFinished': {
        const channelId = event.playback.target_uri.replace(/^channel:/, '');
        const session = this.sessions.get(channelId);
        if (!session) return;
        if (channelId === session.caller.id) await session.callerPlaybackFinished(event.playback.id);
        return session.playbackFinished(event.playback.id);
      }
      case 'ChannelDestroyed':
        return this.sessions.get(event.channel.id)?.channelGone(event.channel.id, event.cause);
      default:
        return;
    }
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

  private async startCall(channel: CallSession['caller'], args: CallArgs): Promise<void> {
    const session = new CallSession(channel, args, { ...this.deps, ari: this.ari });
    this.sessions.set(channel.id, session);
    this.active.add(session);
    void session.ended.then(() => {
      this.sessions.delete(channel.id);
      this.sessions.delete(session.plannedSubscriberChannel);
      this.active.delete(session);
    });
    this.sessions.set(session.plannedSubscriberChannel, session);
    await session.begin();
  }

  /** Stops taking new calls and waits for the ones in progress to end. */
  async drain(): Promise<void> {
    this.draining = true;
    if (this.active.size) this.logger.info({ calls: this.active.size }, 'waiting for calls in progress to end');
    await Promise.all([...this.active].map((s) => s.ended));
  }
}
