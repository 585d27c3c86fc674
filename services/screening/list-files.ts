import { z } from 'zod';
import { csvRow, parseCsv } from '../common/csv';
import { InputError } from '../common/errors';
import { type ListEntry, listEntryInputSchema } from './list-entry';

export interface BadRow {
  line: number;
  error: string;
}

export interface ParsedListFile {
  entries: ListEntry[];
  bad: BadRow[];
}

export const LIST_COLUMNS = [
  'kind',
  'value',
  'brand',
  'reason',
  'label',
  'source',
  'country',
  'match',
  'expiresAt',
] as const;

const describeIssues = (error: z.ZodError): string =>
  error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');

function validate(row: unknown, line: number, out: ParsedListFile): void {
  const result = listEntryInputSchema.safeParse(row);
  if (result.success) out.entries.push({ ...result.data, origin: 'import' });
  else out.bad.push({ line, error: describeIssues(result.error) });
}

/** Reads an import file (CSV with a header row, a JSON array, or JSON lines); bad rows are reported, not fatal. */
export function parseListFile(text: string, format: 'csv' | 'json' | 'jsonl'): ParsedListFile {
  const out: ParsedListFile = { entries: [], bad: [] };
  if (format === 'csv') {
    const records = parseCsv(text.replace(/^\ufeff/, ''));
    const header = records.next();
    if (header.done) return out;
    const columns = header.value.fields.map((f) => f.trim());
    const unknown = columns.filter((c) => !(LIST_COLUMNS as readonly string[]).includes(c));
    if (!columns.includes('kind') || !columns.includes('value'))
      throw new InputError(`CSV header must name at least the columns kind and value (got: ${columns.join(', ')})`);
    if (unknown.length)
      throw new InputError(`CSV header has unknown columns: ${unknown.join(', ')} (known: ${LIST_COLUMNS.join(', ')})`);
    for (const record of records) {
      if (record.fields.length !== columns.length) {
        out.bad.push({ line: record.line, error: `expected ${columns.length} fields, got ${record.fields.length}` });
        continue;
      }
      validate(Object.fromEntries(columns.map((c, i) => [c, record.fields[i]])), record.line, out);
    }
    return out;
  }
  if (format === 'jsonl') {
    text.split('\n').forEach((lineText, i) => {
      if (!lineText.trim()) return;
      try {
        validate(JSON.parse(lineText), i + 1, out);
      } catch (err) {
        out.bad.push({ line: i + 1, error: `not JSON: ${(err as Error).message}` });
      }
    });
    return out;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(`not a JSON file: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new InputError('a JSON import must be an array of entries');
  data.forEach((row, i) => validate(row, i + 1, out));
  return out;
}

export function formatFromName(file: string, given?: string): 'csv' | 'json' | 'jsonl' {
  const format =
    given ?? (file.endsWith('.json') ? 'json' : file.endsWith('.jsonl') || file.endsWith('.ndjson') ? 'jsonl' : 'csv');
  if (format !== 'csv' && format !== 'json' && format !== 'jsonl')
    throw new InputError(`unknown format "${format}" (csv, json or jsonl)`);
  return format;
}

export function entryToRecord(entry: ListEntry): Record<(typeof LIST_COLUMNS)[number], string | undefined> {
  return {
    kind: entry.kind,
    value: entry.kind === 'name' ? entry.value : `+${entry.value}`,
    brand: entry.brand,
    reason: entry.reason,
    label: entry.label,
    source: entry.source,
    country: undefined,
    match: entry.match,
    expiresAt: entry.expiresAt ? new Date(entry.expiresAt).toISOString() : undefined,
  };
}

export const entryToCsv = (entry: ListEntry): string => csvRow(Object.values(entryToRecord(entry)));
export const csvHeader = (): string => csvRow([...LIST_COLUMNS]);
