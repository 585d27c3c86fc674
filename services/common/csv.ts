import { parse } from 'csv-parse/sync';
import { unparse } from 'papaparse';
import { InputError } from './errors';

/**
 * The only module that imports csv-parse and papaparse: RFC 4180 CSV (quoted fields, "" escapes, line breaks
 * inside quotes, CRLF or LF, a byte-order mark) read into records with the line each starts on (csv-parse), and
 * written a page of rows at a time with spreadsheet formulas defused (papaparse's writer: an export of a million
 * rows spent most of its time in csv-stringify, which writes at about half papaparse's speed).
 */
export interface CsvRecord {
  /** Line number (1-based) where the record starts, for error reports. */
  line: number;
  fields: string[];
}

interface ParsedWithInfo {
  record: string[];
  /** Bytes of the text read when the record was complete (its line count is unreliable across CRLF). */
  info: { bytes: number };
}

const CR = 0x0d;
const LF = 0x0a;

/** Throws an InputError naming the line when the text is not CSV (an unterminated quote, a stray quote). */
export function* parseCsv(text: string): Generator<CsvRecord> {
  let records: ParsedWithInfo[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n', '\r'],
    }) as unknown as ParsedWithInfo[];
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    throw new InputError(`not CSV${line ? ` at line ${line}` : ''}: ${(err as Error).message}`);
  }
  // where each record starts: after the previous one's end, past its line break and any empty lines
  const bytes = Buffer.from(text, 'utf8');
  let at = 0;
  let line = 1;
  const advanceTo = (end: number): void => {
    for (; at < end && at < bytes.length; at++) {
      if (bytes[at] === LF || (bytes[at] === CR && bytes[at + 1] !== LF)) line++;
    }
  };
  for (const { record, info } of records) {
    let start = at;
    while (start < bytes.length && (bytes[start] === CR || bytes[start] === LF)) start++;
    advanceTo(start);
    yield { line, fields: record };
    advanceTo(info.bytes);
  }
}

/** A leading =, +, - or @ would run as a formula in a spreadsheet: such a value gets a leading apostrophe. */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = String(value);
  // the first character decides before any pattern runs: an export checks some twenty million values
  const first = text.charCodeAt(0);
  if (first !== 0x3d && first !== 0x2b && first !== 0x2d && first !== 0x40 && first !== 0x09 && first !== 0x0d)
    return text;
  return /^[+-]?\d[\d\s]*$/.test(text) ? text : `'${text}`;
}

/** Fields that hold the delimiter, a quote, a line break or an outer space are quoted; quotes doubled. */
const WRITE = { newline: '\n', escapeFormulae: false, header: false } as const;

export const csvRow = (values: readonly unknown[]): string => `${unparse([values.map(csvField)], WRITE)}\n`;

/** Many rows at once: one call for a whole page (exports). */
export const csvRows = (rows: readonly (readonly unknown[])[]): string =>
  rows.length
    ? `${unparse(
        rows.map((values) => values.map(csvField)),
        WRITE,
      )}\n`
    : '';
