import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FlaggedCallEvent } from '../events/flagged-call';
import type {
  AuditEntry,
  AuditRecord,
  Bucket,
  CallFilter,
  CallStats,
  FlaggedCallRecord,
  LogStore,
  Page,
} from './log-store';
import { MIGRATIONS } from './migrations';
import {
  auditRecordOf,
  COLUMNS,
  type CalledNumberPolicy,
  decodeCursor,
  encodeCursor,
  mergeAssignments,
  pages,
  recordOf,
  rowsOf,
  statsOf,
  statsQueries,
  whereOf,
} from './rows';

/** Calls counted per slice of the statistics: each of its queries is some milliseconds of work. */
const STATS_SLICE_ROWS = 10_000;

/** The only module that imports better-sqlite3: the flagged-call log in one SQLite file (WAL). */
export class SqliteLogStore implements LogStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly upsertRow: Database.Statement;

  constructor(
    file: string,
    private readonly called: CalledNumberPolicy,
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrateNow();
    this.upsertRow = this.db.prepare(
      `INSERT INTO flagged_calls (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})
       ON CONFLICT (call_id) DO UPDATE SET ${mergeAssignments('flagged_calls', 'MIN')}`,
    );
  }

  private migrateNow(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    for (const m of MIGRATIONS.filter((m) => m.version > (row.v ?? 0))) {
      this.db.transaction(() => {
        for (const sql of m.sqlite) this.db.exec(sql);
        this.db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      })();
    }
  }

  async migrate(): Promise<void> {
    this.migrateNow();
  }

  async upsert(events: readonly FlaggedCallEvent[]): Promise<void> {
    const rows = rowsOf(events, this.called).map((r) => ({
      ...r,
      degraded: r.degraded === null ? null : r.degraded ? 1 : 0,
    }));
    this.db.transaction(() => {
      for (const row of rows) this.upsertRow.run(row);
    })();
  }

  async list(filter: CallFilter, page: { limit: number; cursor?: string }): Promise<Page> {
    const where = whereOf(filter, decodeCursor(page.cursor));
    const rows = this.db
      .prepare(`SELECT * FROM flagged_calls ${where.sql} ORDER BY received_at DESC, call_id DESC LIMIT ?`)
      .all(...where.params, page.limit + 1) as Record<string, unknown>[];
    const records = rows.slice(0, page.limit).map(recordOf);
    return { records, ...(rows.length > page.limit ? { nextCursor: encodeCursor(records[records.length - 1]) } : {}) };
  }

  async get(callId: string): Promise<FlaggedCallRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM flagged_calls WHERE call_id = ?').get(callId) as
      Record<string, unknown> | undefined;
    return row && recordOf(row);
  }

  iterate(filter: CallFilter, batchSize = 1000): AsyncGenerator<FlaggedCallRecord> {
    return pages((f, page) => this.list(f, page), filter, batchSize);
  }

  async count(filter: CallFilter): Promise<number> {
    const where = whereOf(filter);
    return (
      this.db.prepare(`SELECT COUNT(*) AS n FROM flagged_calls ${where.sql}`).get(...where.params) as { n: number }
    ).n;
  }

  /**
   * better-sqlite3 runs each query to its end on the event loop, and statistics over months of a large log took
   * seconds, stalling calls in `serve`. So they are gathered in slices of at most STATS_SLICE_ROWS calls (by
   * time received), a query at a time, yielding in between; statsOf adds the slices up. Every slice has both
   * time bounds: given only a lower one, SQLite walked the whole outcome index instead. Rows stored meanwhile
   * may be counted.
   */
  async stats(filter: CallFilter, bucket: Bucket): Promise<CallStats> {
    const range = this.receivedRange(filter);
    if (!range) return statsOf([]);
    const results: Record<string, unknown>[][] = [];
    // every slice has the same query text, only its bounds differ: prepare each query once
    const statements = new Map<string, Database.Statement>();
    for (let since = range.first; since < range.end;) {
      const until = this.sliceEnd(since, range.end);
      for (const [i, { sql, params }] of statsQueries({ ...filter, since, until }, bucket).entries()) {
        let statement = statements.get(sql);
        if (!statement) statements.set(sql, (statement = this.db.prepare(sql)));
        (results[i] ??= []).push(...(statement.all(...params) as Record<string, unknown>[]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      since = until;
    }
    return statsOf(results);
  }

  /** The first call received within the filter's time range, and the end just after the last (none: undefined). */
  private receivedRange(filter: CallFilter): { first: number; end: number } | undefined {
    const where = whereOf({ since: filter.since, until: filter.until });
    const row = this.db
      .prepare(`SELECT MIN(received_at) AS first, MAX(received_at) AS last FROM flagged_calls ${where.sql}`)
      .get(...where.params) as { first: number | null; last: number | null };
    return row.first === null || row.last === null ? undefined : { first: row.first, end: row.last + 1 };
  }

  /** Where a slice that starts at `since` ends: after STATS_SLICE_ROWS calls, or at `end`. */
  private sliceEnd(since: number, end: number): number {
    const row = this.db
      .prepare(
        `SELECT received_at AS t FROM flagged_calls WHERE received_at >= ? AND received_at < ?
         ORDER BY received_at LIMIT 1 OFFSET ${STATS_SLICE_ROWS}`,
      )
      .get(since, end) as { t: number } | undefined;
    // calls all received in the same millisecond stay in one slice
    return row ? Math.max(row.t, since + 1) : end;
  }

  async audit(entry: AuditEntry): Promise<void> {
    this.db
      .prepare('INSERT INTO audit_log (at, actor, action, target, count, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(entry.at, entry.actor, entry.action, entry.target ?? null, entry.count ?? null, entry.detail ?? null);
  }

  async listAudit(page: { limit: number; before?: number }): Promise<AuditRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?')
      .all(page.before ?? Number.MAX_SAFE_INTEGER, page.limit) as Record<string, unknown>[];
    return rows.map(auditRecordOf);
  }

  async purgeBefore(epochMs: number): Promise<number> {
    return this.db.prepare('DELETE FROM flagged_calls WHERE received_at < ?').run(epochMs).changes;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
