import { performance } from 'node:perf_hooks';
import type { Logger } from '../common/logger';
import { withinBudget } from '../common/within-budget';
import { defineScript } from '../common/lua';
import { type Redis, redisReady } from '../common/redis';
import { LISTS_LUA } from './lists-lua';
import { decodeMeta, decodeNameEntry, type EntryMeta, isExpired, type NameEntry, UNKNOWN_META } from './list-entry';
import { keyPart, type ListKeys } from './list-keys';
import { NameMatcher } from './name-folding';
import { LookupBatcher } from './lookup-batcher';
import { loadNumberIndex } from './index-loader';
import { NumberIndex } from './number-index';
import { RecentCache } from './recent-cache';

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

interface Snapshot {
  version: number;
  gen: number;
  names: NameMatcher<NameEntry>;
  /** Listed prefixes → meta id. */
  prefixes: ReadonlyMap<string, string>;
  /** Lengths of the listed prefixes, ascending. */
  prefixLengths: readonly number[];
  /** The global allowlist: its numbers are screened with Redis, so that their verdict says why they pass. */
  allowed: ReadonlyMap<string, string>;
  /** Length of the generation's additions log when loaded: an index that holds less is behind. */
  logLength: number;
}

const EMPTY_SNAPSHOT: Snapshot = {
  version: -1,
  gen: -1,
  names: new NameMatcher([]),
  prefixes: new Map(),
  prefixLengths: [],
  allowed: new Map(),
  logLength: 0,
};

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
type SnapshotReply = [string, string[], string, string[], number, string[], string[]];

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
  private snapshot: Snapshot = EMPTY_SNAPSHOT;
  /**
   * Decoded meta records by their JSON (content-addressed, so a record never changes): the recently used ones,
   * bounded (it was emptied whole at 10,000, so every call after that decoded again).
   */
  private readonly decoded = new RecentCache<EntryMeta>(DECODED_CACHE_SIZE);
  private refreshing?: Promise<Snapshot>;
  private listening = false;
  private readonly budgetMs: number;
  private readonly batcher: LookupBatcher<LookupQuery, ListLookup>;
  private readonly clock: () => number;
  private readonly maxAgeMs: number;
  private index?: NumberIndex;
  private building?: Promise<void>;
  /** When the cached lists were last known to be Redis' current ones (performance.now()). */
  private confirmedAt = -Infinity;
  /** The highest version Redis reported (look-up replies, change notices, polls) since the snapshot's load. */
  private highestReported = -1;
  private pollTimer?: NodeJS.Timeout;
  private polling = false;
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
    private readonly subscriber?: Redis,
    options: ListStoreOptions = {},
  ) {
    this.budgetMs = options.budgetMs ?? 50;
    this.batcher = new LookupBatcher((queries) => this.answer(queries), MAX_BATCH, this.budgetMs);
    this.clock = options.clock ?? Date.now;
    this.maxAgeMs = options.localIndexMaxAgeMs ?? 0;
    defineScript(this.redis, 'sgLookup', LISTS_LUA.lookup);
    defineScript(this.redis, 'sgSnapshot', LISTS_LUA.snapshot);
    defineScript(this.redis, 'sgIndexStart', LISTS_LUA['index-start']);
  }

  get cachedVersion(): number {
    return this.snapshot.version;
  }

  /** Redis answers on the call-path connection (readiness). */
  ping(): Promise<string> {
    return this.redis.ping();
  }

  /** Subscribes to change notices so caches refresh before the next call needs them. */
  async start(): Promise<void> {
    if (this.subscriber && !this.listening) {
      this.listening = true;
      this.subscriber.on('message', (channel: string, message: string) => {
        if (channel !== this.keys.changes) return;
        this.logger.debug({ version: Number(message), cached: this.snapshot.version }, 'lists change notice');
        if (this.reported(Number(message))) this.refreshQuietly(Number(message));
      });
      // a SUBSCRIBE sent while the connection is still in its ready check can be lost (seen with ioredis 5):
      // wait for ready first; if Redis is away, the queued SUBSCRIBE goes out when it is back
      const ready = await redisReady(this.subscriber, 2000).then(
        () => true,
        () => false,
      );
      const subscribing = this.subscriber
        .subscribe(this.keys.changes)
        .catch((err: Error) => this.logger.warn({ err: err.message }, 'could not subscribe to list change notices'));
      // Redis away at start: the SUBSCRIBE waits in the queue for Redis, but the call path must not wait with it
      if (ready) await subscribing;
    }
    if (this.maxAgeMs > 0 && !this.pollTimer) {
      // a lost change notice (pub/sub connection dropped) must not keep a stale index answering: without a
      // confirmation from a look-up or a notice, the version is asked for before the cache grows too old
      this.pollTimer = setInterval(() => this.poll(), Math.max(50, this.maxAgeMs / 4));
      this.pollTimer.unref();
    }
    try {
      await this.refresh();
    } catch (err) {
      this.logger.warn({ err }, 'lists not loaded at start; will load on first screening');
    }
  }

  /** Reloads name patterns and meta records; concurrent callers share one load. */
  refresh(): Promise<Snapshot> {
    this.refreshing ??= this.loadSnapshot().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** A load already under way may have started before `version` was written: then load once more. */
  private async refreshTo(version: number): Promise<Snapshot> {
    const snapshot = await this.refresh();
    return snapshot.version >= version ? snapshot : this.refresh();
  }

  private refreshQuietly(version?: number): void {
    (version === undefined ? this.refresh() : this.refreshTo(version)).catch((err: Error) =>
      this.logger.warn({ err: err.message }, 'list cache refresh failed'),
    );
  }

  /**
   * Redis said its lists are at `version` just now. True when the cache is not at that version (the caller
   * reloads); otherwise the cache counts as confirmed current.
   */
  private reported(version: number): boolean {
    if (version > this.highestReported) this.highestReported = version;
    if (version !== this.snapshot.version) return true;
    if (this.highestReported <= version) this.confirmedAt = performance.now();
    return false;
  }

  private poll(): void {
    if (this.polling || performance.now() - this.confirmedAt < this.maxAgeMs / 2) return;
    this.polling = true;
    this.redis
      .hget(this.keys.state, 'version')
      .then((version) => {
        if (this.reported(Number(version ?? 0))) this.refreshQuietly(Number(version ?? 0));
      })
      // Redis away: the index stops answering once the cache is too old, and screening goes degraded as before
      .catch(() => undefined)
      .finally(() => (this.polling = false));
  }

  private async loadSnapshot(): Promise<Snapshot> {
    const call = this.redis as unknown as {
      sgSnapshot(key: string, tag: string, gen: string, offset: string): Promise<SnapshotReply>;
    };
    const asked = performance.now();
    const index = this.index;
    const offset = index?.logOffset ?? 0;
    const [version, namesFlat, gen, prefixes, logLength, added, allowed] = await call.sgSnapshot(
      this.keys.state,
      this.keys.tag,
      String(index?.gen ?? -1),
      String(offset),
    );
    const names = pairs(namesFlat)
      .map(([, json]) => decodeNameEntry(json))
      .filter((e): e is NameEntry => e !== undefined);
    const snapshot: Snapshot = {
      version: Number(version),
      gen: Number(gen),
      names: new NameMatcher(names),
      prefixes: new Map(pairs(prefixes)),
      prefixLengths: [...new Set(pairs(prefixes).map(([p]) => p.length))].sort((a, b) => a - b),
      allowed: new Map(pairs(allowed)),
      logLength: Number(logLength),
    };
    // loads run one at a time, so the last one read the newest lists (a lower version means they were reset)
    if (snapshot.version < this.snapshot.version) this.highestReported = snapshot.version;
    if (snapshot.version !== this.snapshot.version) this.subscribers = new RecentCache(SUBSCRIBER_CACHE_SIZE);
    this.snapshot = snapshot;
    if (this.highestReported <= snapshot.version) this.confirmedAt = asked;
    if (index && this.index === index && index.gen === snapshot.gen && index.logOffset === offset) index.catchUp(added);
    if (this.maxAgeMs > 0) {
      if (this.index?.gen !== snapshot.gen) this.buildIndex();
      else if (this.index.logOffset < snapshot.logLength) queueMicrotask(() => this.refreshQuietly());
    }
    this.logger.debug({ version: snapshot.version, names: names.length }, 'list cache loaded');
    return this.snapshot;
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
      queueMicrotask(() => this.refreshQuietly());
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
      if (!this.building && !this.refreshing) this.refreshQuietly();
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  /** Memory the number index holds (0 when there is none). */
  get indexBytes(): number {
    return this.index?.bytes ?? 0;
  }

  /** The cached lists are Redis' current ones: no newer version reported, confirmed within the max age. */
  private cacheCurrent(): boolean {
    return this.highestReported <= this.snapshot.version && performance.now() - this.confirmedAt <= this.maxAgeMs;
  }

  /** Whether localLookup can answer now (the index is on, built and confirmed current). */
  localIndexCurrent(): boolean {
    return this.maxAgeMs > 0 && this.indexCurrent();
  }

  private indexCurrent(): boolean {
    const index = this.index;
    const snapshot = this.snapshot;
    return (
      index !== undefined && index.gen === snapshot.gen && index.logOffset >= snapshot.logLength && this.cacheCurrent()
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
    this.reported(version);
    const prefixLengths = prefixLengthsText ? prefixLengthsText.split(',').map(Number) : [];
    const snapshot = version === this.snapshot.version ? this.snapshot : await this.refreshTo(version);
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
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    if (this.subscriber && this.listening) {
      this.listening = false;
      // closing the connection ends the subscription too: never wait on a Redis that is gone
      if (this.subscriber.status === 'ready')
        await withinBudget(this.subscriber.unsubscribe(this.keys.changes), 1000).catch(() => undefined);
    }
  }
}
