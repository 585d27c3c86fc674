import { LRUCache } from 'lru-cache';

/** Stands for a kept undefined (lru-cache keeps no undefined): a number that does not parse is worth keeping. */
const NOTHING: unique symbol = Symbol('nothing');

/**
 * Keeps the most recently used values, at most `capacity`, the least recently used evicted first: the only
 * module that imports lru-cache.
 */
export class RecentCache<V> {
  private readonly cache: LRUCache<string, NonNullable<V> | typeof NOTHING>;
  hits = 0;
  misses = 0;

  constructor(capacity: number) {
    this.cache = new LRUCache({ max: capacity });
  }

  get(key: string, compute: () => V): V {
    const kept = this.cache.get(key);
    if (kept !== undefined) {
      this.hits++;
      return (kept === NOTHING ? undefined : kept) as V;
    }
    this.misses++;
    const value = compute();
    this.set(key, value);
    return value;
  }

  /** Keeps `value` for `key` (replacing what was kept). */
  set(key: string, value: V): void {
    this.cache.set(key, value === undefined ? NOTHING : (value as NonNullable<V>));
  }

  /** The value kept for `key`, if any, without counting it or making it recent. */
  peek(key: string): V | undefined {
    const kept = this.cache.peek(key);
    return (kept === NOTHING ? undefined : kept) as V | undefined;
  }

  resetCounters(): void {
    this.hits = this.misses = 0;
  }
}
