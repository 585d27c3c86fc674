import type { Logger } from '../common/logger';
import type { AriConnection } from './ari-adapter';
import { media, type Prompts } from './prompts';

/**
 * What a subscriber's feature code asks for: *71 "I'm expecting the brand's call", *72 "warn me again", *73
 * "what do I do now?" (the advice, and the offer to report the last warned call they took).
 */
export type SelfServiceAction = 'expect' | 'end' | 'advice';

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

/** The last warned call a subscriber took, and reporting it afterwards (outcome reported-after, like key 3). */
export interface Afterwards {
  lastTaken(subscriber: string): Promise<{ callId: string; brand?: string } | undefined>;
  /** Reports it: false when it was reported already. */
  report(subscriber: string, callId: string): Promise<boolean>;
}

export interface SelfServiceDeps {
  ari: AriConnection;
  allowances: Allowances;
  afterwards?: Afterwards;
  prompts: Prompts;
  settings: SelfServiceSettings;
  logger: Logger;
  clock?: () => number;
}

/** A prompt to a feature-code caller is short (the advice a minute): past this the call is ended anyway. */
const PROMPT_TIMEOUT_MS = 60_000;
/** How long *73 waits for the 1 that reports the last warned call. */
const REPORT_DIGIT_MS = 8_000;

/**
 * One feature-code call from a subscriber's own phone, handled in Stasis: the subscriber is the one the
 * endpoint belongs to (selfService.subscribers; Asterisk names the endpoint it authenticated, nothing the phone
 * sends counts), their allowance for the brand is set (until now + expectCallMinutes) or removed, a short
 * confirmation is played in their language, and the call ends; *73 plays the advice and may report the last
 * warned call they took. A code from an endpoint no subscriber owns changes nothing.
 */
export class SelfServiceCall {
  private playback?: { id: string; done: () => void };
  private gone = false;
  private digitWaiter?: (digit: string | undefined) => void;

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
      if (this.action === 'advice') return await this.advice(subscriber, brand, log);
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

  /**
   * *73: what to do after a scam call (call the bank, remove the remote-access program, police, the brand's
   * address), for anyone; to a subscriber who took a warned call, the offer to report it: 1 makes its outcome
   * reported-after and counts the caller's report as key 3 does.
   */
  private async advice(subscriber: string | undefined, brand: string, log: SelfServiceDeps['logger']): Promise<void> {
    const language =
      (subscriber && (await this.deps.allowances.language(subscriber))) || this.deps.settings.defaultLanguage;
    const taken = subscriber ? await this.deps.afterwards?.lastTaken(subscriber) : undefined;
    await this.say(this.deps.prompts.advice(taken?.brand ?? brand), language);
    if (!subscriber || !taken || this.gone) return;
    const digit = new Promise<string | undefined>((resolve) => (this.digitWaiter = resolve));
    await this.say(media('report-last-offer'), language);
    let timer: NodeJS.Timeout | undefined;
    const pressed = await Promise.race([
      digit,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), REPORT_DIGIT_MS))),
    ]);
    clearTimeout(timer);
    this.digitWaiter = undefined;
    if (pressed !== '1') return;
    const reported = await this.deps.afterwards?.report(subscriber, taken.callId);
    log.info({ subscriber, callId: taken.callId, reported }, 'subscriber reported the last warned call they took');
    await this.say(media('report-last-done'), language);
  }

  /** A digit the caller pressed (RFC 2833): *73's 1, also during the offer. */
  digit(digit: string): void {
    this.digitWaiter?.(digit);
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
