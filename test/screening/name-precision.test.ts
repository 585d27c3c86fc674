import { seededScreeningPerFile } from '../support/screening';
import { IMPERSONATIONS, ORDINARY_NAMES } from './fixtures/name-precision';

/** Names match as words: no cry of wolf for ordinary names, no escape for impersonations (seeded lists, real Redis). */
const file = seededScreeningPerFile();

const screenName = (name: string) =>
  file.screening.engine.screen({
    from: `"${name.replace(/["\\]/g, '')}" <sip:+4930901830@carrier.example>`,
    trunk: 'de-national',
  });

describe('name precision set', () => {
  it('has at least 500 ordinary names and 50 impersonations', () => {
    expect(new Set(ORDINARY_NAMES).size).toBeGreaterThanOrEqual(500);
    expect(new Set(IMPERSONATIONS).size).toBeGreaterThanOrEqual(50);
  });

  it('warns for none of the ordinary names', async () => {
    const warned: string[] = [];
    for (const name of ORDINARY_NAMES) {
      const v = await screenName(name);
      if (v.verdict !== 'allow' || v.reasons.some((r) => r.code === 'brand-name')) warned.push(name);
    }
    expect(warned).toEqual([]);
  });

  it('warns for every impersonation, on the name alone', async () => {
    const missed: string[] = [];
    for (const name of IMPERSONATIONS) {
      const v = await screenName(name);
      if (v.verdict !== 'warn' || v.brand !== 'amazon' || !v.reasons.some((r) => r.code === 'brand-name'))
        missed.push(name);
    }
    expect(missed).toEqual([]);
  });
});
