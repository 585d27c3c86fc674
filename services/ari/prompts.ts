import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../common/errors';
import { fromPackageRoot } from '../common/package-root';

/** The prompt texts (config/prompts/<lang>.yaml): which media exist, in which languages. */
const REQUIRED = [
  'warning-generic',
  'choices',
  'call-rejected',
  'call-reported',
  'caller-hung-up',
  'rejected-caller',
  'blocked',
  'expect-call-generic',
  'expect-call-ended',
  'self-service-refused',
  'advice-generic',
  'report-last-offer',
  'report-last-done',
] as const;
const promptFileSchema = z
  .record(z.string().regex(/^[a-z0-9-]+$/), z.string().min(1))
  .refine((p) => REQUIRED.every((k) => k in p), `must define ${REQUIRED.join(', ')}`);

export const PROMPT_LANGUAGES = ['de', 'en'] as const;

export function loadPromptTexts(lang: string): Record<string, string> {
  const file = fromPackageRoot(`config/prompts/${lang}.yaml`);
  const parsed = promptFileSchema.safeParse(parseYaml(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new InputError(`${file}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export class Prompts {
  private readonly names: Set<string>;
  constructor() {
    this.names = new Set(Object.keys(loadPromptTexts('en')));
  }

  /** *73's advice for a brand (its address spoken): its own prompt where there is one, else the generic one. */
  advice(brand: string): string {
    return media(this.names.has(`advice-${brand}`) ? `advice-${brand}` : 'advice-generic');
  }

  /** The confirmation of *71 for a brand: its own prompt where there is one, else the generic one. */
  expectCall(brand: string): string {
    return media(this.names.has(`expect-call-${brand}`) ? `expect-call-${brand}` : 'expect-call-generic');
  }

  /** The media of the warning for a verdict's brand or reasons (the choices are played after it). */
  warning(brand: string | undefined, reasons: readonly string[]): string[] {
    const police = reasons.some((r) => r === 'emergency-caller-id' || r === 'police-number-with-area-code');
    const name =
      brand && this.names.has(`warning-${brand}`) ? `warning-${brand}` : police ? 'warning-police' : 'warning-generic';
    return [media(name)];
  }
}

export const media = (name: string): string => `sound:spoofguard/${name}`;
