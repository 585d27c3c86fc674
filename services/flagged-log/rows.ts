import { createHmac } from 'node:crypto';
import type { FlaggedCallEvent } from '../events/flagged-call';
import { REASON_CODES } from '../domain/reason-codes';
import type { AuditRecord, Bucket, CallFilter, CallStats, FlaggedCallRecord } from './log-store';

/** Columns in insert order; both dialects share them. */
export const COLUMNS = [
  'call_id',
  'source',
  'received_at',
  'caller_raw',
  'caller_e164',
  'caller_kind',
  'display_name',
  'called',
  'trunk',
  'verdict',
  'score',
  'reasons',
  'brand',
  'degraded',
  'outcome',
  'ring_ms',
  'warning_ms',
  'talk_ms',
  'ended_at',
  'updated_at',
  'sip_call_id',
  'channel_id',
  'stir',
  'stir_detail',
  'stir_origid',
  'reported_at',
  'report_id',
] as const;
export type Column = (typeof COLUMNS)[number];
export type Row = Record<Column, string | number | boolean | null>;

/** Called numbers are personal data of the subscriber: stored as a keyed hash unless configured plain. */
export class CalledNumberPolicy {
  constructor(
    private readonly mode: 'pseudonymised' | 'plain',
    private readonly key: string,
  ) {}

  apply(called: string | undefined): string | undefined {
    if (called === undefined || this.mode === 'plain') return called;
    return `h:${createHmac('sha256', this.key).update(called).digest('hex').slice(0, 32)}`;
  }
}

const nullable = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
/**
 * Text a caller controls: PostgreSQL refuses NUL in text, and a refused event would keep the call out of the
 * log (a caller could hide from the analysts with one byte). NUL becomes U+FFFD in both stores.
 */
const text = (v: string | undefined): string | null => (v === undefined ? null : v.replaceAll('\u0000', '\ufffd'));

/** Merges the events of one batch by call id the way the database merges them (later non-empty values win). */
export function rowsOf(events: readonly FlaggedCallEvent[], called: CalledNumberPolicy, now = Date.now()): Row[] {
  const rows = new Map<string, Row>();
  for (const e of events) {
    const row: Row = {
      call_id: e.callId,
      source: e.source,
      received_at: Date.parse(e.receivedAt),
      caller_raw: text(e.caller?.raw),
      caller_e164: nullable(e.caller?.e164),
      caller_kind: nullable(e.caller?.kind),
      display_name: text(e.caller?.displayName),
      called: nullable(called.apply(e.called)),
      trunk: text(e.trunk),
      verdict: nullable(e.verdict),
      score: e.score === undefined ? null : Math.round(e.score),
      reasons: e.reasons ? `,${e.reasons.join(',')},` : null,
      brand: nullable(e.brand),
      degraded: nullable(e.degraded),
      outcome: nullable(e.outcome),
      ring_ms: nullable(e.timings?.ringMs),
      warning_ms: nullable(e.timings?.warningMs),
      talk_ms: nullable(e.timings?.talkMs),
      ended_at: e.endedAt ? Date.parse(e.endedAt) : null,
      updated_at: now,
      sip_call_id: text(e.sipCallId),
      channel_id: text(e.channelId),
      stir: nullable(e.stir?.result),
      stir_detail: text(e.stir?.detail),
      stir_origid: text(e.stir?.origid),
      // set by reports only (markReported); an event never carries them
      reported_at: null,
      report_id: null,
    };
    const earlier = rows.get(e.callId);
    if (!earlier) rows.set(e.callId, row);
    else {
      const receivedAt = Math.min(Number(earlier.received_at), Number(row.received_at));
      const source = row.verdict !== null ? row.source : earlier.source;
      for (const column of COLUMNS)
        if (row[column] !== null) (earlier as Record<string, unknown>)[column] = row[column];
      earlier.received_at = receivedAt;
      earlier.source = source;
    }
  }
  return [...rows.values()];
}

const opt = <T>(v: T | null | undefined): T | undefined => (v === null || v === undefined ? undefined : v);
const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/** Where each column's value sits in a row: its name in a row object, its position in a raw row. */
type Places = Record<Column, string | number>;
const BY_NAME = Object.fromEntries(COLUMNS.map((c) => [c, c])) as Places;

export const recordOf = (row: Record<string, unknown>): FlaggedCallRecord => recordFrom(row, BY_NAME);

/**
 * A row fetched as an array of values (better-sqlite3's raw mode: less than half the time of a row object), its
 * columns named by `columns` in order. The positions are found once, not per row and column (an export reads a
 * million rows).
 */
export function rawRecordReader(columns: readonly string[]): (values: readonly unknown[]) => FlaggedCallRecord {
  const places = Object.fromEntries(COLUMNS.map((c) => [c, columns.indexOf(c)])) as Places;
  return (values) => recordFrom(values as unknown as Record<string | number, unknown>, places);
}

function recordFrom(v: Record<string | number, unknown>, at: Places): FlaggedCallRecord {
  const text = (value: unknown): string | undefined => opt(value as string | null | undefined);
  const reasonsText = v[at.reasons];
  const degraded = v[at.degraded];
  return {
    callId: String(v[at.call_id]),
    source: String(v[at.source]),
    receivedAt: Number(v[at.received_at]),
    callerRaw: text(v[at.caller_raw]),
    callerE164: text(v[at.caller_e164]),
    callerKind: text(v[at.caller_kind]),
    displayName: text(v[at.display_name]),
    called: text(v[at.called]),
    trunk: text(v[at.trunk]),
    verdict: text(v[at.verdict]),
    score: num(v[at.score]),
    reasons: typeof reasonsText === 'string' ? reasonsText.split(',').filter(Boolean) : [],
    brand: text(v[at.brand]),
    degraded: degraded === null || degraded === undefined ? undefined : Boolean(degraded),
    outcome: opt(v[at.outcome] as FlaggedCallRecord['outcome'] | null),
    ringMs: num(v[at.ring_ms]),
    warningMs: num(v[at.warning_ms]),
    talkMs: num(v[at.talk_ms]),
    endedAt: num(v[at.ended_at]),
    updatedAt: Number(v[at.updated_at]),
    sipCallId: text(v[at.sip_call_id]),
    channelId: text(v[at.channel_id]),
    stir: text(v[at.stir]),
    stirDetail: text(v[at.stir_detail]),
    stirOrigid: text(v[at.stir_origid]),
    reportedAt: num(v[at.reported_at]),
    reportId: text(v[at.report_id]),
  };
}

/** WHERE clause with '?' placeholders (the PostgreSQL adapter numbers them). */
export function whereOf(
  filter: CallFilter,
  cursor?: { receivedAt: number; callId: string },
): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]): void => {
    parts.push(sql);
    params.push(...values);
  };
  if (filter.since !== undefined) add('received_at >= ?', filter.since);
  if (filter.until !== undefined) add('received_at < ?', filter.until);
  if (filter.brand) add('brand = ?', filter.brand);
  if (filter.verdict) add('verdict = ?', filter.verdict);
  if (filter.outcome) add('outcome = ?', filter.outcome);
  if (filter.caller) add('caller_e164 = ?', filter.caller);
  if (filter.called) add('called = ?', filter.called);
  if (filter.sipCallId) add('sip_call_id = ?', filter.sipCallId);
  if (filter.channelId) add('channel_id = ?', filter.channelId);
  if (filter.stir) add('stir = ?', filter.stir);
  if (filter.reported !== undefined) parts.push(filter.reported ? 'reported_at IS NOT NULL' : 'reported_at IS NULL');
  if (filter.reason) add('reasons LIKE ?', `%,${filter.reason.replace(/[%_,]/g, '')},%`);
  // the first term bounds the index range: with the OR alone, every page walked from the newest call again
  if (cursor)
    add('received_at <= ? AND (received_at < ? OR call_id < ?)', cursor.receivedAt, cursor.receivedAt, cursor.callId);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export const encodeCursor = (r: FlaggedCallRecord): string =>
  Buffer.from(JSON.stringify([r.receivedAt, r.callId])).toString('base64url');

export function decodeCursor(cursor: string | undefined): { receivedAt: number; callId: string } | undefined {
  if (!cursor) return undefined;
  try {
    const [receivedAt, callId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof receivedAt === 'number' && typeof callId === 'string') return { receivedAt, callId };
  } catch {
    // fall through
  }
  throw new RangeError('invalid cursor');
}

/**
 * The merge rule of an upsert, per column: the earliest receivedAt, the source of the part that screened the
 * call, and later non-empty values for the rest.
 */
export function mergeAssignments(table: string, minFunction: 'MIN' | 'LEAST'): string {
  return COLUMNS.filter((c) => c !== 'call_id')
    .map((c) => {
      if (c === 'received_at') return `received_at = ${minFunction}(${table}.received_at, excluded.received_at)`;
      if (c === 'updated_at') return `${c} = excluded.${c}`;
      // a record's source is the part that screened the call (its flagged event), whoever adds the outcome
      if (c === 'source')
        return `source = CASE WHEN excluded.verdict IS NOT NULL THEN excluded.source ELSE ${table}.source END`;
      return `${c} = COALESCE(excluded.${c}, ${table}.${c})`;
    })
    .join(', ');
}

/** Streams every matching record, newest first, page by page (exports): the same for both stores. */
export async function* pages(
  list: (
    filter: CallFilter,
    page: { limit: number; cursor?: string },
  ) => Promise<{ records: FlaggedCallRecord[]; nextCursor?: string }>,
  filter: CallFilter,
  pageSize: number,
): AsyncGenerator<FlaggedCallRecord[]> {
  let cursor: string | undefined;
  do {
    const page = await list(filter, { limit: pageSize, cursor });
    if (page.records.length) yield page.records;
    cursor = page.nextCursor;
    // a reader that never waits (a fast client, a file) would chain every page in one run of microtasks and
    // hold the event loop for the whole export: each page lets timers and sockets run first
    if (cursor) await new Promise((resolve) => setImmediate(resolve));
  } while (cursor);
}

const BUCKET_MS: Record<Bucket, number> = { hour: 3_600_000, day: 86_400_000 };

/**
 * The statistics as four grouped queries with '?' placeholders, the same for both dialects. The bucket width is
 * a literal (a known constant), so PostgreSQL needs no parameter type for the integer division.
 */
export function statsQueries(filter: CallFilter, bucket: Bucket): { sql: string; params: unknown[] }[] {
  const where = whereOf(filter);
  const width = BUCKET_MS[bucket];
  const reasonColumns = REASON_CODES.map(
    (code) => `SUM(CASE WHEN reasons LIKE '%,${code},%' THEN 1 ELSE 0 END) AS "${code}"`,
  );
  return [
    {
      sql: `SELECT (received_at / ${width}) * ${width} AS bucket, verdict, COUNT(*) AS n FROM flagged_calls ${where.sql} GROUP BY 1, 2 ORDER BY 1`,
      params: where.params,
    },
    { sql: `SELECT brand, COUNT(*) AS n FROM flagged_calls ${where.sql} GROUP BY brand`, params: where.params },
    {
      sql: `SELECT outcome, verdict, COUNT(*) AS n FROM flagged_calls ${where.sql} GROUP BY outcome, verdict`,
      params: where.params,
    },
    { sql: `SELECT ${reasonColumns.join(', ')} FROM flagged_calls ${where.sql}`, params: where.params },
  ];
}

type Rows = Record<string, unknown>[];

/** Folds the four result sets of statsQueries into CallStats; each may hold the rows of several slices. */
export function statsOf(results: Rows[]): CallStats {
  const [time = [], brands = [], outcomes = [], reasons = []] = results;
  const overTime = new Map<number, { bucket: number; warn: number; block: number }>();
  let total = 0;
  for (const row of time) {
    const bucket = Number(row.bucket);
    const entry = overTime.get(bucket) ?? { bucket, warn: 0, block: 0 };
    const n = Number(row.n);
    total += n;
    if (row.verdict === 'warn' || row.verdict === 'block') entry[row.verdict] += n;
    overTime.set(bucket, entry);
  }
  const byOutcome = new Map<string | null, number>();
  const warned = { warned: 0, accepted: 0, rejected: 0, reported: 0, reportedAfter: 0 };
  for (const row of outcomes) {
    const outcome = (row.outcome as string | null) ?? null;
    const n = Number(row.n);
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + n);
    if (row.verdict !== 'warn') continue;
    warned.warned += n;
    if (outcome === 'accepted' || outcome === 'rejected' || outcome === 'reported') warned[outcome] += n;
    if (outcome === 'reported-after') warned.reportedAfter += n;
  }
  // a call reported afterwards (*73) was taken first: it counts as taken for the warning's effect
  const taken = warned.accepted + warned.reportedAfter;
  const decided = taken + warned.rejected + warned.reported;
  // several result sets of one kind (slices of the time range) add up
  const byBrand = new Map<string | null, number>();
  for (const r of brands) {
    const brand = (r.brand as string | null) ?? null;
    byBrand.set(brand, (byBrand.get(brand) ?? 0) + Number(r.n));
  }
  const reasonCalls = (reason: string): number => reasons.reduce((sum, r) => sum + Number(r[reason] ?? 0), 0);
  return {
    total,
    overTime: [...overTime.values()].sort((a, b) => a.bucket - b.bucket),
    byBrand: [...byBrand]
      .map(([brand, calls]) => ({ brand, calls }))
      .sort((a, b) => b.calls - a.calls || (a.brand ?? '\uffff').localeCompare(b.brand ?? '\uffff')),
    byReason: REASON_CODES.map((reason) => ({ reason, calls: reasonCalls(reason) }))
      .filter((r) => r.calls > 0)
      .sort((a, b) => b.calls - a.calls),
    byOutcome: [...byOutcome].map(([outcome, calls]) => ({ outcome, calls })).sort((a, b) => b.calls - a.calls),
    warningEffect: {
      ...warned,
      rejectedShare: decided ? (warned.rejected + warned.reported) / decided : null,
      reportedAfterShare: taken ? warned.reportedAfter / taken : null,
    },
  };
}

/** An audit_log row as the API shows it (PostgreSQL returns BIGINT as text). */
export function auditRecordOf(row: Record<string, unknown>): AuditRecord {
  return {
    id: Number(row.id),
    at: Number(row.at),
    actor: String(row.actor),
    action: String(row.action),
    ...(row.target !== null && row.target !== undefined ? { target: String(row.target) } : {}),
    ...(num(row.count) !== undefined ? { count: num(row.count) } : {}),
    ...(row.detail !== null && row.detail !== undefined ? { detail: String(row.detail) } : {}),
  };
}
