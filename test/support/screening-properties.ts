import fc from 'fast-check';
import type { Config } from '../../services/common/config';
import { loadRuleSet, type Screening } from '../../services/screening';
import { seedEntries } from '../../services/screening/seed';
import type { ScreeningRequest, Verdict } from '../../services/screening/verdict';

/**
 * Metamorphic properties of screening: what a scammer can change about a caller ID that poses as a brand
 * never turns a warning into "allow" on a trunk that does not verify calls. Shared by the fixed-seed test
 * (`test/screening/properties.test.ts`) and the 100,000-case run (`npm run bench:screen-properties`).
 */

/** A caller ID before any change: the number (E.164), perhaps a name, the trunk. */
export interface Identity {
  number: string;
  name?: string;
  trunk: 'de-national' | 'unknown';
}

export interface PropertyRun {
  name: string;
  runs: number;
  /** Slowest screening seen (ms), as the engine measured it. */
  slowestMs: number;
  /** Screenings that missed the Redis budget (fail open) and were screened again. */
  degraded: number;
}

/** The brand numbers the seed lists (config/brands/*.yaml), in E.164. */
export const brandNumbers = (config: Config): string[] =>
  seedEntries(loadRuleSet(config).brands)
    .filter((e) => e.kind === 'number')
    .map((e) => `+${e.value}`);

const BRAND_NAMES = [
  'Amazon',
  'AMAZON',
  'Amazon Kundenservice',
  'Amazon Prime',
  'amazon.de',
  'AMZN Mktp',
  'Amazon Service',
];
const HARMLESS = '+4930901830';

const digits = (n: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(''));
/** Ordinary numbers: German mobile and Berlin numbers, US numbers. */
export const ordinaryNumber = fc.oneof(
  digits(8).map((d) => `+49151${d}`),
  digits(7).map((d) => `+4930${d}`),
  digits(4).map((d) => `+1212555${d}`),
);

/** A caller ID that warns: a brand number (with or without a name), or an ordinary number with a brand name. */
const flaggedIdentity = (brandNumbers: readonly string[]): fc.Arbitrary<Identity> =>
  fc.oneof(
    fc.record({
      number: fc.constantFrom(...brandNumbers),
      name: fc.option(fc.constantFrom(...BRAND_NAMES), { nil: undefined }),
      trunk: fc.constantFrom('de-national' as const, 'unknown' as const),
    }),
    fc.record({
      number: ordinaryNumber,
      name: fc.constantFrom(...BRAND_NAMES),
      trunk: fc.constantFrom('de-national' as const, 'unknown' as const),
    }),
  );

/** How an identity is written into a header value; each field is one thing a scammer may change. */
interface Form {
  scheme: 'sip' | 'sips' | 'tel';
  schemeCase: 'lower' | 'upper';
  namePadding: string;
  uriParams: string[];
  headerParams: string[];
  percentEncode: boolean[];
  spaces: boolean;
  hostCase: 'lower' | 'upper';
  lookalikes: number[];
}

const PLAIN: Form = {
  scheme: 'sip',
  schemeCase: 'lower',
  namePadding: '',
  uriParams: [],
  headerParams: [],
  percentEncode: [],
  spaces: false,
  hostCase: 'lower',
  lookalikes: [],
};

const LOOKALIKES: Record<string, string[]> = {
  a: ['а', 'ɑ', 'α', '@', '4'],
  A: ['А', 'Α', '4'],
  o: ['о', 'ο', '0'],
  O: ['О', 'Ο', '0'],
  e: ['е', '3'],
  E: ['Е', 'Ε', '3'],
  m: ['rn'],
  M: ['М', 'Μ'],
  Z: ['Ζ'],
  N: ['Ν'],
  i: ['і', 'ı'],
  c: ['с'],
  p: ['р'],
};

function disguise(name: string, picks: readonly number[]): string {
  const chars = [...name];
  for (const pick of picks) {
    const at = pick % chars.length;
    const options = LOOKALIKES[chars[at]];
    if (options) chars[at] = options[pick % options.length];
  }
  return chars.join('');
}

export function render(identity: Identity, form: Form): string {
  let user = identity.number;
  if (form.spaces) user = `${user.slice(0, 3)} ${user.slice(3, 6)} ${user.slice(6)}`;
  if (form.percentEncode.length)
    user = [...user]
      .map((ch, i) => (form.percentEncode[i % form.percentEncode.length] ? `%${ch.charCodeAt(0).toString(16)}` : ch))
      .join('');
  const scheme = form.schemeCase === 'upper' ? form.scheme.toUpperCase() : form.scheme;
  const host = form.hostCase === 'upper' ? 'CARRIER.EXAMPLE' : 'carrier.example';
  const params = form.uriParams.map((p) => `;${p}`).join('');
  const uri = form.scheme === 'tel' ? `${scheme}:${user}${params}` : `${scheme}:${user}@${host}${params}`;
  const name =
    identity.name === undefined ? form.namePadding : disguise(identity.name, form.lookalikes) + form.namePadding;
  const gap = form.spaces ? '  ' : ' ';
  const display = name ? `"${name.replace(/["\\]/g, '')}"${gap}` : '';
  return `${form.spaces ? ' ' : ''}${display}<${uri}>${form.headerParams.map((p) => `;${p}`).join('')}`;
}

const token = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-._'),
  minLength: 1,
  maxLength: 12,
});
const param = fc.oneof(
  fc.constantFrom(
    'user=phone',
    'verstat=TN-Validation-Passed',
    'VERSTAT=TN-Validation-Passed',
    'verstat=No-TN-Validation',
    'privacy=off',
    'isub=1',
    'npdi',
    'rn=+4930901830',
    'cpc=ordinary',
    'transport=tls',
  ),
  fc.tuple(token, token).map(([k, v]) => `${k}=${v}`),
);
const padding = (max: number) =>
  fc.oneof(
    fc.nat({ max }).map((n) => ' '.repeat(n)),
    fc.nat({ max }).map((n) => ` ${'x'.repeat(n)}`),
    fc.string({ unit: fc.constantFrom(...'abc xyz.-_'), maxLength: max }).map((s) => ` ${s}`),
  );

/** The changes, each alone, and all of them at once. */
export function changes(maxPadding: number): Record<string, fc.Arbitrary<Partial<Form>>> {
  const one = {
    'display name padded to any length': padding(maxPadding).map((namePadding) => ({ namePadding })),
    'URI padded with parameters': fc
      .array(param, { minLength: 1, maxLength: Math.max(2, Math.floor(maxPadding / 10)) })
      .map((uriParams) => ({ uriParams })),
    'any URI and header parameters (verstat included)': fc
      .tuple(fc.array(param, { maxLength: 6 }), fc.array(param, { maxLength: 6 }))
      .map(([uriParams, headerParams]) => ({ uriParams, headerParams })),
    'sip, sips and tel forms': fc
      .constantFrom('sip' as const, 'sips' as const, 'tel' as const)
      .map((scheme) => ({ scheme })),
    'percent-encoding': fc
      .array(fc.boolean(), { minLength: 1, maxLength: 16 })
      .map((percentEncode) => ({ percentEncode })),
    case: fc
      .tuple(fc.constantFrom('lower' as const, 'upper' as const), fc.constantFrom('lower' as const, 'upper' as const))
      .map(([schemeCase, hostCase]) => ({ schemeCase, hostCase })),
    whitespace: fc.constant({ spaces: true }),
    'look-alike letters': fc.array(fc.nat(), { minLength: 1, maxLength: 6 }).map((lookalikes) => ({ lookalikes })),
  };
  return {
    ...one,
    'all of these at once': fc
      .tuple(...Object.values(one))
      .map((parts) => Object.assign({}, ...parts) as Partial<Form>),
  };
}

export interface RunOptions {
  runs: number;
  /** The listed brand numbers (E.164), as seeded. */
  brandNumbers: readonly string[];
  seed?: number;
  maxPadding: number;
}

/** Runs every property; throws (fast-check's report, with the shrunk counterexample) on the first that fails. */
export async function checkProperties(
  screening: Screening,
  options: RunOptions,
  onDone?: (run: PropertyRun) => void,
): Promise<PropertyRun[]> {
  const results: PropertyRun[] = [];
  const params = { numRuns: options.runs, ...(options.seed !== undefined ? { seed: options.seed } : {}) };
  // a screening that missed its Redis budget is allowed by design (fail open): that moment says nothing about
  // the rules, so it is screened again (and counted) rather than read as a changed verdict
  const screen = async (request: ScreeningRequest, slowest: { ms: number; degraded: number }): Promise<Verdict> => {
    for (let attempt = 0; ; attempt++) {
      const verdict = await screening.engine.screen(request);
      slowest.ms = Math.max(slowest.ms, verdict.elapsedMs);
      if (!verdict.degraded || attempt >= 20) return verdict;
      slowest.degraded++;
    }
  };

  for (const [name, change] of Object.entries(changes(options.maxPadding))) {
    const slowest = { ms: 0, degraded: 0 };
    await fc.assert(
      fc.asyncProperty(flaggedIdentity(options.brandNumbers), change, async (identity, partial) => {
        const before = await screen({ from: render(identity, PLAIN), trunk: identity.trunk }, slowest);
        if (before.verdict === 'allow') throw new Error(`base case not flagged: ${JSON.stringify(identity)}`);
        const after = await screen(
          { from: render(identity, { ...PLAIN, ...partial }), trunk: identity.trunk },
          slowest,
        );
        return after.verdict !== 'allow';
      }),
      params,
    );
    const run = { name, runs: options.runs, slowestMs: slowest.ms, degraded: slowest.degraded };
    results.push(run);
    onDone?.(run);
  }

  // a second P-Asserted-Identity value, before or after, with a harmless From, on a trunk that trusts PAI
  {
    const slowest = { ms: 0, degraded: 0 };
    await fc.assert(
      fc.asyncProperty(
        flaggedIdentity(options.brandNumbers),
        ordinaryNumber,
        fc.boolean(),
        async (identity, other, first) => {
          const flagged = render(identity, PLAIN);
          const before = await screen(
            { from: `<sip:${HARMLESS}@a.example>`, assertedIdentity: flagged, trunk: 'de-national' },
            slowest,
          );
          if (before.verdict === 'allow') throw new Error(`base case not flagged: ${JSON.stringify(identity)}`);
          const second = `<sip:${other}@carrier.example>`;
          const after = await screen(
            {
              from: `<sip:${HARMLESS}@a.example>`,
              assertedIdentity: first ? `${second}, ${flagged}` : `${flagged}, ${second}`,
              trunk: 'de-national',
            },
            slowest,
          );
          return after.verdict !== 'allow';
        },
      ),
      params,
    );
    const run = {
      name: 'a second P-Asserted-Identity value',
      runs: options.runs,
      slowestMs: slowest.ms,
      degraded: slowest.degraded,
    };
    results.push(run);
    onDone?.(run);
  }

  // any input at all: screening answers (never throws)
  {
    const slowest = { ms: 0, degraded: 0 };
    const anything = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.string({
        unit: fc.constantFrom(...'"<>;:@,\\%+0123456789 sipteltag=amazonAMAZON\u0000\u200b'),
        maxLength: 300,
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        anything,
        fc.option(anything, { nil: undefined }),
        fc.option(anything, { nil: undefined }),
        fc.constantFrom('de-national', 'unknown', 'us', 'de-international'),
        async (from, assertedIdentity, name, trunk) => {
          const v = await screen({ from, assertedIdentity, name, trunk }, slowest);
          return ['allow', 'warn', 'block'].includes(v.verdict);
        },
      ),
      params,
    );
    const run = {
      name: 'any input: an answer, never an exception',
      runs: options.runs,
      slowestMs: slowest.ms,
      degraded: slowest.degraded,
    };
    results.push(run);
    onDone?.(run);
  }
  return results;
}
