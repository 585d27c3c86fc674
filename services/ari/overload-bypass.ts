import type { Logger } from '../common/logger';
import { background } from '../common/process-policy';
import type { AriConnection } from './ari-adapter';

/** Epoch second until which the dialplan sends new calls past Stasis() (asterisk/extensions.conf reads it). */
export const BYPASS_UNTIL_VAR = 'SPOOFGUARD_BYPASS_UNTIL';
/** Percent (0-100) of new calls the dialplan sends past Stasis() while the bypass is on; the rest still come in. */
export const BYPASS_SHARE_VAR = 'SPOOFGUARD_BYPASS_SHARE';
/** How many calls the dialplan sent past Stasis() since Asterisk started (the dialplan counts them). */
export const BYPASSED_VAR = 'SPOOFGUARD_BYPASSED';

/** How often the share is adjusted and the bypass renewed at most, and its count read while it is on. */
const RENEW_EVERY_MS = 500;
/** Points of the share given back to screening each interval without a sign of overload. */
const SHARE_STEP = 10;
/** Intervals at share 0 without a sign of overload before the episode ends (the bypass is switched off). */
const CALM_INTERVALS = 10;

export interface BypassSettings {
  /** How long one renewal keeps the bypass on in Asterisk; renewed while the episode lasts (0: never bypass). */
  bypassSec: number;
}

interface Episode {
  since: number;
  counted: number;
  /** Percent of new calls sent past Stasis(). */
  share: number;
  /** A sign of overload came since the last adjustment. */
  pressed: boolean;
  calm: number;
}

/**
 * Overload relief that costs Asterisk nothing: handing a call back from Stasis still costs a StasisStart, a
 * `continue` and a StasisEnd, and above the app's rate those alone saturate Asterisk. While the app is
 * overloaded it sets globals that the dialplan checks before Stasis(): a share of new calls goes straight to
 * Dial(), unscreened, and is counted there. The share is steered like a congestion window: all of them at the
 * first sign of overload; then, every interval, ten points fewer while the calls that still come in arrive in
 * time, and half as many screened as before at each new sign (a call arriving late, too many in setup). So
 * the app screens about as many calls as it and Asterisk can take, instead of switching the bypass on and off
 * (each switch-off floods Stasis again, and the backlog it leaves delays every call, bypassed ones too). The
 * expiry global makes a spoofguard that dies while overloaded leave Asterisk screening again within
 * `bypassSec`. Counted calls go to `onBypassed`.
 */
export class OverloadBypass {
  private episode?: Episode;
  private until = 0;
  private lastCount?: number;
  private timer?: NodeJS.Timeout;
  private starting?: Promise<void>;
  private adjustedAt = 0;
  /** The share Asterisk has (undefined: not written in this process's life, or maybe lost). */
  private publishedShare?: number;

  constructor(
    private readonly ari: AriConnection,
    private readonly settings: BypassSettings,
    private readonly onBypassed: (calls: number) => void,
    private readonly logger: Logger,
  ) {}

  /** The share of calls sent past the app now (0 when no episode runs). */
  get share(): number {
    return this.episode?.share ?? 0;
  }

  /** The app just turned a call away for overload: switch the bypass on, or send more calls past. */
  overloaded(now = Date.now()): void {
    if (this.settings.bypassSec <= 0 || this.starting) return;
    if (!this.episode) {
      this.starting = this.begin(now).finally(() => (this.starting = undefined));
      return;
    }
    this.pressure(now);
  }

  /**
   * A sign of strain short of turning a call away (calls arriving late, not yet too late): while an episode
   * runs, no more calls are given back to screening, and at most once an interval fewer are screened.
   */
  pressure(now = Date.now()): void {
    const episode = this.episode;
    if (!episode) return;
    episode.pressed = true;
    if (now - this.adjustedAt < RENEW_EVERY_MS) return;
    this.adjustedAt = now;
    episode.share = Math.min(100, Math.round(100 - (100 - episode.share) / 2));
    episode.calm = 0;
    background(this.publish(now), this.logger, 'overload bypass update');
  }

  private async begin(now: number): Promise<void> {
    try {
      // the count before this episode, so that only its bypassed calls are credited to it
      this.lastCount = await this.readCount();
      this.episode = { since: now, counted: 0, share: 100, pressed: true, calm: 0 };
      this.adjustedAt = now;
      this.logger.warn(
        { bypassSec: this.settings.bypassSec },
        'overloaded: the dialplan sends new calls past spoofguard, unscreened, until the load falls',
      );
      this.timer = setInterval(
        () => background(this.tick(), this.logger, 'overload bypass renewal'),
        RENEW_EVERY_MS,
      ).unref();
      await this.publish(now);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'overload bypass not set in Asterisk: calls are handed back');
    }
  }

  /** Writes share and expiry to Asterisk (the share first: the expiry is what switches it on). */
  private async publish(now: number): Promise<void> {
    const episode = this.episode;
    if (!episode) return;
    try {
      this.until = Math.ceil(now / 1000) + this.settings.bypassSec;
      // under overload every ARI request counts: the share only when it changed, the expiry every interval
      if (episode.share !== this.publishedShare) {
        await this.ari.setGlobal(BYPASS_SHARE_VAR, String(episode.share));
        this.publishedShare = episode.share;
      }
      await this.ari.setGlobal(BYPASS_UNTIL_VAR, String(this.until));
    } catch (err) {
      this.publishedShare = undefined;
      this.logger.warn({ err: (err as Error).message }, 'overload bypass not set in Asterisk: calls are handed back');
    }
  }

  private async readCount(): Promise<number> {
    return Number(await this.ari.getGlobal(BYPASSED_VAR)) || 0;
  }

  /**
   * Every interval: credits the calls the dialplan counted, gives screening more calls while calm, renews. A
   * tick still waiting for Asterisk (slow under overload) makes the next one skip: ticks piling up would each
   * step the share and write it to Asterisk, in whatever order their answers came.
   */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.tickOnce();
    } finally {
      this.ticking = false;
    }
  }

  private ticking = false;

  private async tickOnce(): Promise<void> {
    const episode = this.episode;
    if (!episode) return;
    await this.count(episode);
    if (this.episode !== episode) return;
    const now = Date.now();
    if (episode.pressed) episode.pressed = false;
    else if (episode.share > 0) episode.share = Math.max(0, episode.share - SHARE_STEP);
    else if (++episode.calm >= CALM_INTERVALS) {
      return this.switchOff(episode);
    }
    await this.publish(now);
  }

  private async count(episode: Episode): Promise<void> {
    try {
      const count = await this.readCount();
      // a restarted Asterisk counts from 0 again
      const added = count >= (this.lastCount ?? 0) ? count - (this.lastCount ?? 0) : count;
      this.lastCount = count;
      if (added > 0) {
        episode.counted += added;
        this.onBypassed(added);
      }
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'bypassed-call count not read');
    }
  }

  private async switchOff(episode: Episode): Promise<void> {
    this.end(episode);
    this.until = 0;
    await this.ari
      .setGlobal(BYPASS_UNTIL_VAR, '0')
      .catch((err: Error) => this.logger.debug({ err: err.message }, 'bypass not switched off: it runs out'));
  }

  private end(episode: Episode): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.episode = undefined;
    this.logger.info(
      { bypassed: episode.counted, overloadMs: Date.now() - episode.since },
      'overload over: calls are screened again',
    );
  }

  /** Stops renewing; the bypass runs out in Asterisk by itself. Reads the count one last time. */
  async stop(): Promise<void> {
    await this.starting;
    const episode = this.episode;
    if (episode) {
      await this.count(episode);
      this.end(episode);
    }
  }
}
