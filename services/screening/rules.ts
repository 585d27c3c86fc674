import type { ReasonCode } from '../domain/reason-codes';
import type { StirResult } from '../stir';
import { type BrandCatalog, LANGUAGES, type RulesFile } from './brand-data';
import type { ListHit, ListLookup } from './list-store';
import type { NameEntry } from './list-entry';
import type { NameMatcher } from './name-folding';
import { type NormalizedCaller, numberTypeOf } from './normalize';
import { RecentCache } from '../common/recent-cache';
import type { Reason, VerdictKind } from './verdict';

export interface TrunkContext {
  id: string;
  country: string;
  international: boolean;
  /** Calls on this trunk are normally signed (STIR/SHAKEN). */
  expectIdentity?: boolean;
  /** The network always sends its first identity header. */
  identityAlwaysSent?: boolean;
}

export interface EvaluationInput {
  caller: NormalizedCaller;
  /** Called number's E.164 digits (or the dialled digits of an extension). */
  calledDigits?: string;
  /** Every display name the call shows (the screened header's, From's): each of them may pose as a brand. */
  displayNames: readonly string[];
  trunk: TrunkContext;
  /** The trunk's own verification result for this caller's number; nothing else counts. */
  verstat?: string;
  /** verstat values the call carried that were not trusted. */
  ignoredVerstat?: readonly string[];
  /** Trusted identity headers that were present but unreadable. */
  unreadable?: readonly string[];
  /** Our own STIR/SHAKEN verification of the call (trunks with `stir: verify`); it replaces verstat. */
  stir?: StirResult;
  /** Whether the call carried an Identity header (RFC 8224); undefined when the source cannot tell. */
  identityHeader?: boolean;
  /** What Redis answered; undefined when it did not answer in time. */
  lookup?: ListLookup;
  names: NameMatcher<NameEntry>;
}

export interface Thresholds {
  warn: number;
  block: number;
}

export interface Evaluation {
  verdict: VerdictKind;
  score: number;
  brand?: string;
  reasons: Reason[];
  warningsOff?: boolean;
}

/**
 * Reasons about the number itself. A verified number (stir-passed) lowers only these: the network vouches for
 * the number it verified, never for the name the caller typed.
 */
const NUMBER_CODES: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'brand-number',
  'brand-prefix',
  'emergency-caller-id',
  'police-number-with-area-code',
  'domestic-on-international',
  'caller-equals-called',
  'invalid-number',
  'unparseable',
  'malformed-caller-id',
  'stir-passed',
  'stir-passed-A',
]);

/** Positive scores combine as independent signals (100 · (1 − Π(1 − s/100))), then adjustments are added. */
function combine(reasons: readonly Reason[], base = 0): number {
  const keep = reasons.filter((r) => r.score > 0).reduce((k, r) => k * (1 - r.score / 100), 1 - base / 100);
  const adjustments = reasons.filter((r) => r.score < 0).reduce((sum, r) => sum + r.score, 0);
  return Math.max(0, Math.min(100, 100 * (1 - keep) + adjustments));
}

const fill = (template: string, vars: Record<string, string | undefined>): string =>
  template
    .replace(/\{(\w+)\}/g, (_, key: string) => vars[key] ?? '')
    .replace(/\s+/g, ' ')
    .trim();

/** Rules beyond the lists, and the combination of all signals into a score and a verdict. */
export class RuleSet {
  constructor(
    private readonly rules: RulesFile,
    private readonly brands: BrandCatalog,
    private readonly thresholds: Thresholds,
  ) {}

  brandName(brand: string | undefined): string | undefined {
    if (!brand) return undefined;
    return this.brands.get(brand)?.name ?? brand.charAt(0).toUpperCase() + brand.slice(1);
  }

  /** Reasons are built from templates; the same few (code, brand, values) come again and again. */
  private readonly texts = new RecentCache<Reason['text']>(10_000);

  reason(code: ReasonCode, vars: Record<string, string | undefined> = {}, brand?: string): Reason {
    const score = (this.rules.scores as Partial<Record<ReasonCode, number>>)[code] ?? 0;
    const key = `${code}|${brand ?? ''}|${Object.values(vars).join('|')}`;
    const text = this.texts.get(key, () => this.reasonText(code, vars, brand));
    return { code, score, text, ...(brand ? { brand } : {}) };
  }

  private reasonText(code: ReasonCode, vars: Record<string, string | undefined>, brand?: string): Reason['text'] {
    const info = brand ? this.brands.get(brand) : undefined;
    const text = {} as Reason['text'];
    for (const lang of LANGUAGES) {
      text[lang] = fill(this.rules.reasons[code][lang], {
        brand: this.brandName(brand),
        brandReason: info?.reason[lang] ?? vars.entryReason,
        ...vars,
      });
    }
    return text;
  }

  /** The reason our own verification gives: passed by attestation, failed with its cause, unverifiable, missing. */
  private stirReasons(stir: StirResult, trunk: TrunkContext): Reason[] {
    switch (stir.status) {
      case 'passed':
        return [this.reason(`stir-passed-${stir.attest}`)];
      case 'failed':
        return [this.reason('stir-failed', { cause: ` (${stir.cause}: ${stir.detail})` })];
      case 'unverifiable':
        return [this.reason('stir-unverifiable', { detail: stir.detail })];
      case 'missing':
        return trunk.expectIdentity ? [this.reason('stir-missing')] : [];
    }
  }

  private listReason(code: 'brand-number' | 'brand-prefix', hit: ListHit): Reason {
    return this.reason(code, { label: hit.label ?? hit.source, entryReason: hit.reason }, hit.brand);
  }

  private numberReasons(input: EvaluationInput): Reason[] {
    const { caller, trunk } = input;
    const reasons: Reason[] = [];
    const country = caller.country ?? trunk.country;
    const emergency = this.rules.emergencyCallerIds[trunk.country];
    const emergencyOfCaller = this.rules.emergencyCallerIds[country];
    const nsn = caller.nationalNumber;
    let emergencyHit = false;
    if (caller.shortCode && emergency?.numbers.includes(caller.shortCode)) {
      reasons.push(this.reason('emergency-caller-id', { number: caller.shortCode }));
      emergencyHit = true;
    } else if (nsn && emergencyOfCaller?.numbers.includes(nsn)) {
      reasons.push(this.reason('emergency-caller-id', { number: nsn }));
      emergencyHit = true;
    } else if (nsn && emergencyOfCaller && nsn.length <= 8) {
      const police = emergencyOfCaller.policeWithAreaCode.find(
        (p) => nsn.endsWith(p) && /^[1-9]\d{1,4}$/.test(nsn.slice(0, -p.length)),
      );
      if (police) {
        reasons.push(this.reason('police-number-with-area-code', { number: police }));
        emergencyHit = true;
      }
    }
    if (!caller.valid && !emergencyHit)
      reasons.push(this.reason('invalid-number', { number: caller.e164 ?? caller.shortCode ?? caller.raw }));
    const rule = this.rules.domesticOnInternational;
    if (
      trunk.international &&
      caller.valid &&
      caller.country === trunk.country &&
      rule.countries.includes(caller.country) &&
      !rule.exemptTypes.includes(numberTypeOf(caller) ?? '')
    ) {
      reasons.push(this.reason('domestic-on-international', { country: caller.country }));
    }
    if (input.calledDigits && caller.digits && input.calledDigits === caller.digits)
      reasons.push(this.reason('caller-equals-called'));
    if (input.lookup?.exact) reasons.push(this.listReason('brand-number', input.lookup.exact));
    else if (input.lookup?.prefix) reasons.push(this.listReason('brand-prefix', input.lookup.prefix));
    return reasons;
  }

  evaluate(input: EvaluationInput): Evaluation {
    const { caller, lookup } = input;
    const reasons: Reason[] = [];
    if (caller.kind === 'unparseable') reasons.push(this.reason('unparseable', { detail: caller.detail }));
    else if (caller.kind === 'anonymous') reasons.push(this.reason('anonymous'));
    else reasons.push(...this.numberReasons(input));
    if (caller.kind !== 'unparseable' && caller.malformed)
      reasons.push(this.reason('malformed-caller-id', { detail: caller.malformed }));
    for (const header of input.unreadable ?? []) {
      const reason = this.reason('identity-unreadable', { header });
      reasons.push(input.trunk.identityAlwaysSent ? reason : { ...reason, score: 0 });
    }

    if (input.stir) reasons.push(...this.stirReasons(input.stir, input.trunk));
    else {
      const verstat = input.verstat?.toLowerCase();
      if (verstat === 'tn-validation-failed')
        reasons.push(this.reason('stir-failed', { cause: " (the route's verification service)" }));
      else if (verstat === 'tn-validation-passed') reasons.push(this.reason('stir-passed'));
      else if (input.trunk.expectIdentity && (verstat === 'no-tn-validation' || input.identityHeader === false))
        reasons.push(this.reason('stir-missing'));
    }
    for (const ignored of input.ignoredVerstat ?? []) reasons.push(this.reason('stir-ignored', { verstat: ignored }));

    for (const name of input.displayNames) {
      const nameHit = input.names.match(name);
      if (!nameHit) continue;
      reasons.push(this.reason('brand-name', { name: name.slice(0, 60), entryReason: nameHit.reason }, nameHit.brand));
      break;
    }

    // Allowlists beat list and rule matches; the matches stay in the reasons, marked suppressed, for analysts.
    const subscriber = lookup?.subscriber;
    const digits = caller.digits;
    let allowlisted = false;
    if (lookup?.allow) {
      reasons.unshift(this.reason('allowlisted', { source: lookup.allow.source }));
      allowlisted = true;
    } else if (digits && subscriber?.allowed.has(digits)) {
      reasons.unshift(this.reason('subscriber-allowlisted', { what: caller.e164 }));
      allowlisted = true;
    } else if (subscriber) {
      const allowedBrands = reasons.filter((r) => r.brand && subscriber.allowed.has(`brand:${r.brand}`));
      for (const r of allowedBrands) r.suppressed = true;
      if (allowedBrands.length)
        reasons.unshift(this.reason('subscriber-allowlisted', { what: this.brandName(allowedBrands[0].brand) }));
    }
    if (allowlisted) for (const r of reasons) if (r.score !== 0 && !r.code.endsWith('allowlisted')) r.suppressed = true;

    const counted = reasons.filter((r) => !r.suppressed);
    const numberScore = combine(counted.filter((r) => NUMBER_CODES.has(r.code)));
    const score = Math.round(
      combine(
        counted.filter((r) => !NUMBER_CODES.has(r.code)),
        numberScore,
      ),
    );
    let verdict: VerdictKind =
      score >= this.thresholds.block ? 'block' : score >= this.thresholds.warn ? 'warn' : 'allow';
    let warningsOff: boolean | undefined;
    if (verdict === 'warn' && subscriber?.warnings === false) {
      verdict = 'allow';
      warningsOff = true;
    }
    const brand = counted.filter((r) => r.brand && r.score > 0).sort((a, b) => b.score - a.score)[0]?.brand;
    return { verdict, score, reasons, ...(brand ? { brand } : {}), ...(warningsOff ? { warningsOff } : {}) };
  }
}
