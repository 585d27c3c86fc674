import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../common/errors';
import { REASON_CODES, type ReasonCode } from '../domain/reason-codes';

/** Brand data files (config/brands/*.yaml) and the rules file (config/rules.yaml): one schema each. */

const text = z.strictObject({ en: z.string().min(1), de: z.string().min(1) });
export type LocalizedText = z.infer<typeof text>;
export const LANGUAGES = ['en', 'de'] as const;
export type Language = (typeof LANGUAGES)[number];

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');
export const brandIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and -');

const provenance = {
  source: z.string().min(1),
  checked: isoDate,
  verified: z.boolean(),
  label: z.string().min(1).max(60),
};

export const brandFileSchema = z.strictObject({
  brand: brandIdSchema,
  name: z.string().min(1).max(60),
  reason: text,
  numbers: z.array(
    z.strictObject({ number: z.string().min(3), country: z.string().regex(/^[A-Z]{2}$/), ...provenance }),
  ),
  prefixes: z
    .array(z.strictObject({ prefix: z.string().regex(/^\+\d{1,14}$/, 'E.164 digits with +'), ...provenance }))
    .default([]),
  names: z.array(z.strictObject({ pattern: z.string().min(2).max(60), match: z.enum(['contains', 'word']) })),
  /** Where the brand wants spoofed calls reported (its abuse desk), with where that address comes from. */
  report: z
    .strictObject({
      email: z.string().regex(/^[^\s@<>"]+@[^\s@<>"]+$/, 'an e-mail address'),
      source: z.string().min(1),
      checked: isoDate,
    })
    .optional(),
});
export type BrandFile = z.infer<typeof brandFileSchema>;

const SCORED_CODES = REASON_CODES.filter((c) => !['allowlisted', 'subscriber-allowlisted', 'degraded'].includes(c));

export const rulesFileSchema = z.strictObject({
  scores: z.strictObject(
    Object.fromEntries(SCORED_CODES.map((code) => [code, z.number().min(-100).max(100)])) as Record<
      Exclude<ReasonCode, 'allowlisted' | 'subscriber-allowlisted' | 'degraded'>,
      z.ZodNumber
    >,
  ),
  emergencyCallerIds: z.record(
    z.string().regex(/^[A-Z]{2}$/),
    z.strictObject({
      numbers: z.array(z.string().regex(/^\d{2,8}$/)),
      policeWithAreaCode: z.array(z.string().regex(/^\d{2,4}$/)).default([]),
    }),
  ),
  domesticOnInternational: z.strictObject({
    countries: z.array(z.string().regex(/^[A-Z]{2}$/)),
    exemptTypes: z.array(z.string()).default([]),
  }),
  reasons: z.strictObject(
    Object.fromEntries(REASON_CODES.map((code) => [code, text])) as Record<ReasonCode, typeof text>,
  ),
});
export type RulesFile = z.infer<typeof rulesFileSchema>;

function readYamlFile<T>(file: string, schema: z.ZodType<T>): T {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file}: ${(err as Error).message}`);
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InputError(`${file} is invalid:\n${lines.join('\n')}`);
  }
  return result.data;
}

export function loadBrandFiles(dir: string): BrandFile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
  const brands = files.map((f) => readYamlFile(join(dir, f), brandFileSchema));
  const seen = new Set<string>();
  for (const b of brands) {
    if (seen.has(b.brand)) throw new InputError(`brand "${b.brand}" is defined twice in ${dir}`);
    seen.add(b.brand);
  }
  return brands;
}

export const loadRulesFile = (file: string): RulesFile => readYamlFile(file, rulesFileSchema);

/** What the engine needs to know of a brand to explain a match. */
export interface BrandInfo {
  id: string;
  name: string;
  reason: LocalizedText;
  /** The brand's abuse desk for spoofed calls, when known. */
  report?: { email: string; source: string };
}

export type BrandCatalog = ReadonlyMap<string, BrandInfo>;

export const brandCatalog = (brands: readonly BrandFile[]): BrandCatalog =>
  new Map(
    brands.map((b) => [
      b.brand,
      {
        id: b.brand,
        name: b.name,
        reason: b.reason,
        ...(b.report ? { report: { email: b.report.email, source: b.report.source } } : {}),
      },
    ]),
  );
