/** The span of each slot's smallest delay, and how many slots the baseline looks back over (one minute). */
const SLOT_MS = 5000;
const SLOTS = 12;

/**
 * How late calls reach the app: (now − the call's creation time by its server's clock: Asterisk's channel, Kamailio's INVITE) less the smallest such delay of the last
 * minute, so that a clock difference between Asterisk's host and ours cancels out. The baseline is the minimum
 * over time, not over the last so many calls: under a backlog every call is late, and a baseline of recent
 * calls would soon take the backlog for normal (at 200 calls/s, after one second) and stop seeing it.
 */
export class ArrivalLag {
  /** Smallest delay seen in each slot, by slot number (time / SLOT_MS). */
  private readonly minima = new Map<number, number>();

  /** The lag of a call created at `created` (ms); 0 when Asterisk did not say. */
  observe(created: string | undefined, now = Date.now()): number {
    return this.observeAt(created ? Date.parse(created) : NaN, now);
  }

  /** The same for a creation time in ms since the epoch (NaN: not said, lag 0). */
  observeAt(at: number, now = Date.now()): number {
    if (!Number.isFinite(at)) return 0;
    const delay = now - at;
    const slot = Math.floor(now / SLOT_MS);
    const seen = this.minima.get(slot);
    if (seen === undefined || delay < seen) this.minima.set(slot, delay);
    let baseline = delay;
    for (const [s, min] of this.minima) {
      if (s <= slot - SLOTS) this.minima.delete(s);
      else if (min < baseline) baseline = min;
    }
    return delay - baseline;
  }
}
