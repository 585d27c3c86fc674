import { performance } from 'node:perf_hooks';
import type { Logger } from '../common/logger';
import { defineScript } from '../common/lua';
import type { Redis } from '../common/redis';
import { LISTS_LUA } from './lists-lua';
import { decodeMeta, type EntryMeta, isExpired, type NameEntry, UNKNOWN_META } from './list-entry';
import { keyPart, type ListKeys } from './list-keys';
import { NameMatcher } from './name-folding';
import { LookupBatcher } from './lookup-batcher';
import { loadNumberIndex } from './index-loader';
import { ListSnapshot, type Snapshot } from './list-snapshot';
import type { NumberIndex } from './number-index';
import { RecentCache } from '../common/recent-cache';

export interface SubscriberRecord {
  /** Allowed numbers (digits) and brands ("brand:amazon") with their expiry (0 = none), expired ones left out. */
  allowed: Map<string, number>;
  warnings?: boolean;
  language?: string;
}

export interface ListHit extends EntryMeta {
  /** The listed value that matched: digits of the number or of the prefix. */
  value: string;
}

export interface ListLookup {
  version: number;
  exact?: ListHit;
  prefix?: ListHit;
  allow?: ListHit;
  subscriber?: SubscriberRecord;
  names: NameMatcher<NameEntry>;
}

/** exact id, prefix ids, allow id, the subscriber's record, [meta id, meta JSON]… of the hits. */
type OneReply = [string | null, (string | null)[], string | null, string[], string[]];
type LookupReply = [string, string, ...OneReply[]];

/** A look-up as the batcher holds it: the caller's digits and the subscriber's key part ('' when none). */
interface LookupQuery {
  digits: string;
  subscriber: string;
}

/** Subscriber records kept per version (flat field/value list as the script returns it; empty: none). */
const SUBSCRIBER_CACHE_SIZE = 20_000;
/** Meta records kept (by id: a record never changes once written, so they stay valid across versions). */
const META_CACHE_SIZE = 10_000;
/** Decoded meta records kept (each is a few small strings). */
const DECODED_CACHE_SIZE = 10_000;

/** Enough to amortise the client's cost; small enough that Redis works on one batch while node handles the last (16 measured best). */
const MAX_BATCH = 16;
const pairs = (flat: string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
};

export function parseSubscriber(flat: string[], now = Date.now()): SubscriberRecord | undefined {
  if (flat.length === 0) return undefined;
  const record: SubscriberRecord = { allowed: new Map() };
  for (const [field, value] of pairs(flat)) {
    if (field.startsWith('allow:')) {
      const expiresAt = Number(value) || 0;
      if (expiresAt === 0 || expiresAt > now) record.allowed.set(field.slice(6), expiresAt);
    } else if (field === 'pref:warnings') {
      record.warnings = value !== 'off';
    } else if (field === 'pref:lang') {
      record.language = value;
    }
  }
  return record;
}

export interface ListStoreOptions {
  /** A look-up not answered within this long fails with BudgetExceededError (the call fails open). */
  budgetMs?: number;
  /**
   * Calls from numbers on no list are screened in process (no round trip) while the cached lists were
   * confirmed current within this long; 0 sends every screening to Redis.
   */
  localIndexMaxAgeMs?: number;
  /** The time entries and allowances expire by (tests inject one). */
  clock?: () => number;
}

export class ListStore {
  private readonly lists: ListSnapshot;
  /**
   * Decoded meta records by their JSON (content-addressed, so a record never changes): the recently used ones,
   * bounded (it was emptied whole at 10,000, so every call after that decoded again).
   */
  private readonly decoded = new RecentCache<EntryMeta>(DECODED_CACHE_SIZE);
  private readonly budgetMs: number;
  private readonly batcher: LookupBatcher<LookupQuery, ListLookup>;
  private readonly clock: () => number;
  private readonly maxAgeMs: number;
  private index?: NumberIndex;
  private building?: Promise<void>;
  /**
   * The subscriber records Redis returned for the current version: with the index and the meta records, a call
   * to a subscriber met before costs no round trip. Replaced whole when the version changes (every list and
   * subscriber-record change bumps it).
   */
  private subscribers = new RecentCache<string[]>(SUBSCRIBER_CACHE_SIZE);
  private readonly metas = new RecentCache<string>(META_CACHE_SIZE);
  /** Look-ups answered in process, without a round trip (benchmarks, tests). */
  cachedAnswers = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: ListKeys,
    private readonly logger: Logger,
    subscriber?: Redis,
    options: ListStoreOptions = {},
  ) {
    this.budgetMs = options.budgetMs ?? 50;
    this.batcher = new LookupBatcher((queries) => this.answer(queries), MAX_BATCH, this.budgetMs);
    this.clock = options.clock ?? Date.now;
    this.maxAgeMs = options.localIndexMaxAgeMs ?? 0;
    this.lists = new ListSnapshot(redis, keys, logger, subscriber, this.maxAgeMs, {
      index: () => this.index,
      loaded: (snapshot, previous, readFor) => this.loaded(snapshot, previous, readFor),
    });
    defineScript(this.redis, 'sgLookup', LISTS_LUA.lookup);
    defineScript(this.redis, 'sgSnapshot', LISTS_LUA.snapshot);
    defineScript(this.redis, 'sgIndexStart', LISTS_LUA['index-start']);
  }

  private get snapshot(): Snapshot {
    return this.lists.current;
  }

  /** Subscribes to change notices so caches refresh before the next call needs them; loads the lists. */
  start(): Promise<void> {
    return this.lists.start();
  }

  /** Reloads name patterns and meta records; concurrent callers share one load. */
  refresh(): Promise<Snapshot> {
    return this.lists.refresh();
  }

  /**
   * After each load: the subscriber records go with a new version; the local index catches up from the numbers
   * added since it was read, or is read again for a new generation.
   */
  private loaded(
    snapshot: Snapshot,
    previous: Snapshot,
    { index, offset, added }: { index: NumberIndex | undefined; offset: number; added: string[] },
  ): void {
    if (snapshot.version !== previous.version) this.subscribers = new RecentCache(SUBSCRIBER_CACHE_SIZE);
    if (index && this.index === index && index.gen === snapshot.gen && index.logOffset === offset) index.catchUp(added);
    if (this.maxAgeMs > 0) {
      if (this.index?.gen !== snapshot.gen) this.buildIndex();
      else if (this.index.logOffset < snapshot.logLength) queueMicrotask(() => this.lists.refreshQuietly());
    }
  }

  get cachedVersion(): number {
    return this.snapshot.version;
  }

  /** Redis answers on the call-path connection (readiness). */
  ping(): Promise<string> {
    return this.redis.ping();
  }

  /**
   * Reads the current generation's numbers and their meta ids into a new index, in small pipelines on the call-path connection
   * (the calls' look-ups go on between them; until it is built they all go to Redis).
   */
  private buildIndex(): void {
    this.building ??= this.readIndex()
      .catch((err: Error) =>
        this.logger.warn({ err: err.message }, 'local number index not built; screening asks Redis'),
      )
      .finally(() => (this.building = undefined));
  }

  private async readIndex(): Promise<void> {
    const started = performance.now();
    const loaded = await loadNumberIndex(this.redis, this.keys);
    // an import replaced the generation while it was read (its buckets dropped half-way): read again
    if (!loaded) {
      queueMicrotask(() => this.lists.refreshQuietly());
      return;
    }
    this.index = loaded.index;
    const { gen } = loaded.index;
    const count = loaded.numbers;
    this.logger.info(
      { gen, numbers: count, ms: Math.round(performance.now() - started) },
      'local number index built: calls from numbers on no list are screened without a Redis round trip',
    );
    // numbers added while it was read are in the additions log: catch up before it answers
    await this.refresh();
  }

  /** Resolves when the number index serves the current generation (benchmarks, tests); false when it is off. */
  async whenIndexed(timeoutMs = 60000): Promise<boolean> {
    if (this.maxAgeMs <= 0) return false;
    const deadline = Date.now() + timeoutMs;
    while (!this.indexCurrent()) {
      if (Date.now() > deadline) throw new Error(`local number index not ready within ${timeoutMs} ms`);
      if (!this.building && !this.lists.loading) this.lists.refreshQuietly();
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  /** Memory the number index holds (0 when there is none). */
  get indexBytes(): number {
    return this.index?.bytes ?? 0;
  }

  /** Whether localLookup can answer now (the index is on, built and confirmed current). */
  localIndexCurrent(): boolean {
    return this.maxAgeMs > 0 && this.indexCurrent();
  }

  private indexCurrent(): boolean {
    const index = this.index;
    const snapshot = this.snapshot;
    return (
      index !== undefined &&
      index.gen === snapshot.gen &&
      index.logOffset >= snapshot.logLength &&
      this.lists.cacheCurrent()
    );
  }

  /**
   * The look-up for callers whose numbers are on no list (exact, prefix or allow), answered in process; undefined
   * when any of them may be listed or the cache cannot vouch for the lists now (then ask Redis). It has no
   * subscriber record: the engine uses it only for calls it allows, which a subscriber's record cannot change.
   */
  localLookup(digitsList: readonly (string | undefined)[]): ListLookup | undefined {
    if (!this.localIndexCurrent()) return undefined;
    const index = this.index as NumberIndex;
    const { prefixes, prefixLengths, allowed, version, names } = this.snapshot;
    for (const digits of digitsList) {
      if (!digits || !/^\d{1,15}$/.test(digits)) continue; // Redis would look up no number either
      if (index.has(digits) || allowed.has(digits)) return undefined;
      for (const len of prefixLengths) {
        if (len >= digits.length) break;
        if (prefixes.has(digits.slice(0, len))) return undefined;
      }
    }
    return { version, names };
  }

  /**
   * One round trip in the common case, none when this version's answers for the caller and the subscriber are
   * at hand, a second only right after the lists changed.
   */
  lookup(digits: string | undefined, subscriberKey: string | undefined): Promise<ListLookup> {
    const number = digits && /^\d{1,15}$/.test(digits) ? digits : '';
    const subscriber = subscriberKey ? keyPart(subscriberKey) : '';
    const cached = this.cachedLookup(number, subscriber);
    if (cached) {
      this.cachedAnswers++;
      return Promise.resolve(cached);
    }
    return this.batcher.ask({ digits: number, subscriber });
  }

  /** One round trip for a batch of look-ups (LookupBatcher): the script answers each, with the lists' version. */
  private async answer(queries: LookupQuery[]): Promise<ListLookup[]> {
    const call = this.redis as unknown as {
      sgLookup(key: string, tag: string, ...args: string[]): Promise<LookupReply>;
    };
    const args: string[] = [];
    for (const q of queries) args.push(q.digits, q.subscriber);
    const [versionText, prefixLengthsText, ...replies] = await call.sgLookup(this.keys.state, this.keys.tag, ...args);
    const version = Number(versionText);
    this.lists.reported(version);
    const prefixLengths = prefixLengthsText ? prefixLengthsText.split(',').map(Number) : [];
    const snapshot = version === this.snapshot.version ? this.snapshot : await this.lists.refreshTo(version);
    const now = this.clock();
    const keep = this.maxAgeMs > 0 && version === this.snapshot.version;
    return queries.map((q, i) => {
      const reply = replies[i];
      if (keep) {
        if (q.subscriber) this.subscribers.set(q.subscriber, reply[3]);
        const metaFlat = reply[4];
        for (let j = 0; j + 1 < metaFlat.length; j += 2)
          if (metaFlat[j + 1]) this.metas.set(metaFlat[j], metaFlat[j + 1]);
      }
      return this.toLookup(version, reply, q.digits, prefixLengths, snapshot, now);
    });
  }

  /**
   * The look-up put together in process: hits from the number index, the prefixes and the allowlist, their
   * meta records and the subscriber's record as Redis gave them for this version. Undefined (ask Redis) when
   * the cache cannot vouch for the lists now or a record is not at hand.
   */
  private cachedLookup(digits: string, subscriber: string): ListLookup | undefined {
    if (this.maxAgeMs <= 0 || !this.indexCurrent()) return undefined;
    const subFlat = subscriber ? this.subscribers.peek(subscriber) : [];
    if (!subFlat) return undefined;
    const snapshot = this.snapshot;
    let exactId: string | null = null;
    let allowId: string | null = null;
    const prefixIds: (string | null)[] = [];
    const metaFlat: string[] = [];
    if (digits) {
      const exact = (this.index as NumberIndex).get(digits);
      exactId = exact === undefined ? null : String(exact);
      allowId = snapshot.allowed.get(digits) ?? null;
      // as the script answers: one entry per listed prefix length shorter than the number, ascending
      for (const len of snapshot.prefixLengths) {
        if (len >= digits.length) break;
        prefixIds.push(snapshot.prefixes.get(digits.slice(0, len)) ?? null);
      }
      for (const id of [exactId, allowId, ...prefixIds]) {
        if (id === null) continue;
        const json = this.metas.peek(id);
        if (json === undefined) return undefined;
        metaFlat.push(id, json);
      }
    }
    return this.toLookup(
      snapshot.version,
      [exactId, prefixIds, allowId, subFlat, metaFlat],
      digits,
      [...snapshot.prefixLengths],
      snapshot,
      this.clock(),
    );
  }

  private toLookup(
    version: number,
    reply: OneReply,
    digits: string,
    prefixLengths: number[],
    snapshot: Snapshot,
    now: number,
  ): ListLookup {
    const [exactId, prefixIds, allowId, subFlat, metaFlat] = reply;
    const metaOf = (id: string): EntryMeta => {
      for (let i = 0; i + 1 < metaFlat.length; i += 2) if (metaFlat[i] === id) return this.decode(metaFlat[i + 1]);
      return UNKNOWN_META;
    };
    const hit = (id: string | null, value: string): ListHit | undefined => {
      if (id === null || id === undefined) return undefined;
      const meta = metaOf(id);
      return isExpired(meta, now) ? undefined : { ...meta, value };
    };
    let prefix: ListHit | undefined;
    // prefixIds[i] answers the i-th listed prefix length (ascending) shorter than the number: the longest wins
    for (let i = prefixIds.length - 1; i >= 0 && !prefix; i--)
      prefix = hit(prefixIds[i], digits.slice(0, prefixLengths[i]));
    return {
      version,
      exact: hit(exactId, digits),
      prefix,
      allow: hit(allowId, digits),
      subscriber: parseSubscriber(subFlat, now),
      names: snapshot.names,
    };
  }

  private decode(json: string | undefined): EntryMeta {
    if (!json) return UNKNOWN_META;
    return this.decoded.get(json, () => decodeMeta(json));
  }

  /** Name patterns as last loaded, for screening without Redis (degraded). */
  get cachedNames(): NameMatcher<NameEntry> {
    return this.snapshot.names;
  }

  async stop(): Promise<void> {
    await this.lists.stop();
  }
}
