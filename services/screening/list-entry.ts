import { z } from 'zod';
import { brandIdSchema } from './brand-data';
import type { NameMatch } from './name-folding';
import { normalizeNumber } from './normalize';

export const LIST_KINDS = ['number', 'prefix', 'name', 'allow'] as const;
export type ListKind = (typeof LIST_KINDS)[number];
export const ORIGINS = ['seed', 'import', 'admin', 'report'] as const;
export type Origin = (typeof ORIGINS)[number];

/** What one list entry carries besides its value; shared by all entries of one import batch. */
export interface EntryMeta {
  brand?: string;
  reason?: string;
  label?: string;
  source: string;
  origin: Origin;
  addedAt: number;
  expiresAt?: number;
  verified?: boolean;
}

export interface ListEntry extends EntryMeta {
  kind: ListKind;
  /** number and allow: E.164 digits without '+'; prefix: digits; name: the pattern as written. */
  value: string;
  match?: NameMatch;
}

/** A name pattern as stored in Redis. */
export interface NameEntry extends EntryMeta {
  pattern: string;
  match: NameMatch;
}

export const isExpired = (meta: { expiresAt?: number }, now = Date.now()): boolean =>
  meta.expiresAt !== undefined && meta.expiresAt > 0 && meta.expiresAt <= now;

const timeInput = z.union([z.number().int().nonnegative(), z.string().min(1)]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'a time as ISO 8601 or epoch milliseconds' });
    return z.NEVER;
  }
  return ms;
});

const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .transform((s) => s.trim() || undefined)
    .optional();

/** One row of an import (CSV or JSON) or an API body: validated and normalised here, once. */
export const listEntryInputSchema = z
  .strictObject({
    kind: z.enum(LIST_KINDS),
    value: z.string().min(1).max(200),
    brand: z
      .union([brandIdSchema, z.literal('')])
      .optional()
      .transform((s) => s || undefined),
    reason: optionalText(300),
    label: optionalText(60),
    source: optionalText(200),
    country: z
      .union([z.string().regex(/^[A-Z]{2}$/, 'a two-letter country code'), z.literal('')])
      .optional()
      .transform((s) => s || undefined),
    match: z
      .union([z.enum(['contains', 'word']), z.literal('')])
      .optional()
      .transform((s) => s || undefined),
    expiresAt: z
      .union([timeInput, z.literal('')])
      .optional()
      .transform((t) => (t === '' ? undefined : t)),
  })
  .transform((row, ctx): ListEntry => {
    const base = {
      kind: row.kind,
      brand: row.brand,
      reason: row.reason,
      label: row.label,
      source: row.source ?? 'manual',
      origin: 'admin' as Origin,
      addedAt: Date.now(),
      expiresAt: row.expiresAt,
    };
    if (row.kind === 'name') {
      return { ...base, value: row.value.trim(), match: row.match ?? 'word' };
    }
    if (row.kind === 'prefix') {
      const digits = row.value.replace(/[\s\-.()]/g, '');
      if (!/^\+\d{1,14}$/.test(digits)) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: 'a prefix as + and 1-14 digits, e.g. +49800' });
        return z.NEVER;
      }
      return { ...base, value: digits.slice(1) };
    }
    const number = normalizeNumber(row.value, { country: row.country ?? 'ZZ', international: false });
    if (!number?.digits || number.digits.length > 15) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: 'a telephone number in E.164 (+CC…) or national format with a country column',
      });
      return z.NEVER;
    }
    return { ...base, value: number.digits };
  });
export type ListEntryInput = z.input<typeof listEntryInputSchema>;

/** What a hit whose meta record is missing or damaged counts as. */
export const UNKNOWN_META: EntryMeta = { source: 'unknown', origin: 'admin', addedAt: 0 };

/** The meta fields of an entry, in a fixed order: absent fields drop out of the JSON, so equal batches share one id. */
export const metaFields = (meta: EntryMeta): EntryMeta => ({
  brand: meta.brand,
  reason: meta.reason,
  label: meta.label,
  source: meta.source,
  origin: meta.origin,
  addedAt: meta.addedAt,
  expiresAt: meta.expiresAt,
  verified: meta.verified,
});

export const encodeMeta = (meta: EntryMeta): string => JSON.stringify(metaFields(meta));

const storedMetaSchema = z.object({
  brand: z.string().optional(),
  reason: z.string().optional(),
  label: z.string().optional(),
  source: z.string().default('unknown'),
  origin: z.enum(ORIGINS).default('admin'),
  addedAt: z.number().default(0),
  expiresAt: z.number().optional(),
  verified: z.boolean().optional(),
});

/** Reads a meta record back from Redis; a damaged one still counts as a hit, with source "unknown". */
export function decodeMeta(json: string | null | undefined): EntryMeta {
  try {
    const parsed = storedMetaSchema.safeParse(JSON.parse(json ?? '{}'));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through
  }
  return { ...UNKNOWN_META };
}

export function decodeNameEntry(json: string): NameEntry | undefined {
  try {
    const raw = JSON.parse(json) as { pattern?: unknown; match?: unknown };
    if (typeof raw.pattern !== 'string' || (raw.match !== 'contains' && raw.match !== 'word')) return undefined;
    return { ...decodeMeta(json), pattern: raw.pattern, match: raw.match };
  } catch {
    return undefined;
  }
}
