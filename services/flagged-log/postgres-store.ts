import { logErrorKindsOnce } from '../common/error-kinds';
import type { Logger } from '../common/logger';
import { Pool, type PoolClient } from 'pg';
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
  recordOf,
  type Row,
  rowsOf,
  statsOf,
  statsQueries,
  whereOf,
} from './rows';

/** pg takes $1, $2 …: number the shared '?' placeholders. */
const numbered = (sql: string, offset = 0): string => {
  let n = offset;
  return sql.replace(/\?/g, () => `$${++n}`);
};

// pg returns BIGINT as text; the log's BIGINT columns hold epoch ms, well within a double.
const ROWS_PER_INSERT = 1000;

/** The only module that imports pg: the flagged-call log in PostgreSQL. */
export class PostgresLogStore implements LogStore {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;

  constructor(
    url: string,
    private readonly called: CalledNumberPolicy,
    logger?: Logger,
    statementTimeoutMs = 10_000,
  ) {
    // a database that hangs silently must not hold a query forever: the server cancels it, the client gives up
    this.pool = new Pool({
      connectionString: url,
      max: 8,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30000,
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + 1000,
    });
    // an idle client losing its server must not take the process down; the next query reconnects
    this.pool.on('error', logger ? logErrorKindsOnce(logger, 'PostgreSQL') : () => undefined);
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // the pool listens for errors of idle clients only: a server that goes away (a restart) while this client
    // is checked out would otherwise emit an unhandled 'error' and end the process; the query fails instead
    const lost = (): void => undefined;
    client.on('error', lost);
    let failure: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      failure = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', lost);
      // after a failure the connection may be broken: the pool makes a new one rather than reuse it
      client.release(failure);
    }
  }

  async migrate(): Promise<void> {
    await this.inTransaction(async (client) => {
      // one migrator at a time across every box sharing the database
      await client.query('SELECT pg_advisory_xact_lock(727001)');
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
      for (const m of MIGRATIONS.filter((m) => m.version > (rows[0].v ?? 0))) {
        for (const sql of m.postgres) await client.query(sql);
        await client.query('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      }
    });
  }

  async upsert(events: readonly FlaggedCallEvent[]): Promise<void> {
    const rows = rowsOf(events, this.called);
    if (rows.length === 0) return;
    await this.inTransaction(async (client) => {
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const chunk: Row[] = rows.slice(i, i + ROWS_PER_INSERT);
        const values = chunk
          .map((_, r) => `(${COLUMNS.map((__, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`)
          .join(', ');
        await client.query(
          `INSERT INTO flagged_calls (${COLUMNS.join(', ')}) VALUES ${values}
           ON CONFLICT (call_id) DO UPDATE SET ${mergeAssignments('flagged_calls', 'LEAST')}`,
          chunk.flatMap((row) => COLUMNS.map((c) => row[c])),
        );
      }
    });
  }

  async list(filter: CallFilter, page: { limit: number; cursor?: string }): Promise<Page> {
    const where = whereOf(filter, decodeCursor(page.cursor));
    const { rows } = await this.pool.query(
      numbered(`SELECT * FROM flagged_calls ${where.sql} ORDER BY received_at DESC, call_id DESC LIMIT ?`),
      [...where.params, page.limit + 1],
    );
    const records = rows.slice(0, page.limit).map(recordOf);
    return { records, ...(rows.length > page.limit ? { nextCursor: encodeCursor(records[records.length - 1]) } : {}) };
  }

  async get(callId: string): Promise<FlaggedCallRecord | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM flagged_calls WHERE call_id = $1', [callId]);
    return rows[0] && recordOf(rows[0]);
  }

  pages(filter: CallFilter, pageSize = 1000): AsyncGenerator<FlaggedCallRecord[]> {
    return pages((f, page) => this.list(f, page), filter, pageSize);
  }

  csv(filter: CallFilter): AsyncGenerator<CsvChunk> {
    return csvOfPages(this.pages(filter));
  }

  async count(filter: CallFilter): Promise<number> {
    const where = whereOf(filter);
    const { rows } = await this.pool.query<{ n: string }>(
      numbered(`SELECT COUNT(*) AS n FROM flagged_calls ${where.sql}`),
      where.params,
    );
    return Number(rows[0].n);
  }

  async stats(filter: CallFilter, bucket: Bucket): Promise<CallStats> {
    const results = await Promise.all(
      statsQueries(filter, bucket).map(async ({ sql, params }) => (await this.pool.query(numbered(sql), params)).rows),
    );
    return statsOf(results);
  }

  async audit(entry: AuditEntry): Promise<void> {
    await this.pool.query(
      'INSERT INTO audit_log (at, actor, action, target, count, detail) VALUES ($1, $2, $3, $4, $5, $6)',
      [entry.at, entry.actor, entry.action, entry.target ?? null, entry.count ?? null, entry.detail ?? null],
    );
  }

  async listAudit(page: { limit: number; before?: number }): Promise<AuditRecord[]> {
    const { rows } = await this.pool.query('SELECT * FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2', [
      page.before ?? Number.MAX_SAFE_INTEGER,
      page.limit,
    ]);
    return (rows as Record<string, unknown>[]).map(auditRecordOf);
  }

  async purgeBefore(epochMs: number): Promise<number> {
    const result = await this.pool.query('DELETE FROM flagged_calls WHERE received_at < $1', [epochMs]);
    return result.rowCount ?? 0;
  }

  async markReported(callIds: readonly string[], reportId: string, at: number): Promise<string[]> {
    // one statement: a row another report took first no longer matches "reported_at IS NULL" (row locks)
    const { rows } = await this.pool.query<{ call_id: string }>(
      'UPDATE flagged_calls SET reported_at = $1, report_id = $2 WHERE call_id = ANY($3) AND reported_at IS NULL RETURNING call_id',
      [at, reportId, [...callIds]],
    );
    return rows.map((r) => r.call_id);
  }

  async unmarkReport(reportId: string): Promise<number> {
    const result = await this.pool.query(
      'UPDATE flagged_calls SET reported_at = NULL, report_id = NULL WHERE report_id = $1',
      [reportId],
    );
    return result.rowCount ?? 0;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
