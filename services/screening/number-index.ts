/**
 * The exact-number list of one generation, held in process: which numbers are listed and the id of each one's
 * meta record, so that a call is screened without a round trip to Redis whenever the meta record and the
 * called subscriber's record are at hand too. Sorted Float64Array of the numbers (15 digits fit a double
 * exactly) with their meta ids beside them (12 bytes a number), plus the changes made in place since it was
 * built, read from the generation's number log in order.
 */
export class NumberIndex {
  /** Numbers changed in place since the build: meta id, or 0 for a number removed. */
  private readonly changed = new Map<number, number>();

  private constructor(
    /** The list generation it was built from. */
    readonly gen: number,
    private readonly sorted: Float64Array,
    private readonly ids: Uint32Array,
    /** How many entries of the generation's number log it holds. */
    public logOffset: number,
  ) {}

  /** Numbers and their meta ids (parallel, any order). */
  static build(gen: number, numbers: Float64Array, ids: Uint32Array, logOffset: number): NumberIndex {
    // sorted together: an order of positions by number, then both gathered in that order
    const order = new Uint32Array(numbers.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => numbers[a] - numbers[b]);
    const sortedNumbers = new Float64Array(numbers.length);
    const sortedIds = new Uint32Array(ids.length);
    for (let i = 0; i < order.length; i++) {
      sortedNumbers[i] = numbers[order[i]];
      sortedIds[i] = ids[order[i]];
    }
    return new NumberIndex(gen, sortedNumbers, sortedIds, logOffset);
  }

  get size(): number {
    return this.sorted.length + this.changed.size;
  }

  /** Bytes it holds: the numbers and ids, and about 40 a number changed since (a Map of doubles). */
  get bytes(): number {
    return this.sorted.byteLength + this.ids.byteLength + this.changed.size * 40;
  }

  /** Entries of the generation's number log, from `logOffset` on: `digits:metaId`, or `digits:` for a removal. */
  catchUp(entries: readonly string[]): void {
    for (const entry of entries) {
      const at = entry.indexOf(':');
      const digits = at < 0 ? entry : entry.slice(0, at);
      this.changed.set(Number(digits), at < 0 ? 0 : Number(entry.slice(at + 1)) || 0);
    }
    this.logOffset += entries.length;
  }

  /** The meta id of a listed number (digits of up to 15 digits); undefined when it is not listed. */
  get(digits: string): number | undefined {
    const n = Number(digits);
    const changed = this.changed.get(n);
    if (changed !== undefined) return changed === 0 ? undefined : changed;
    const sorted = this.sorted;
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = sorted[mid];
      if (v === n) return this.ids[mid];
      if (v < n) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  has(digits: string): boolean {
    return this.get(digits) !== undefined;
  }
}
