import { performance } from 'node:perf_hooks';
import type { Logger } from '../common/logger';
import { type Redis, redisReady } from '../common/redis';
import { withinBudget } from '../common/within-budget';
import { decodeNameEntry, type NameEntry } from './list-entry';
import type { ListKeys } from './list-keys';
import { NameMatcher } from './name-folding';
import type { NumberIndex } from './number-index';

/**
 * The lists as last loaded from Redis (name patterns, prefixes, the global allowlist, the version) and how
 * current they are: reloaded on a change notice (pub/sub), on a newer version a look-up reports, and, with the
 * local index on, asked for by a poll before the cache grows older than its max age. The snapshot script also
 * hands back the numbers added since the local index was read (the index catches up from them).
 */
export interface Snapshot {
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

export const EMPTY_SNAPSHOT: Snapshot = {
  version: -1,
  gen: -1,
  names: new NameMatcher([]),
  prefixes: new Map(),
  prefixLengths: [],
  allowed: new Map(),
  logLength: 0,
};

type SnapshotReply = [string, string[], string, string[], number, string[], string[]];

const pairs = (flat: string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
};

/** What the list store does with each load: the local index it was read for, and what it catches up from. */
export interface SnapshotListener {
  /** The local index whose additions the load asks for, if any. */
  index(): NumberIndex | undefined;
  loaded(
    snapshot: Snapshot,
    previous: Snapshot,
    readFor: { index: NumberIndex | undefined; offset: number; added: string[] },
  ): void;
}

export class ListSnapshot {
  current: Snapshot = EMPTY_SNAPSHOT;
  private refreshing?: Promise<Snapshot>;
  private listening = false;
  /** When the cached lists were last known to be Redis' current ones (performance.now()). */
  private confirmedAt = -Infinity;
  /** The highest version Redis reported (look-up replies, change notices, polls) since the snapshot's load. */
  private highestReported = -1;
  private pollTimer?: NodeJS.Timeout;
  private polling = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: ListKeys,
    private readonly logger: Logger,
    private readonly subscriber: Redis | undefined,
    private readonly maxAgeMs: number,
    private readonly listener: SnapshotListener,
  ) {}

  /** A load is under way. */
  get loading(): boolean {
    return this.refreshing !== undefined;
  }

  /** Subscribes to change notices so the snapshot is reloaded before the next call needs it; loads it. */
  async start(): Promise<void> {
    if (this.subscriber && !this.listening) {
      this.listening = true;
      this.subscriber.on('message', (channel: string, message: string) => {
        if (channel !== this.keys.changes) return;
        this.logger.debug({ version: Number(message), cached: this.current.version }, 'lists change notice');
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
  async refreshTo(version: number): Promise<Snapshot> {
    const snapshot = await this.refresh();
    return snapshot.version >= version ? snapshot : this.refresh();
  }

  refreshQuietly(version?: number): void {
    (version === undefined ? this.refresh() : this.refreshTo(version)).catch((err: Error) =>
      this.logger.warn({ err: err.message }, 'list cache refresh failed'),
    );
  }

  /**
   * Redis said its lists are at `version` just now. True when the cache is not at that version (the caller
   * reloads); otherwise the cache counts as confirmed current.
   */
  reported(version: number): boolean {
    if (version > this.highestReported) this.highestReported = version;
    if (version !== this.current.version) return true;
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
    const index = this.listener.index();
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
    if (snapshot.version < this.current.version) this.highestReported = snapshot.version;
    const previous = this.current;
    this.current = snapshot;
    if (this.highestReported <= snapshot.version) this.confirmedAt = asked;
    this.listener.loaded(snapshot, previous, { index, offset, added });
    this.logger.debug({ version: snapshot.version, names: names.length }, 'list cache loaded');
    return this.current;
  }

  /** The cached lists are Redis' current ones: no newer version reported, confirmed within the max age. */
  cacheCurrent(): boolean {
    return this.highestReported <= this.current.version && performance.now() - this.confirmedAt <= this.maxAgeMs;
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
