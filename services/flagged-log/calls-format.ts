import { z } from 'zod';
import { csvRow, csvRows } from '../common/csv';
import { E164 } from '../common/e164';
import { OUTCOMES } from '../domain/outcomes';
import { REASON_CODES, STIR_RESULTS } from '../domain/reason-codes';
import type { FlaggedCallRecord } from './log-store';

/** The analysts' filters and the CSV form of a record: one schema and one format for the CLI and the console. */
const time = z.string().transform((s, ctx) => {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a time (ISO 8601 or epoch ms)` });
    return z.NEVER;
  }
  return ms;
});

/** Filters of the flagged-call log (CLI flags, console query strings), validated once at the boundary. */
export const callFilterSchema = z.strictObject({
  since: time.optional(),
  until: time.optional(),
  brand: z.string().max(40).optional(),
  verdict: z.enum(['allow', 'warn', 'block']).optional(),
  outcome: z.enum(OUTCOMES).optional(),
  reason: z.enum(REASON_CODES).optional(),
  /** Our own STIR/SHAKEN result (passed-A … missing). */
  stir: z.enum(STIR_RESULTS).optional(),
  /** Whether a report to the brand's abuse desk holds the call. */
  reported: z
    .enum(['yes', 'no'])
    .transform((v) => v === 'yes')
    .optional(),
  // in a query string an unencoded "+" arrives as a space: take it back
  caller: z
    .string()
    .transform((s) => s.replace(/^ (?=\d)/, '+'))
    .pipe(z.string().regex(E164, 'an E.164 number such as +18882804331'))
    .optional(),
  called: z.string().max(64).optional(),
  sipCallId: z.string().min(1).max(256).optional(),
  channelId: z.string().min(1).max(128).optional(),
});

export const CSV_COLUMNS = [
  'callId',
  'source',
  'receivedAt',
  'callerE164',
  'callerRaw',
  'displayName',
  'called',
  'trunk',
  'verdict',
  'score',
  'reasons',
  'brand',
  'degraded',
  'outcome',
  'ringMs',
  'warningMs',
  'talkMs',
  'endedAt',
  'sipCallId',
  'channelId',
  'stir',
  'stirDetail',
  'stirOrigid',
  'reportedAt',
] as const;

const csvValues = (r: FlaggedCallRecord): unknown[] =>
  CSV_COLUMNS.map((c) => {
    const v = r[c];
    if (c === 'receivedAt' || c === 'endedAt' || c === 'reportedAt')
      return v === undefined ? '' : new Date(v as number).toISOString();
    return Array.isArray(v) ? v.join(' ') : v;
  });

/** A page of records as CSV lines, written at once. */
export const recordsCsv = (records: readonly FlaggedCallRecord[]): string => csvRows(records.map(csvValues));

/** The CSV header row of exports. */
export const csvHeaderRow = (): string => csvRow(CSV_COLUMNS);

/** A piece of a CSV export and how many records it holds (the header row holds none). */
export interface CsvChunk {
  text: string | Uint8Array;
  records: number;
}

/** The CSV export of a store's pages: the header row, then a chunk per page. */
export async function* csvOfPages(pages: AsyncIterable<FlaggedCallRecord[]>): AsyncGenerator<CsvChunk> {
  yield { text: csvHeaderRow(), records: 0 };
  for await (const page of pages) yield { text: recordsCsv(page), records: page.length };
}
