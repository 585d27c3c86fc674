import { LISTS_LUA } from './lists-lua';
import { randomUUID } from 'node:crypto';
import { InputError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { Redis } from '../common/redis';
import {
  decodeMeta,
  decodeNameEntry,
  encodeMeta,
  type EntryMeta,
  isExpired,
  type ListEntry,
  type ListKind,
  metaFields,
  type Origin,
  UNKNOWN_META,
} from './list-entry';
import { bucketCountFor, bucketOf, digitsFromBucket, type ListKeys } from './list-keys';
import { foldName } from './name-folding';

export interface ListState {
  version: number;
  gen: number;
  buckets: number;
  count: number;
}

export interface ReplaceScope {
  /** Drop the current entries of these kinds. */
  kinds?: readonly ListKind[];
  /** Drop the current entries of this origin (e.g. "seed": brand files own what they seeded). */
  origin?: Origin;
}

export interface ImportOptions {
  replace?: ReplaceScope;
  onProgress?: (done: number, total: number) => void;
}

export interface ImportResult {
  imported: number;
  kept: number;
  version: number;
}

/** A name pattern's field (folded pattern and match kind, so one spelling is stored once) and its JSON. */
function nameRecord(entry: ListEntry): [string, string] {
  const match = entry.match ?? 'word';
  const json = JSON.stringify({ ...metaFields(entry), pattern: entry.value, match });
  return [`${foldName(entry.value).compact}:${match}`, json];
}

const lengthsOf = (prefixes: Iterable<string>): string =>
  [...new Set([...prefixes].map((p) => p.length))].sort((a, b) => a - b).join(',');

// Redis serves one client's pipeline before the next client's commands: small pipelines keep the
// screenings that run during an import within their budget.
const WRITE_BATCH = 50;
const READ_BATCH = 50;

/** Keyed in memory while a new generation is built: value → meta id (names: field → JSON with its meta). */
interface Generation {
  numbers: Map<string, string>;
  prefixes: Map<string, string>;
  allow: Map<string, string>;
  names: Map<string, string>;
  /** meta JSON → id: equal meta records share one id. */
  metaIdByJson: Map<string, string>;
}

/**
 * The writing side of the lists (CLI, console, seeding). Writes are serialised by a lock. A bulk import
 * builds a new generation beside the current one and flips the state pointer in one transaction, then
 * bumps the version and publishes it, so readers see the old lists or the new ones, never half.
 */
export class ListAdmin {
  constructor(
    private readonly redis: Redis,
    private readonly keys: ListKeys,
    private readonly logger: Logger,
    /** The time entries expire by (tests inject one). */
    private readonly clock: () => number = Date.now,
  ) {}

  async state(): Promise<ListState> {
    const [version, gen, buckets, count] = await this.redis.hmget(
      this.keys.state,
      'version',
      'gen',
      'buckets',
      'count',
    );
    return {
      version: Number(version ?? 0),
      gen: Number(gen ?? 0),
      buckets: Number(buckets ?? 0),
      count: Number(count ?? 0),
    };
  }

  private async withLock<T>(work: () => Promise<T>, waitMs = 30000): Promise<T> {
    const token = randomUUID();
    const deadline = Date.now() + waitMs;
    while ((await this.redis.set(this.keys.lock, token, 'PX', 600000, 'NX')) !== 'OK') {
      if (Date.now() > deadline)
        throw new InputError('another list change (import or seed) is still running; try again later');
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      return await work();
    } finally {
      await this.redis.eval(LISTS_LUA['release-lock'].lua, 1, this.keys.lock, token);
    }
  }

  /** The look-up script asks only for prefix lengths that exist: keep their list in the state. */
  private async prefixLengths(gen: number, adding: readonly string[] = []): Promise<string> {
    return lengthsOf([...(await this.redis.hkeys(this.keys.prefixes(gen))), ...adding]);
  }

  private async publish(version: number): Promise<void> {
    await this.redis.publish(this.keys.changes, String(version));
  }

  /** Creates the first generation when the lists are empty. */
  private async ensureGeneration(): Promise<ListState> {
    const state = await this.state();
    if (state.gen > 0) return state;
    const gen = await this.redis.incr(this.keys.genSeq);
    const buckets = bucketCountFor(0);
    await this.redis.hset(this.keys.state, { gen, buckets, count: 0 });
    return { ...state, gen, buckets };
  }

  /**
   * Entries with the same meta (one analyst's additions for one brand and reason) share one record however
   * they were added: an index (meta JSON → id) finds the record already there. Ids stay short (a number
   * points to its record from every listed number) and a record never changes once written. Writers hold
   * the lists' lock, so no two of them race for one JSON.
   */
  private async metaIdFor(gen: number, json: string): Promise<string> {
    const known = await this.redis.hget(this.keys.metaIndex(gen), json);
    if (known) return known;
    const id = String(await this.redis.incr(this.keys.metaSeq));
    await this.redis.multi().hset(this.keys.meta(gen), id, json).hset(this.keys.metaIndex(gen), json, id).exec();
    return id;
  }

  /** Adds or replaces single entries in place (each write is atomic on its own). */
  async add(entries: readonly ListEntry[]): Promise<number> {
    if (entries.length === 0) return (await this.state()).version;
    return this.withLock(async () => {
      const state = await this.ensureGeneration();
      const multi = this.redis.multi();
      const metaIds = new Map<string, string>();
      let added = 0;
      const addedNumbers: string[] = [];
      for (const entry of entries) {
        // name patterns carry their meta inline; the other kinds point to a meta record
        if (entry.kind === 'name') {
          multi.hset(this.keys.names(state.gen), ...nameRecord(entry));
          continue;
        }
        const json = encodeMeta(entry);
        let metaId = metaIds.get(json);
        if (!metaId) metaIds.set(json, (metaId = await this.metaIdFor(state.gen, json)));
        if (entry.kind === 'number') {
          const { bucket, field } = bucketOf(entry.value, state.buckets);
          multi.hset(this.keys.bucket(state.gen, bucket), field, metaId);
          addedNumbers.push(`${entry.value}:${metaId}`);
          added++;
        } else if (entry.kind === 'prefix') multi.hset(this.keys.prefixes(state.gen), entry.value, metaId);
        else multi.hset(this.keys.allow(state.gen), entry.value, metaId);
      }
      // count only sizes the buckets of the next import, so an overwritten number counted twice does no harm
      const newPrefixes = entries.filter((e) => e.kind === 'prefix').map((e) => e.value);
      if (newPrefixes.length) multi.hset(this.keys.state, 'pxlens', await this.prefixLengths(state.gen, newPrefixes));
      // in the same transaction as the numbers: a call-path index that reads the log sees them all or none
      if (addedNumbers.length) multi.rpush(this.keys.numberLog(state.gen), ...addedNumbers);
      multi.hincrby(this.keys.state, 'count', added);
      multi.hincrby(this.keys.state, 'version', 1);
      const results = await multi.exec();
      const version = Number(results?.[results.length - 1]?.[1] ?? 0);
      await this.publish(version);
      return version;
    });
  }

  /** Removes one entry; true when it was there. */
  async remove(kind: ListKind, value: string): Promise<boolean> {
    return this.withLock(async () => {
      const state = await this.state();
      if (state.gen === 0) return false;
      let removed = 0;
      if (kind === 'number') {
        const { bucket, field } = bucketOf(value, state.buckets);
        // with its removal in the number log, which call-path indexes follow
        const [[err, hdel] = [null, 0]] =
          (await this.redis
            .multi()
            .hdel(this.keys.bucket(state.gen, bucket), field)
            .rpush(this.keys.numberLog(state.gen), `${value}:`)
            .exec()) ?? [];
        if (err) throw err;
        removed = Number(hdel);
        if (removed) await this.redis.hincrby(this.keys.state, 'count', -1);
      } else if (kind === 'prefix') {
        removed = await this.redis.hdel(this.keys.prefixes(state.gen), value);
        await this.redis.hset(this.keys.state, 'pxlens', await this.prefixLengths(state.gen));
      } else if (kind === 'allow') removed = await this.redis.hdel(this.keys.allow(state.gen), value);
      else {
        const folded = foldName(value).compact;
        removed = await this.redis.hdel(this.keys.names(state.gen), `${folded}:contains`, `${folded}:word`);
        if (!removed) {
          // entries written before name folding changed are keyed by their old folded form
          const stale = Object.entries(await this.redis.hgetall(this.keys.names(state.gen)))
            .filter(([, json]) => {
              const entry = decodeNameEntry(json);
              return entry !== undefined && foldName(entry.pattern).compact === folded;
            })
            .map(([field]) => field);
          if (stale.length) removed = await this.redis.hdel(this.keys.names(state.gen), ...stale);
        }
      }
      if (removed) await this.publish(await this.redis.hincrby(this.keys.state, 'version', 1));
      return removed > 0;
    });
  }

  /** Every entry of the current generation (optionally of some kinds), expired ones included. */
  async *entries(kinds: readonly ListKind[] = ['number', 'prefix', 'name', 'allow']): AsyncGenerator<ListEntry> {
    const state = await this.state();
    if (state.gen === 0) return;
    const metaFlat = await this.redis.hgetall(this.keys.meta(state.gen));
    const meta = new Map(Object.entries(metaFlat).map(([id, json]) => [id, decodeMeta(json)]));
    const withMeta = (kind: ListKind, value: string, id: string): ListEntry => ({
      ...(meta.get(id) ?? UNKNOWN_META),
      kind,
      value,
    });
    if (kinds.includes('number')) {
      for (let first = 0; first < state.buckets; first += READ_BATCH) {
        const pipeline = this.redis.pipeline();
        const last = Math.min(first + READ_BATCH, state.buckets);
        for (let b = first; b < last; b++) pipeline.hgetall(this.keys.bucket(state.gen, b));
        const replies = (await pipeline.exec()) ?? [];
        for (let i = 0; i < replies.length; i++) {
          const [err, hash] = replies[i];
          if (err) throw err;
          for (const [field, id] of Object.entries(hash as Record<string, string>)) {
            yield withMeta('number', digitsFromBucket(field, first + i, state.buckets), id);
          }
        }
      }
    }
    for (const [kind, key] of [
      ['prefix', this.keys.prefixes(state.gen)],
      ['allow', this.keys.allow(state.gen)],
    ] as const) {
      if (!kinds.includes(kind)) continue;
      for (const [value, id] of Object.entries(await this.redis.hgetall(key))) yield withMeta(kind, value, id);
    }
    if (kinds.includes('name')) {
      for (const json of Object.values(await this.redis.hgetall(this.keys.names(state.gen)))) {
        const entry = decodeNameEntry(json);
        if (entry) yield { ...entry, kind: 'name', value: entry.pattern, match: entry.match };
      }
    }
  }

  /**
   * Bulk import: entries are merged into a copy of the current lists (minus what `replace` drops) in a
   * new generation, which then replaces the current one atomically.
   */
  async import(entries: readonly ListEntry[], options: ImportOptions = {}): Promise<ImportResult> {
    return this.withLock(async () => {
      const state = await this.ensureGeneration();
      const next: Generation = {
        numbers: new Map(),
        prefixes: new Map(),
        allow: new Map(),
        names: new Map(),
        metaIdByJson: new Map(),
      };
      const metaIdFor = async (entry: ListEntry): Promise<string> => {
        if (entry.kind === 'name') return ''; // names carry their meta inline
        const json = encodeMeta(entry);
        let id = next.metaIdByJson.get(json);
        if (!id) {
          id = String(await this.redis.incr(this.keys.metaSeq));
          next.metaIdByJson.set(json, id);
        }
        return id;
      };
      const drop = (entry: EntryMeta & { kind: ListKind }): boolean =>
        (options.replace?.kinds?.includes(entry.kind) ?? false) ||
        (options.replace?.origin !== undefined && entry.origin === options.replace.origin);

      let kept = 0;
      for await (const entry of this.entries()) {
        if (drop(entry) || isExpired(entry, this.clock())) continue;
        kept++;
        this.place(next, entry, await metaIdFor(entry));
      }
      for (const entry of entries) this.place(next, entry, await metaIdFor(entry));

      const gen = await this.redis.incr(this.keys.genSeq);
      const buckets = bucketCountFor(next.numbers.size);
      await this.writeGeneration(gen, buckets, next, options.onProgress);
      const flip = await this.redis
        .multi()
        .hset(this.keys.state, { gen, buckets, count: next.numbers.size, pxlens: lengthsOf(next.prefixes.keys()) })
        .hincrby(this.keys.state, 'version', 1)
        .exec();
      const version = Number(flip?.[1]?.[1] ?? 0);
      await this.publish(version);
      await this.dropGeneration(state.gen, state.buckets);
      this.logger.info({ gen, version, numbers: next.numbers.size, imported: entries.length, kept }, 'lists replaced');
      return { imported: entries.length, kept, version };
    }, 120000);
  }

  private place(next: Generation, entry: ListEntry, metaId: string): void {
    if (entry.kind === 'number') next.numbers.set(entry.value, metaId);
    else if (entry.kind === 'prefix') next.prefixes.set(entry.value, metaId);
    else if (entry.kind === 'allow') next.allow.set(entry.value, metaId);
    else next.names.set(...nameRecord(entry));
  }

  private async writeGeneration(
    gen: number,
    buckets: number,
    next: Generation,
    onProgress?: (done: number, total: number) => void,
  ): Promise<void> {
    const byBucket = new Map<number, string[]>();
    for (const [digits, id] of next.numbers) {
      const { bucket, field } = bucketOf(digits, buckets);
      let fields = byBucket.get(bucket);
      if (!fields) byBucket.set(bucket, (fields = []));
      fields.push(field, id);
    }
    const total = next.numbers.size + next.prefixes.size + next.allow.size + next.names.size;
    let done = 0;
    let pipeline = this.redis.pipeline();
    let queued = 0;
    const flush = async (): Promise<void> => {
      if (queued === 0) return;
      for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
      pipeline = this.redis.pipeline();
      queued = 0;
      onProgress?.(done, total);
    };
    for (const [bucket, fields] of byBucket) {
      pipeline.hset(this.keys.bucket(gen, bucket), ...fields);
      done += fields.length / 2;
      if (++queued >= WRITE_BATCH) await flush();
    }
    const hashes: [string, Map<string, string>][] = [
      [this.keys.prefixes(gen), next.prefixes],
      [this.keys.allow(gen), next.allow],
      [this.keys.names(gen), next.names],
      [this.keys.meta(gen), new Map([...next.metaIdByJson].map(([json, id]) => [id, json]))],
      [this.keys.metaIndex(gen), next.metaIdByJson],
    ];
    for (const [key, map] of hashes) {
      const flat = [...map].flat();
      for (let i = 0; i < flat.length; i += 200) {
        pipeline.hset(key, ...flat.slice(i, i + 200));
        queued++;
      }
      if (key !== this.keys.meta(gen) && key !== this.keys.metaIndex(gen)) done += map.size;
    }
    await flush();
    onProgress?.(total, total);
  }

  private async dropGeneration(gen: number, buckets: number): Promise<void> {
    // The look-up script reads the generation pointer and the keys atomically: no reader is left on the old one.
    const keys = [
      this.keys.prefixes(gen),
      this.keys.allow(gen),
      this.keys.names(gen),
      this.keys.meta(gen),
      this.keys.metaIndex(gen),
      this.keys.numberLog(gen),
    ];
    for (let b = 0; b < buckets; b++) keys.push(this.keys.bucket(gen, b));
    for (let i = 0; i < keys.length; i += 1000) await this.redis.unlink(...keys.slice(i, i + 1000));
  }

  /** Drops expired entries by rebuilding the lists without them. */
  async purgeExpired(): Promise<ImportResult> {
    return this.import([]);
  }

  // Subscriber preferences and allowlists: small hashes of their own, written directly. Call-path processes
  // cache them per list version, so each change bumps the version and is announced like a list change.

  private async changeSubscriber(write: (multi: ReturnType<Redis['multi']>) => void): Promise<unknown[]> {
    const multi = this.redis.multi();
    write(multi);
    multi.hincrby(this.keys.state, 'version', 1);
    const results = ((await multi.exec()) ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    await this.publish(Number(results[results.length - 1]));
    return results;
  }

  async allowForSubscriber(called: string, what: string, expiresAt = 0): Promise<void> {
    await this.changeSubscriber((m) => m.hset(this.keys.subscriber(called), `allow:${what}`, String(expiresAt)));
  }

  async disallowForSubscriber(called: string, what: string): Promise<boolean> {
    const [removed] = await this.changeSubscriber((m) => m.hdel(this.keys.subscriber(called), `allow:${what}`));
    return Number(removed) > 0;
  }

  /** A subscriber's preferences and personal allowlist (number digits or brand:<id> → expiry, 0 = none). */
  async subscriber(called: string): Promise<{
    warnings?: boolean;
    language?: string;
    allow: { what: string; expiresAt: number }[];
  }> {
    const hash = await this.redis.hgetall(this.keys.subscriber(called));
    const allow = Object.entries(hash)
      .filter(([field]) => field.startsWith('allow:'))
      .map(([field, expiry]) => ({ what: field.slice('allow:'.length), expiresAt: Number(expiry) || 0 }));
    return {
      ...(hash['pref:warnings'] ? { warnings: hash['pref:warnings'] !== 'off' } : {}),
      ...(hash['pref:lang'] ? { language: hash['pref:lang'] } : {}),
      allow,
    };
  }

  async setSubscriberPreferences(called: string, prefs: { warnings?: boolean; language?: string }): Promise<void> {
    const fields: Record<string, string> = {};
    if (prefs.warnings !== undefined) fields['pref:warnings'] = prefs.warnings ? 'on' : 'off';
    if (prefs.language !== undefined) fields['pref:lang'] = prefs.language;
    if (Object.keys(fields).length) await this.changeSubscriber((m) => m.hset(this.keys.subscriber(called), fields));
  }
}
