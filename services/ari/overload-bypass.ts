import type { Logger } from '../common/logger';
import type { AriConnection } from './ari-adapter';

/** Epoch second until which the dialplan sends new calls past Stasis() (asterisk/extensions.conf reads it). */
export const BYPASS_UNTIL_VAR = 'SPOOFGUARD_BYPASS_UNTIL';
/** How many calls the dialplan sent past Stasis() since Asterisk started (the dialplan counts them). */
export const BYPASSED_VAR = 'SPOOFGUARD_BYPASSED';

/** How often the bypass is renewed at most, and its count read while it is on. */
const RENEW_EVERY_MS = 500;

export interface BypassSettings {
  /** How long one overload notice keeps the bypass on; renewed while the overload lasts (0: never bypass). */
  bypassSec: number;
}

/**
 * Overload relief that costs Asterisk nothing: handing a call back from Stasis still costs a StasisStart, a
 * `continue` and a StasisEnd, and above the app's rate those alone saturate Asterisk. While the app is
 * overloaded it sets a global that the dialplan checks before Stasis(), so new calls go straight to Dial(),
 * unscreened, and are counted there. The global holds an expiry, not a flag: a spoofguard that dies while
 * overloaded leaves Asterisk screening again within `bypassSec`. Counted calls go to `onBypassed`.
 */
export class OverloadBypass {
  private episode?: { since: number; counted: number };
  private renewedAt = 0;
  private until = 0;
  private lastCount?: number;
  private timer?: NodeJS.Timeout;
  private starting?: Promise<void>;

  constructor(
    private readonly ari: AriConnection,
    private readonly settings: BypassSettings,
    private readonly onBypassed: (calls: number) => void,
    private readonly logger: Logger,
  ) {}

  /** The app just turned a call away for overload: switch the bypass on, or keep it on. */
  overloaded(now = Date.now()): void {
    if (this.settings.bypassSec <= 0 || this.starting) return;
    if (now - this.renewedAt < RENEW_EVERY_MS) return;
    this.renewedAt = now;
    this.starting = this.renew(now).finally(() => (this.starting = undefined));
  }

  private async renew(now: number): Promise<void> {
    try {
      if (!this.episode) {
        // the count before this episode, so that only its bypassed calls are credited to it
        this.lastCount = await this.readCount();
        this.episode = { since: now, counted: 0 };
        this.logger.warn(
          { bypassSec: this.settings.bypassSec },
          'overloaded: the dialplan sends new calls past spoofguard, unscreened, until the load falls',
        );
        this.timer = setInterval(() => void this.poll(), RENEW_EVERY_MS).unref();
      }
      this.until = Math.ceil(now / 1000) + this.settings.bypassSec;
      await this.ari.setGlobal(BYPASS_UNTIL_VAR, String(this.until));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'overload bypass not set in Asterisk: calls are handed back');
    }
  }

  private async readCount(): Promise<number> {
    return Number(await this.ari.getGlobal(BYPASSED_VAR)) || 0;
  }

  /** Credits the calls the dialplan counted; ends the episode once the bypass has run out. */
  private async poll(): Promise<void> {
    const episode = this.episode;
    if (!episode) return;
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
    if (Date.now() >= (this.until + 1) * 1000 && this.episode === episode) this.end(episode);
  }

  private end(episode: { since: number; counted: number }): void {
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
    if (this.episode) {
      await this.poll();
      if (this.episode) this.end(this.episode);
    }
  }
}
