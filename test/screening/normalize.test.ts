import fc from 'fast-check';
import {
  getCountries,
  getCountryCallingCode,
  getExampleNumber,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { isValidReading, normalizeCaller, readInternationalQuickly } from '../../services/screening/normalize';
import { seededScreeningPerFile } from '../support/screening';

/** The normalisation table, screened end to end against a seeded real Redis. */
const file = seededScreeningPerFile();

const AMAZON_US = '+18882804331';
// [caller ID as it arrives, trunk]
const amazonUsForms: [string, string][] = [
  ['+18882804331', 'de-national'],
  ['+1 888 280 4331', 'de-national'],
  ['+1-888-280-4331', 'de-national'],
  ['+1 (888) 280-4331', 'de-national'],
  ['(888) 280-4331', 'us'],
  ['888-280-4331', 'us'],
  ['888.280.4331', 'us'],
  ['8882804331', 'us'],
  ['18882804331', 'us'],
  ['1 888 280 4331', 'us'],
  ['01118882804331', 'us'],
  ['0018882804331', 'de-national'],
  ['00 1 888 280 4331', 'de-international'],
  ['18882804331', 'de-international'],
  ['tel:+1-888-280-4331', 'de-national'],
  ['tel:8882804331;phone-context=+1', 'de-national'],
  ['sip:+18882804331@carrier.example.net;user=phone', 'de-national'],
  ['sips:+18882804331@carrier.example.net', 'de-national'],
  ['sip:%2B18882804331@carrier.example.net', 'de-national'],
  ['sip:+1-888-280-4331;npdi@carrier.example.net;user=phone', 'de-national'],
  ['sip:+18882804331:secret@carrier.example.net', 'de-national'],
  ['sip:18882804331@192.0.2.10:5060;transport=udp', 'us'],
  ['<sip:+18882804331@carrier.example.net>', 'de-national'],
  ['<tel:+18882804331>', 'de-national'],
  ['"Amazon" <sip:+18882804331@carrier.example.net>;tag=a73kszlfl', 'de-national'],
  ['Amazon Customer Service <sip:+18882804331@carrier.example.net>;tag=1', 'de-national'],
  ['"Amazon \\"Support\\"" <sip:+18882804331@carrier.example.net>', 'de-national'],
  ['"Amazon, Inc." <tel:+1-888-280-4331>', 'de-national'],
  ['"Amazon" <sip:+18882804331@carrier.example.net;user=phone>;party=calling;screen=yes;privacy=off', 'de-national'],
  ['  +1 888 280 4331  ', 'de-national'],
  ['+1\u00a0888\u00a0280\u00a04331', 'de-national'],
  ['"Amazon" <sip:+18882804331@carrier.example.net>, <tel:+18882804331>', 'de-national'],
];

const amazonOtherCountries: [string, string, string][] = [
  ['08003638469', 'de-national', '+498003638469'],
  ['0800 363 8469', 'de-national', '+498003638469'],
  ['0800/3638469', 'de-national', '+498003638469'],
  ['+49 800 3638469', 'de-national', '+498003638469'],
  ['0049 800 363 8469', 'de-national', '+498003638469'],
  ['498003638469', 'de-international', '+498003638469'],
  ['sip:08003638469@pbx.example.de', 'de-national', '+498003638469'],
  ['tel:+49-800-363-8469', 'de-national', '+498003638469'],
  ['"Amazon Kundenservice" <sip:+498003638469@sbc.example.de;user=phone>', 'de-national', '+498003638469'],
  ['+44 800 279 7234', 'de-national', '+448002797234'],
  ['0044 800 279 7234', 'de-national', '+448002797234'],
  ['+81 120 999 373', 'de-national', '+81120999373'],
  ['+91 1800 3000 9009', 'de-national', '+91180030009009'],
  ['+1 877 586 3230', 'de-national', '+18775863230'],
  ['+33 800 84 77 15', 'de-national', '+33800847715'],
  ['0033 800 84 77 15', 'de-national', '+33800847715'],
];

const ordinaryNumbers: [string, string][] = [
  ['+49 30 901820', 'de-national'],
  ['030 901820', 'de-national'],
  ['+49 89 233 00', 'de-national'],
  ['+49 171 2345678', 'de-national'],
  ['0171 2345678', 'de-national'],
  ['+44 20 7946 0018', 'de-national'],
  ['+33 1 42 68 53 00', 'de-national'],
  ['+39 06 6982 1234', 'de-national'],
  ['+34 91 123 45 67', 'de-national'],
  ['+81 3 1234 5678', 'de-national'],
  ['+91 98765 43210', 'de-national'],
  ['+43 1 588 58', 'de-national'],
  ['+41 44 668 18 00', 'de-national'],
  ['+31 20 123 4567', 'de-national'],
  ['(212) 736-5000', 'us'],
  ['+1 416 979 2000', 'de-national'],
  ['sip:+4930901820@sbc.example.de;user=phone', 'de-national'],
  ['"Erika Mustermann" <sip:+4930901820@sbc.example.de>', 'de-national'],
];

const malformed: [unknown, string][] = [
  ['', 'empty'],
  ['   ', 'empty'],
  ['x'.repeat(10240), 'not a telephone number'],
  ['mailto:someone@example.com', 'not a telephone number'],
  ['<mailto:someone@example.com>', 'not a sip, sips or tel URI'],
  ['sip:alice@example.com', 'not a telephone number'],
  ['++4930901820', 'not a telephone number'],
  ['12ab34', 'not a telephone number'],
  ['sip:@example.com', 'no number'],
  ['+' + '9'.repeat(30), 'not a telephone number'],
  [12345, 'not text'],
];

/** Bad form never takes a caller out of screening: the number in it is screened, and the flaw is a reason. */
const malformedWithNumber: [string, string][] = [
  ['+49\u000030901820', 'control characters'],
  ['+49\u0007 30 901820', 'control characters'],
  ['\ud800+4930901820', 'invalid encoding'],
  ['+4930\ufffd901820', 'invalid encoding'],
  ['"unterminated <sip:+4930901820@x>', 'unterminated quoted'],
  ['<sip:+4930901820@example.com', 'unterminated <URI>'],
  ['"Erika" sip:+4930901820@x', 'display name without <URI>'],
];

const anonymousForms = [
  'anonymous',
  'Anonymous',
  'restricted',
  'unknown',
  'withheld',
  '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=hyh8',
  '<sip:anonymous@anonymous.invalid>',
  'sip:restricted@carrier.example.net',
  '<sip:anonymous.invalid>',
];

describe('normalisation table, screened against seeded lists', () => {
  it('has at least 80 cases', () => {
    const total =
      amazonUsForms.length +
      amazonOtherCountries.length +
      ordinaryNumbers.length +
      malformed.length +
      malformedWithNumber.length +
      anonymousForms.length;
    expect(total).toBeGreaterThanOrEqual(80);
  });

  it.each(amazonUsForms)('Amazon US as %j on %s matches the brand number', async (from, trunk) => {
    const v = await file.screening.engine.screen({ from, trunk });
    expect(v.caller.e164).toBe(AMAZON_US);
    expect(v.reasons.map((r) => r.code)).toContain('brand-number');
    expect(v.brand).toBe('amazon');
    expect(v.verdict).not.toBe('allow');
  });

  it.each(amazonOtherCountries)('Amazon number %j on %s normalises to %s and matches', async (from, trunk, e164) => {
    const v = await file.screening.engine.screen({ from, trunk });
    expect(v.caller.e164).toBe(e164);
    expect(v.reasons.map((r) => r.code)).toContain('brand-number');
    expect(v.verdict).toBe('warn');
  });

  it.each(ordinaryNumbers)('ordinary number %j on %s stays clean', async (from, trunk) => {
    const v = await file.screening.engine.screen({ from, trunk });
    expect(v.caller.kind).toBe('number');
    expect(v.caller.valid).toBe(true);
    expect(v.verdict).toBe('allow');
    expect(v.reasons).toEqual([]);
  });

  it.each(malformed)('malformed %j gives the unparseable reason', async (from, detail) => {
    const v = await file.screening.engine.screen({ from: from as string, trunk: 'de-national' });
    expect(v.caller.kind).toBe('unparseable');
    expect(v.caller.detail).toContain(detail);
    expect(v.reasons[0].code).toBe('unparseable');
    expect(v.reasons[0].text.en).toMatch(/^Unparseable caller ID/);
    expect(v.caller.raw.length).toBeLessThanOrEqual(256);
  });

  it.each(malformedWithNumber)('malformed %j is still screened by its number (%s)', async (from, detail) => {
    const v = await file.screening.engine.screen({ from, trunk: 'de-national' });
    expect(v.caller).toMatchObject({ kind: 'number', e164: '+4930901820', valid: true });
    expect(v.caller.malformed).toContain(detail);
    expect(v.reasons.map((r) => r.code)).toEqual(['malformed-caller-id']);
    expect(v.verdict).toBe('allow');
  });

  it.each(anonymousForms)('%j is anonymous', async (from) => {
    const v = await file.screening.engine.screen({ from, trunk: 'de-national' });
    expect(v.caller.kind).toBe('anonymous');
    expect(v.reasons.map((r) => r.code)).toEqual(['anonymous']);
    expect(v.verdict).toBe('allow');
  });
});

describe('normalizeCaller details', () => {
  const de = { country: 'DE', international: false };
  it('keeps the display name and identity parameters', () => {
    const c = normalizeCaller(
      '"Amazon \\"CS\\"" <sip:+18882804331@x;user=phone;verstat=TN-Validation-Failed>;tag=1',
      de,
    );
    expect(c.displayName).toBe('Amazon "CS"');
    expect(c.params?.verstat).toBe('TN-Validation-Failed');
    expect(c.params?.tag).toBe('1');
  });
  it('reads how the number was written', () => {
    expect(normalizeCaller('+4930901820', de).readAs).toBe('international');
    expect(normalizeCaller('030901820', de).readAs).toBe('national');
    expect(normalizeCaller('4930901820', { country: 'US', international: true }).readAs).toBe('missing-plus');
    expect(normalizeCaller('tel:30901820;phone-context=+49', de).readAs).toBe('phone-context');
  });
  it('keeps short codes as dialled', () => {
    expect(normalizeCaller('110', de)).toMatchObject({ kind: 'number', shortCode: '110', valid: false });
  });
  it('never throws on hostile input', () => {
    const nasty = ['"\\', '<', '<>', '"" <>', 'sip:%', 'sip:%zz@x', 'tel:;;;;', '"a" <tel:>', ';;;', '\\\\\\'];
    for (const input of nasty) expect(() => normalizeCaller(input, de)).not.toThrow();
  });
});

describe('validity', () => {
  // isValidReading answers what libphonenumber's isValid() answers, with its patterns compiled once
  const countries = getCountries();
  const digits = (length: number, seed: number): string =>
    Array.from({ length }, (_, i) => String((seed * 7919 + i * 104729 + ((seed >> i) & 7)) % 10)).join('');

  it('agrees with libphonenumber on example and generated numbers of every country (property)', () => {
    let valid = 0;
    for (const country of countries) {
      const example = getExampleNumber(country, examples);
      for (const text of [example?.number, `+${getCountryCallingCode(country)}${digits(9, country.charCodeAt(0))}`]) {
        const parsed = text ? parsePhoneNumberFromString(text) : undefined;
        if (!parsed) continue;
        expect({ text, valid: isValidReading(parsed) }).toEqual({ text, valid: parsed.isValid() });
        if (parsed.isValid()) valid++;
      }
    }
    // the examples are valid numbers: the property met both answers often
    expect(valid).toBeGreaterThan(countries.length * 0.9);
    fc.assert(
      fc.property(
        fc.constantFrom(...countries),
        fc.integer({ min: 2, max: 14 }),
        fc.nat(),
        fc.boolean(),
        (country, length, seed, national) => {
          const example = getExampleNumber(country, examples)?.nationalNumber ?? '';
          // half near an example (its leading digits kept), half any digits
          const rest = national
            ? example.slice(0, Math.max(0, length - 4)) + digits(Math.min(4, length), seed)
            : digits(length, seed);
          const parsed = parsePhoneNumberFromString(`+${getCountryCallingCode(country)}${rest}`);
          if (parsed) expect(isValidReading(parsed)).toBe(parsed.isValid());
        },
      ),
      { seed: 164, numRuns: 20000 },
    );
    // landlines (the examples are mobile numbers): area codes with subscriber numbers of every length
    let landlines = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('+4930', '+4989', '+49421', '+4933201', '+44207', '+331', '+3902', '+3491', '+4312', '+1202'),
        fc.integer({ min: 1, max: 10 }),
        fc.nat(),
        (area, length, seed) => {
          const parsed = parsePhoneNumberFromString(`${area}${digits(length, seed)}`);
          if (!parsed) return;
          expect(isValidReading(parsed)).toBe(parsed.isValid());
          if (parsed.isValid() && parsed.getType() === 'FIXED_LINE') landlines++;
        },
      ),
      { seed: 120, numRuns: 5000 },
    );
    expect(landlines).toBeGreaterThan(500);
  });
});

describe('reading "+<digits>" without libphonenumber', () => {
  // readInternationalQuickly reads what libphonenumber reads (or leaves the number to it): E.164, country,
  // national number and validity, for calling codes of one country and numbers without a national prefix
  const countries = getCountries();
  const digitsFrom = (seed: number, length: number): string =>
    Array.from({ length }, (_, i) => String((seed * 7919 + i * 104729 + ((seed >> i) & 7)) % 10)).join('');
  const libphonenumber = (digits: string) => {
    const parsed = parsePhoneNumberFromString(`+${digits}`);
    return parsed
      ? { e164: parsed.number, country: parsed.country, nationalNumber: parsed.nationalNumber, valid: parsed.isValid() }
      : undefined;
  };
  const agrees = (digits: string): boolean => {
    const quick = readInternationalQuickly(digits);
    if (quick) expect({ digits, quick }).toEqual({ digits, quick: libphonenumber(digits) });
    return quick !== undefined;
  };

  it('agrees with libphonenumber on example, generated and prefixed numbers of every country (property)', () => {
    let quick = 0;
    for (const country of countries) {
      const example = getExampleNumber(country, examples);
      if (example && agrees(example.number.slice(1))) quick++;
    }
    // most countries have a calling code of their own: their examples are read the quick way
    expect(quick).toBeGreaterThan(countries.length * 0.6);
    let read = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...countries),
        fc.integer({ min: 0, max: 18 }),
        fc.nat(),
        fc.constantFrom('example', 'any', 'national prefix'),
        (country, length, seed, kind) => {
          const code = getCountryCallingCode(country);
          const example = getExampleNumber(country, examples)?.nationalNumber ?? '';
          const rest =
            kind === 'example'
              ? example.slice(0, Math.max(0, length - 4)) + digitsFrom(seed, Math.min(4, length))
              : kind === 'national prefix'
                ? `${['0', '8', '1', '06'][seed % 4]}${example}`.slice(0, Math.max(length, 2))
                : digitsFrom(seed, length);
          if (agrees(`${code}${rest}`)) read++;
        },
      ),
      { seed: 2026, numRuns: 30000 },
    );
    expect(read).toBeGreaterThan(10000);
    // no calling code at the start, a code shared by several countries (+1, +7) or by none (+800), a national
    // prefix, a national number too short: left to libphonenumber
    for (const digits of [
      '0049301234567',
      '18882804331',
      '79161234567',
      '2',
      '',
      '999123456',
      '8001234567',
      '49123',
      '49030901820',
    ])
      expect({ digits, quick: readInternationalQuickly(digits) }).toEqual({ digits, quick: undefined });
    expect(readInternationalQuickly('4930901820')).toEqual({
      e164: '+4930901820',
      country: 'DE',
      nationalNumber: '30901820',
      valid: true,
    });
  });
});
