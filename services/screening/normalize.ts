import {
  type CountryCode,
  getCountryCallingCode,
  type NumberType,
  parsePhoneNumberFromString,
  type PhoneNumber,
} from 'libphonenumber-js/max';
import { Metadata, type MetadataJson } from 'libphonenumber-js/core';
import maxMetadata from 'libphonenumber-js/metadata.max.json';
import { type IdentityValue, parseIdentityValue, salvageIdentityValues, splitValues } from './identity-header';
import { RecentCache } from '../common/recent-cache';

export type CallerKind = 'number' | 'anonymous' | 'unparseable';

export interface NormalizedCaller {
  kind: CallerKind;
  /** The value as it arrived (cut to 256 characters for logs). */
  raw: string;
  displayName?: string;
  /** E.164 with '+', when the digits parsed as a telephone number (valid or not). */
  e164?: string;
  /** E.164 digits without '+': the key of list look-ups. */
  digits?: string;
  country?: string;
  nationalNumber?: string;
  numberType?: NumberType;
  valid: boolean;
  /** Digits as dialled when they are too short to be a subscriber number (110, 112, 911 …). */
  shortCode?: string;
  /** How the number was read: with '+', with an IDD prefix or national prefix, or by adding a missing '+'. */
  readAs?: 'international' | 'national' | 'missing-plus' | 'phone-context';
  /** Why an unparseable caller ID could not be read. */
  detail?: string;
  /** The value was not well-formed (what was wrong); its number, if one was found, is screened all the same. */
  malformed?: string;
  /** Identity-header parameters that are signals (verstat, privacy). */
  params?: Record<string, string>;
}

export interface NumberingContext {
  /** The trunk's default country, for national formats. */
  country: string;
  /** Whether the trunk brings calls from abroad. */
  international: boolean;
}

/** What a verdict keeps of a display name (a phone shows far less); padding beyond it is not read. */
export const MAX_DISPLAY_NAME = 256;
/** Values of one header read at the most (P-Asserted-Identity may carry a sip and a tel URI). */
export const MAX_IDENTITY_VALUES = 4;
const ANONYMOUS_USERS = new Set([
  'anonymous',
  'restricted',
  'unknown',
  'unavailable',
  'private',
  'withheld',
  'anonymous.invalid',
]);
// C0/C1 controls, DEL, the replacement character (what invalid UTF-8 decodes to) and lone surrogates.
const BAD_CHARACTERS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const VISUAL_SEPARATORS = /[\s\-.()/\u00a0\u2010-\u2015]/g;

const unparseable = (raw: string, detail: string, displayName?: string): NormalizedCaller => ({
  kind: 'unparseable',
  raw: raw.slice(0, 256),
  valid: false,
  detail,
  ...(displayName ? { displayName } : {}),
});

function safeParse(text: string, country?: string): PhoneNumber | undefined {
  try {
    return parsePhoneNumberFromString(text, country ? { defaultCountry: country as CountryCode } : undefined);
  } catch {
    return undefined;
  }
}

/** The parts of libphonenumber's Metadata that its own isValidNumber reads (not in its type declarations). */
interface NumberingPlanPatterns {
  hasTypes(): boolean;
  nationalPrefixForParsing(): string | undefined;
  nationalNumberPattern(): string;
  type(type: string): { pattern(): string; possibleLengths(): number[] | undefined } | undefined;
}
const plans = new Metadata(maxMetadata as unknown as MetadataJson) as unknown as {
  selectNumberingPlan(countryOrCallingCode: string): void;
  /** The countries of a calling code (undefined: no country has it; the non-geographic +800 … are not here). */
  getCountryCodesForCallingCode(callingCode: string): string[] | undefined;
  numberingPlan: NumberingPlanPatterns;
};
/** Fixed line first, then the others, in the order of libphonenumber's getNumberType. */
const NUMBER_TYPES = [
  'FIXED_LINE',
  'MOBILE',
  'PREMIUM_RATE',
  'TOLL_FREE',
  'SHARED_COST',
  'VOIP',
  'PERSONAL_NUMBER',
  'PAGER',
  'UAN',
  'VOICEMAIL',
] as const;
const wholeMatchers = new Map<string, RegExp>();

function matchesWhole(text: string, pattern: string): boolean {
  let matcher = wholeMatchers.get(pattern);
  if (!matcher) wholeMatchers.set(pattern, (matcher = new RegExp(`^(?:${pattern})$`)));
  return matcher.test(text);
}

/**
 * What `parsed.isValid()` answers, the same way (libphonenumber's isValidNumber and getNumberType), with each
 * pattern compiled once: libphonenumber builds a new RegExp from the pattern text for every test, and the
 * patterns run to hundreds of characters, so a new caller's validity cost more than the rest of its screening.
 * test/screening/normalize.test.ts holds it to isValid() on numbers of every country.
 */
export function isValidReading(parsed: PhoneNumber): boolean {
  return isValidNational(parsed.country ?? parsed.countryCallingCode, parsed.nationalNumber);
}

function isValidNational(countryOrCallingCode: string, national: string): boolean {
  plans.selectNumberingPlan(countryOrCallingCode);
  const plan = plans.numberingPlan;
  if (!matchesWhole(national, plan.nationalNumberPattern())) return false;
  if (!plan.hasTypes()) return true;
  for (const name of NUMBER_TYPES) {
    const type = plan.type(name);
    const pattern = type?.pattern();
    if (!type || !pattern) continue;
    const lengths = type.possibleLengths();
    if (lengths && !lengths.includes(national.length)) continue;
    if (matchesWhole(national, pattern)) return true;
  }
  return false;
}

/** A calling code's one country and its national prefix (as parsing reads it); null: shared by several countries. */
const quickPlans = new Map<string, { country: string; nationalPrefix?: RegExp } | null>();

function quickPlan(code: string): { country: string; nationalPrefix?: RegExp } | null | undefined {
  let plan = quickPlans.get(code);
  if (plan !== undefined) return plan;
  const countries = plans.getCountryCodesForCallingCode(code);
  if (!countries) return undefined;
  const country = countries.length === 1 ? countries[0] : undefined;
  if (!country) plan = null;
  else {
    plans.selectNumberingPlan(country);
    const prefix = plans.numberingPlan.nationalPrefixForParsing();
    plan = { country, ...(prefix ? { nationalPrefix: new RegExp(`^(?:${prefix})`) } : {}) };
  }
  quickPlans.set(code, plan);
  return plan;
}

/**
 * What libphonenumber reads from "+<digits>" (E.164, country, national number, validity), the plain way, for a
 * calling code of one country and a national number that does not start like that country's national prefix:
 * most callers from abroad. Undefined leaves the number to libphonenumber (a shared code such as +1 or +7, a
 * national prefix to strip, an odd length). A new caller's parse cost more than the rest of its screening;
 * test/screening/normalize.test.ts holds this to libphonenumber on numbers of every country.
 */
export function readInternationalQuickly(
  digits: string,
): { e164: string; country: string; nationalNumber: string; valid: boolean } | undefined {
  if (digits[0] === '0') return undefined;
  for (let length = 1; length <= 3 && length <= digits.length; length++) {
    const plan = quickPlan(digits.slice(0, length));
    if (plan === undefined) continue;
    if (plan === null) return undefined;
    const national = digits.slice(length);
    if (national.length < 4 || national.length > 17 || plan.nationalPrefix?.test(national)) return undefined;
    return {
      e164: `+${digits}`,
      country: plan.country,
      nationalNumber: national,
      valid: isValidNational(plan.country, national),
    };
  }
  return undefined;
}

// The number type costs a dozen pattern matches, so it is worked out only where a rule asks (numberTypeOf).
function describe(
  parsed: PhoneNumber,
  readAs: NormalizedCaller['readAs'],
  valid = isValidReading(parsed),
): Partial<NormalizedCaller> {
  return {
    e164: parsed.number,
    digits: parsed.number.slice(1),
    country: parsed.country,
    nationalNumber: parsed.nationalNumber,
    valid,
    readAs,
  };
}

/** MOBILE, FIXED_LINE, TOLL_FREE … of a valid E.164 number (and records it on the caller). */
export function numberTypeOf(caller: NormalizedCaller): NumberType {
  if (caller.numberType === undefined && caller.valid && caller.e164)
    caller.numberType = safeParse(caller.e164)?.getType();
  return caller.numberType;
}

/**
 * libphonenumber's full metadata costs 15-30 µs a parse, most of a screening's time. The same numbers come
 * again and again (spoofed brand numbers, repeat callers), so recent results are kept (frozen: callers copy).
 */
export const parseCache = new RecentCache<Readonly<Partial<NormalizedCaller>> | undefined>(100_000);

/** Reads digits in any of the forms networks send: +CC…, 00CC…, 011CC…, national 0…, or CC… without '+'. */
export function normalizeNumber(
  text: string,
  context: NumberingContext,
  phoneContext?: string,
): Partial<NormalizedCaller> | undefined {
  const kept = readNumber(text, context, phoneContext);
  return kept && { ...kept };
}

/** normalizeNumber's reading as kept in the cache (frozen: copy before changing). */
export function readNumber(
  text: string,
  context: NumberingContext,
  phoneContext?: string,
): Readonly<Partial<NormalizedCaller>> | undefined {
  const compact = text.replace(VISUAL_SEPARATORS, '');
  if (!/^\+?\d{1,20}$/.test(compact)) return undefined;
  const key = `${context.country}${context.international ? '+' : '-'}${phoneContext ?? ''}|${compact}`;
  return parseCache.get(key, () => {
    const parsed = parseNumber(compact, context, phoneContext);
    return parsed && Object.freeze(parsed);
  });
}

const callingCodes = new Map<string, string>();
const QUICK_URI = /(?:sips?|tel):([^@;>?,\s]*)/i;

/**
 * The digits a full reading of a header value (or number) most likely gives, worked out in a microsecond
 * without libphonenumber: the user part of its first URI, read as a number the plain way. Only a first guess
 * for sending the list look-ups early; normalizeIdentity decides, and a wrong guess costs a second look-up.
 */
export function guessDigits(value: string, context: NumberingContext): string | undefined {
  if (value.length > 1024) return undefined; // padded: not worth a guess, the full reading bounds it
  const compact = (QUICK_URI.exec(value)?.[1] ?? value).replace(VISUAL_SEPARATORS, '');
  if (!/^\+?\d{1,20}$/.test(compact)) return undefined;
  const known = parseCache.peek(`${context.country}${context.international ? '+' : '-'}|${compact}`);
  if (known) return known.digits;
  if (compact.startsWith('+')) return compact.slice(1);
  if (compact.startsWith('00')) return compact.slice(2);
  if (context.international && !compact.startsWith('0')) return compact;
  let code = callingCodes.get(context.country);
  if (code === undefined) {
    code = safeCallingCode(context.country);
    callingCodes.set(context.country, code);
  }
  return code + (compact.startsWith('0') ? compact.slice(1) : compact);
}

function safeCallingCode(country: string): string {
  try {
    return getCountryCallingCode(country as CountryCode);
  } catch {
    return '';
  }
}

function parseNumber(compact: string, context: NumberingContext, phoneContext?: string): Partial<NormalizedCaller> {
  if (compact.startsWith('+')) {
    const quick = readInternationalQuickly(compact.slice(1));
    if (quick) {
      const { e164, country, nationalNumber, valid } = quick;
      return { e164, digits: e164.slice(1), country, nationalNumber, valid, readAs: 'international' };
    }
    const parsed = safeParse(compact);
    return parsed ? describe(parsed, 'international') : { valid: false };
  }
  if (phoneContext && /^\+\d+$/.test(phoneContext.replace(VISUAL_SEPARATORS, ''))) {
    const parsed = safeParse(phoneContext.replace(VISUAL_SEPARATORS, '') + compact);
    if (parsed) return describe(parsed, 'phone-context');
  }
  const shortCode = compact.length <= 6 ? compact : undefined;
  // Calls from abroad carry international numbers: there a number without '+' most likely lost it, while on
  // a national trunk the national reading comes first ("18882804331" is valid both in DE and in the US).
  const mayLackPlus = !shortCode && !compact.startsWith('0');
  if (context.international && mayLackPlus) {
    const withPlus = safeParse(`+${compact}`);
    if (withPlus && isValidReading(withPlus)) return describe(withPlus, 'missing-plus', true);
  }
  const national = safeParse(compact, context.country);
  if (national && isValidReading(national))
    return { ...describe(national, 'national', true), ...(shortCode ? { shortCode } : {}) };
  if (mayLackPlus && !context.international) {
    const withPlus = safeParse(`+${compact}`);
    if (withPlus && isValidReading(withPlus)) return describe(withPlus, 'missing-plus', true);
  }
  if (national) return { ...describe(national, 'national', false), ...(shortCode ? { shortCode } : {}) };
  return { valid: false, ...(shortCode ? { shortCode } : {}) };
}

/**
 * A display name as a phone would show it: no invisible characters (which would hide a brand behind padding),
 * no stacks of combining marks, spaces folded, and no longer than MAX_DISPLAY_NAME.
 */
export function cleanDisplayName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  // the common case, plain printable ASCII with single spaces, needs no more than a trim
  if (name.length <= MAX_DISPLAY_NAME && PRINTABLE_ASCII.test(name) && !name.includes('  '))
    return name.trim() || undefined;
  const clean = name
    // eslint-disable-next-line no-control-regex
    .replace(/[\p{Cf}\p{Cc}\u0000-\u001f]/gu, '')
    .replace(/(\p{M}{2})\p{M}+/gu, '$1')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_DISPLAY_NAME);
  return clean || undefined;
}

/** Control characters and broken encoding are replaced, not a reason to stop reading: the number still counts. */
function withoutBadCharacters(input: string): { text: string; malformed?: string } {
  if (PRINTABLE_ASCII.test(input)) return { text: input };
  BAD_CHARACTERS.lastIndex = 0;
  if (!BAD_CHARACTERS.test(input)) return { text: input };
  return { text: input.replace(BAD_CHARACTERS, ''), malformed: 'control characters or invalid encoding' };
}

/** Normalises a caller ID header value or number (the first value of a header that has several). Never throws. */
export function normalizeCaller(
  input: unknown,
  context: NumberingContext,
  displayNameOverride?: string,
): NormalizedCaller {
  return normalizeIdentity(input, context, displayNameOverride, 1)[0];
}

/**
 * Every value of an identity header (at most `max`), normalised. A value that is not well-formed still gives
 * the number in it, marked `malformed`; one with no number at all is `unparseable`. Never throws.
 */
export function normalizeIdentity(
  input: unknown,
  context: NumberingContext,
  displayNameOverride?: string,
  max = MAX_IDENTITY_VALUES,
): NormalizedCaller[] {
  if (typeof input !== 'string') return [unparseable('', 'not text')];
  const { text, malformed } = withoutBadCharacters(input);
  if (text.trim() === '') return [unparseable(input, malformed ?? 'empty')];
  const values = max > 1 ? splitValues(text, max) : [text];
  const out: NormalizedCaller[] = [];
  for (const value of values) {
    const identity = parseIdentityValue(value);
    const readable = identity.error ? salvageIdentityValues(value, identity.error, max - out.length) : [identity];
    for (const one of readable) {
      if (out.length >= max) break;
      const caller = fromIdentity(one, value, context, displayNameOverride);
      if (malformed) caller.malformed ??= malformed;
      out.push(caller);
    }
  }
  return out.length ? out : [unparseable(input, malformed ?? 'empty')];
}

function fromIdentity(
  identity: IdentityValue,
  input: string,
  context: NumberingContext,
  displayNameOverride?: string,
): NormalizedCaller {
  const raw = input.slice(0, 256);
  const displayName = cleanDisplayName(displayNameOverride ?? identity.displayName);
  const named = displayName ? { displayName } : {};
  const params = Object.keys(identity.params).length ? { params: identity.params } : {};
  const flaw = identity.error ? { malformed: identity.error } : {};
  const user = identity.user ?? identity.plain ?? '';
  if (identity.error && !user) return unparseable(input, identity.error, displayName);
  const privacy = identity.params.privacy;
  if (
    ANONYMOUS_USERS.has(user.toLowerCase()) ||
    (!user && identity.host === 'anonymous.invalid') ||
    (privacy !== undefined && privacy !== 'off' && !user) ||
    (!user && /^anonymous$/i.test(displayName ?? ''))
  ) {
    return { kind: 'anonymous', raw, valid: false, ...named, ...params, ...flaw };
  }
  if (!user) return unparseable(input, 'no number in the caller ID', displayName);

  const number = readNumber(user.slice(0, 64), context, identity.params['phone-context']);
  if (!number) return unparseable(input, identity.error ?? 'not a telephone number', displayName);
  return { kind: 'number', raw, valid: false, ...number, ...named, ...params, ...flaw };
}
