import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
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
import { type CsvChunk, csvOfPages } from './calls-format';
import { MIGRATIONS } from './migrations';
import {
  auditRecordOf,
  COLUMNS,
  type CalledNumberPolicy,
  decodeCursor,
  encodeCursor,
  mergeAssignments,
  pages,
  rawRecordReader,
  recordOf,
  rowsOf,
  statsOf,
  statsQueries,
  whereOf,
} from './rows';
import { csvOffLoop } from './sqlite-export';

/** Calls counted per slice of the statistics: each of its queries is some milliseconds of work. */
/** Calls one query of a sliced read looks at, at most (stats, count, a page of a rare filter). */
const SLICE_ROWS = 10_000;
/** How long one statement of the retention purge may hold the event loop, about. */
const PURGE_SLICE_MS = 8;

/** Lets the event loop run what waits (calls, in `serve`) between two slices of a long read or delete. */
const yieldToCalls = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The only module that imports better-sqlite3: the flagged-call log in one SQLite file (WAL). */
export class SqliteLogStore implements LogStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly upsertRow: Database.Statement | undefined;
  /**
   * Statements by their text, prepared once: the reads run a statement per slice and per page (an export pages
   * through a million rows), and their texts are few (placeholders carry the values).
   */
  private readonly statements = new Map<string, Database.Statement>();

  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** `readOnly`: a reader beside the store that writes (the export's thread): no migration, no writes. */
  constructor(
    private readonly file: string,
    private readonly called: CalledNumberPolicy,
    options: { readOnly?: boolean } = {},
  ) {
    if (options.readOnly) {
      this.db = new Database(file, { readonly: true, fileMustExist: true });
      this.db.pragma('busy_timeout = 5000');
      return;
    }
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // the WAL is copied back into the database by the commit that fills it, on the event loop: at 100 pages
    // (400 KB) a checkpoint is a few ms, where the default 1,000 pages held `serve` for 50–80 ms each time
    this.db.pragma('wal_autocheckpoint = 100');
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
    const upsertRow = this.upsertRow;
    if (!upsertRow) throw new Error('this SQLite log store was opened read-only');
    this.db.transaction(() => {
      for (const row of rows) upsertRow.run(row);
    })();
  }

  /**
   * A page, newest first. A filter that few calls match (a rare reason) walks much of the log: the page is
   * gathered slice by slice of at most SLICE_ROWS calls (by time received, newest first), yielding in between,
   * until it is full.
   */
  async list(filter: CallFilter, page: { limit: number; cursor?: string }): Promise<Page> {
    const cursor = decodeCursor(page.cursor);
    const statement = this.prepared(
      `SELECT * FROM flagged_calls ${whereOf({ ...filter, since: 0, until: 0 }, cursor).sql} ORDER BY received_at DESC, call_id DESC LIMIT ?`,
    ).raw(true);
    const read = rawRecordReader(statement.columns().map((c) => c.name));
    const rows: unknown[][] = [];
    const range = this.receivedRange({
      ...filter,
      ...(cursor ? { until: Math.min(filter.until ?? Infinity, cursor.receivedAt + 1) } : {}),
    });
    for (let end = range?.end ?? 0; range && end > range.first && rows.length <= page.limit;) {
      const since = this.sliceStart(end, range.first);
      const where = whereOf({ ...filter, since, until: end }, cursor);
      rows.push(...(statement.all(...where.params, page.limit + 1 - rows.length) as unknown[][]));
      end = since;
      if (end > range.first && rows.length <= page.limit) await yieldToCalls();
    }
    const records = rows.slice(0, page.limit).map(read);
    return { records, ...(rows.length > page.limit ? { nextCursor: encodeCursor(records[records.length - 1]) } : {}) };
  }

  async get(callId: string): Promise<FlaggedCallRecord | undefined> {
    const row = this.prepared('SELECT * FROM flagged_calls WHERE call_id = ?').get(callId) as
      Record<string, unknown> | undefined;
    return row && recordOf(row);
  }

  pages(filter: CallFilter, pageSize = 1000): AsyncGenerator<FlaggedCallRecord[]> {
    return pages((f, page) => this.list(f, page), filter, pageSize);
  }

  /** In a thread of its own (sqlite-export.ts); a database in memory has no file for a thread to open. */
  csv(filter: CallFilter): AsyncGenerator<CsvChunk> {
    return this.file === ':memory:' ? csvOfPages(this.pages(filter)) : csvOffLoop(this.file, filter);
  }

  /** Counted slice by slice (SLICE_ROWS calls each, by time received), yielding in between. */
  async count(filter: CallFilter): Promise<number> {
    const range = this.receivedRange(filter);
    if (!range) return 0;
    const statement = this.prepared(
      `SELECT COUNT(*) AS n FROM flagged_calls ${whereOf({ ...filter, since: 0, until: 0 }).sql}`,
    );
    let n = 0;
    for (let since = range.first; since < range.end;) {
      const until = this.sliceEnd(since, range.end);
      n += (statement.get(...whereOf({ ...filter, since, until }).params) as { n: number }).n;
      since = until;
      if (since < range.end) await yieldToCalls();
    }
    return n;
  }

  /**
   * better-sqlite3 runs each query to its end on the event loop, and statistics over months of a large log took
   * seconds, stalling calls in `serve`. So they are gathered in slices of at most SLICE_ROWS calls (by
   * time received), a query at a time, yielding in between; statsOf adds the slices up. Every slice has both
   * time bounds: given only a lower one, SQLite walked the whole outcome index instead. Rows stored meanwhile
   * may be counted.
   */
  async stats(filter: CallFilter, bucket: Bucket): Promise<CallStats> {
    const range = this.receivedRange(filter);
    if (!range) return statsOf([]);
    const results: Record<string, unknown>[][] = [];
    // every slice has the same query text, only its bounds differ: prepare each query once
    for (let since = range.first; since < range.end;) {
      const until = this.sliceEnd(since, range.end);
      for (const [i, { sql, params }] of statsQueries({ ...filter, since, until }, bucket).entries()) {
        (results[i] ??= []).push(...(this.prepared(sql).all(...params) as Record<string, unknown>[]));
        await yieldToCalls();
      }
      since = until;
    }
    return statsOf(results);
  }

  /**
   * The first call received within the filter's time range, and the end just after the last (none: undefined).
   * Two index look-ups: MIN and MAX in one query under a WHERE made SQLite walk the whole range.
   */
  private receivedRange(filter: CallFilter): { first: number; end: number } | undefined {
    const where = whereOf({ since: filter.since, until: filter.until });
    const edge = (order: 'ASC' | 'DESC'): number | undefined =>
      (
        this.prepared(
          `SELECT received_at AS t FROM flagged_calls ${where.sql} ORDER BY received_at ${order} LIMIT 1`,
        ).get(...where.params) as { t: number } | undefined
      )?.t;
    const first = edge('ASC');
    const last = edge('DESC');
    return first === undefined || last === undefined ? undefined : { first, end: last + 1 };
  }

  /** Where a slice that starts at `since` ends: after `rows` calls, or at `end`. */
  private sliceEnd(since: number, end: number, rows = SLICE_ROWS): number {
    const t = this.nthReceived('ASC', since, end, rows);
    // calls all received in the same millisecond stay in one slice
    return t === undefined ? end : Math.max(t, since + 1);
  }

  /** Where a slice that ends at `end` starts, going back: SLICE_ROWS calls earlier, or at `first`. */
  private sliceStart(end: number, first: number): number {
    const t = this.nthReceived('DESC', first, end, SLICE_ROWS);
    return t === undefined ? first : Math.min(t, end - 1);
  }

  private nthReceived(order: 'ASC' | 'DESC', from: number, to: number, rows: number): number | undefined {
    const statement = this.prepared(
      `SELECT received_at AS t FROM flagged_calls WHERE received_at >= ? AND received_at < ?
       ORDER BY received_at ${order} LIMIT 1 OFFSET ?`,
    );
    return (statement.get(from, to, rows) as { t: number } | undefined)?.t;
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

  /**
   * Deletes a range of calls (by time received) at a time, oldest first, yielding in between. How many a slice
   * takes follows how long the last one held the event loop: about PURGE_SLICE_MS, whatever the disk and the
   * indexes cost per row.
   */
  async purgeBefore(epochMs: number): Promise<number> {
    const range = this.receivedRange({ until: epochMs });
    if (!range) return 0;
    const slice = this.prepared('DELETE FROM flagged_calls WHERE received_at >= ? AND received_at < ?');
    let purged = 0;
    let rows = 500;
    for (let since = range.first; since < range.end;) {
      const started = performance.now();
      const until = this.sliceEnd(since, range.end, rows);
      purged += slice.run(since, until).changes;
      const took = performance.now() - started;
      rows = Math.max(50, Math.min(20_000, Math.round((rows * PURGE_SLICE_MS) / Math.max(took, 0.1))));
      since = until;
      if (since < range.end) await yieldToCalls();
    }
    return purged;
  }

  async markReported(callIds: readonly string[], reportId: string, at: number): Promise<string[]> {
    const mark = this.prepared(
      'UPDATE flagged_calls SET reported_at = ?, report_id = ? WHERE call_id = ? AND reported_at IS NULL',
    );
    const marked: string[] = [];
    // one transaction: SQLite serialises writers, so a call another report took first is not taken again
    this.db.transaction(() => {
      for (const id of callIds) if (mark.run(at, reportId, id).changes === 1) marked.push(id);
    })();
    return marked;
  }

  async unmarkReport(reportId: string): Promise<number> {
    return this.prepared('UPDATE flagged_calls SET reported_at = NULL, report_id = NULL WHERE report_id = ?').run(
      reportId,
    ).changes;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
