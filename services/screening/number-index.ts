/**
 * The exact-number list of one generation, held in process, so that a call from a number on no list is
 * screened without a round trip to Redis. Only its "not listed" answers are used: a number it holds still
 * goes to Redis, which has the entry's meta and expiry and the subscriber's record. It is exact, not a
 * probabilistic filter: a sorted Float64Array (8 bytes a number; 15 digits fit a double exactly) plus the
 * numbers added in place since it was built. Numbers removed in place stay in it until the next build and
 * only cost their callers the round trip they cost before.
 */
export class NumberIndex {
  private readonly added = new Set<number>();

  constructor(
    /** The list generation it was built from. */
    readonly gen: number,
    private readonly sorted: Float64Array,
    /** How many entries of the generation's in-place additions log it holds. */
    public logOffset: number,
  ) {}

  /** `numbers` is sorted in place and kept: the caller hands it over. */
  static fromNumbers(gen: number, numbers: Float64Array, logOffset: number): NumberIndex {
    return new NumberIndex(gen, numbers.sort(), logOffset);
  }

  get size(): number {
    return this.sorted.length + this.added.size;
  }

  /** Bytes it holds: the sorted numbers, and about 40 a number added since (a Set of doubles). */
  get bytes(): number {
    return this.sorted.byteLength + this.added.size * 40;
  }

  /** Numbers added to the generation in place (its additions log, from `logOffset` on). */
  catchUp(digits: readonly string[]): void {
    for (const d of digits) this.added.add(Number(d));
    this.logOffset += digits.length;
  }

  /** Digits of up to 15 digits (what the lists hold). */
  has(digits: string): boolean {
    const n = Number(digits);
    if (this.added.has(n)) return true;
    const sorted = this.sorted;
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = sorted[mid];
      if (v === n) return true;
      if (v < n) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}
