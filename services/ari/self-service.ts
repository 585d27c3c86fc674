import type { Logger } from '../common/logger';
import type { AriConnection } from './ari-adapter';
import { media, type Prompts } from './prompts';

/** What a subscriber's feature code asks for: *71 "I'm expecting the brand's call", *72 "warn me again". */
export type SelfServiceAction = 'expect' | 'end';

export interface SelfServiceSettings {
  expectCallMinutes: number;
  /** The brand the codes are about unless the dialplan names one. */
  brand: string;
  /** PJSIP endpoint → the subscriber's E.164 number. */
  subscribers: Readonly<Record<string, string>>;
  defaultLanguage: string;
}

/** The subscriber records the codes change (the screening engine reads them for every call to the subscriber). */
export interface Allowances {
  expect(subscriber: string, brand: string, until: number): Promise<void>;
  end(subscriber: string, brand: string): Promise<void>;
  /** The subscriber's prompt language, when set. */
  language(subscriber: string): Promise<string | undefined>;
}

export interface SelfServiceDeps {
  ari: AriConnection;
  allowances: Allowances;
  prompts: Prompts;
  settings: SelfServiceSettings;
  logger: Logger;
  clock?: () => number;
}

/** A prompt to a feature-code caller is short: past this the call is ended anyway. */
const PROMPT_TIMEOUT_MS = 20_000;

/**
 * One feature-code call from a subscriber's own phone, handled in Stasis: the subscriber is the one the
 * endpoint belongs to (selfService.subscribers; Asterisk names the endpoint it authenticated, nothing the phone
 * sends counts), their allowance for the brand is set (until now + expectCallMinutes) or removed, a short
 * confirmation is played in their language, and the call ends. A code from an endpoint no subscriber owns
 * changes nothing.
 */
export class SelfServiceCall {
  private playback?: { id: string; done: () => void };
  private gone = false;

  constructor(
    readonly channelId: string,
    private readonly action: SelfServiceAction,
    private readonly endpoint: string,
    private readonly brandArg: string | undefined,
    private readonly deps: SelfServiceDeps,
  ) {}

  async run(): Promise<void> {
    const { ari, settings, logger } = this.deps;
    const log = logger.child({ channel: this.channelId, endpoint: this.endpoint.slice(0, 64), action: this.action });
    try {
      await ari.answer(this.channelId);
      const subscriber = settings.subscribers[this.endpoint];
      const brand = this.brandArg && /^[a-z0-9][a-z0-9-]{0,39}$/.test(this.brandArg) ? this.brandArg : settings.brand;
      if (!subscriber) {
        log.warn('self-service refused: the endpoint belongs to no subscriber (selfService.subscribers)');
        await this.say(media('self-service-refused'), settings.defaultLanguage);
        return;
      }
      const language = (await this.deps.allowances.language(subscriber)) ?? settings.defaultLanguage;
      if (this.action === 'expect') {
        const until = (this.deps.clock ?? Date.now)() + settings.expectCallMinutes * 60_000;
        await this.deps.allowances.expect(subscriber, brand, until);
        log.info(
          { subscriber, brand, until: new Date(until).toISOString() },
          'subscriber expects a call: unwarned until then',
        );
        await this.say(this.deps.prompts.expectCall(brand), language);
      } else {
        await this.deps.allowances.end(subscriber, brand);
        log.info({ subscriber, brand }, 'subscriber wants warnings again');
        await this.say(media('expect-call-ended'), language);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'self-service failed; ending the call');
    } finally {
      if (!this.gone)
        await ari.hangup(this.channelId, 'normal').catch((err: Error) => log.debug({ err: err.message }, 'hang-up'));
    }
  }

  /** Plays one prompt and waits until it finished, the caller hung up, or PROMPT_TIMEOUT_MS passed. */
  private async say(sound: string, language: string): Promise<void> {
    if (this.gone) return;
    const id = `${this.channelId}-ss`;
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<void>((resolve) => {
      this.playback = { id, done: resolve };
      timer = setTimeout(resolve, PROMPT_TIMEOUT_MS);
    });
    try {
      await this.deps.ari.play(this.channelId, id, [sound], language);
      await finished;
    } finally {
      clearTimeout(timer);
      this.playback = undefined;
    }
  }

  playbackFinished(playbackId: string): void {
    if (this.playback?.id === playbackId) this.playback.done();
  }

  /** The caller hung up (or the channel left Stasis). */
  left(): void {
    this.gone = true;
    this.playback?.done();
  }
}
