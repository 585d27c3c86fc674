/**
 * Keeps recently used values: two generations of at most `capacity / 2` entries each. When the young one
 * fills, it becomes the old one and the previous old one is dropped whole, so every operation is O(1)
 * (a Map that evicts its first key one at a time slows down as deleted slots pile up).
 */
export class RecentCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity: number) {}

  get(key: string, compute: () => V): V {
    // one hash look-up for a kept value; has() only tells a kept undefined from a missing key
    let value = this.young.get(key);
    if (value !== undefined || this.young.has(key)) {
      this.hits++;
      return value as V;
    }
    value = this.old.get(key);
    if (value !== undefined || this.old.has(key)) {
      this.hits++;
    } else {
      this.misses++;
      value = compute();
    }
    this.set(key, value as V);
    return value as V;
  }

  /** Keeps `value` for `key` (replacing what was kept). */
  set(key: string, value: V): void {
    if (this.young.size >= this.capacity / 2) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** The value kept for `key`, if any, without counting or refreshing it. */
  peek(key: string): V | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  resetCounters(): void {
    this.hits = this.misses = 0;
  }
}
