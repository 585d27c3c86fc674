import type { Verdict } from '../../services/screening/verdict';
import { seededScreeningPerFile } from '../support/screening';

/** What a scammer can put into the caller ID, screened end to end against seeded lists on a real Redis. */
const trunkBase = { country: 'DE', international: false };
const file = seededScreeningPerFile({
  trunks: {
    // a network that verifies calls (STIR/SHAKEN) and writes its result onto P-Asserted-Identity
    verifying: {
      ...trunkBase,
      identityHeaders: ['P-Asserted-Identity', 'From'],
      verification: { header: 'P-Asserted-Identity' },
    },
    // a network that always sends P-Asserted-Identity
    asserting: { ...trunkBase, identityHeaders: ['P-Asserted-Identity', 'From'], identityAlwaysSent: true },
  },
});

const AMAZON_DE = '+498003638469';
const codes = (v: Verdict): string[] => v.reasons.filter((r) => !r.suppressed).map((r) => r.code);

describe('verstat counts only where the trunk’s own network verified the call', () => {
  it('ignores a self-asserted verstat on a trunk without a verification service, and says so', async () => {
    for (const trunk of ['de-national', 'unknown']) {
      const plain = await file.screening.engine.screen({ from: `<sip:${AMAZON_DE}@carrier.example>`, trunk });
      const asserted = await file.screening.engine.screen({
        from: `<sip:${AMAZON_DE};verstat=TN-Validation-Passed@carrier.example;user=phone>`,
        trunk,
      });
      expect(asserted.verdict).toBe('warn');
      expect(asserted.score).toBe(plain.score);
      expect(codes(asserted)).toEqual(['brand-number', 'stir-ignored']);
      expect(asserted.reasons[1].text.en).toContain('TN-Validation-Passed');
    }
  });

  it('ignores a verstat in P-Asserted-Identity on a trunk that trusts only From', async () => {
    const v = await file.screening.engine.screen({
      from: `<sip:${AMAZON_DE}@carrier.example>`,
      assertedIdentity: `<sip:${AMAZON_DE}@carrier.example;verstat=TN-Validation-Passed>`,
      trunk: 'unknown',
    });
    expect(v.identity).toBe('From');
    expect(codes(v)).toEqual(['brand-number', 'stir-ignored']);
    expect(v.verdict).toBe('warn');
  });

  it('an explicit verstat (CLI, API, dialplan) is ignored on a trunk without verification too', async () => {
    const v = await file.screening.engine.screen({
      from: AMAZON_DE,
      verstat: 'TN-Validation-Passed',
      trunk: 'de-national',
    });
    expect(codes(v)).toEqual(['brand-number', 'stir-ignored']);
  });

  it('on a verifying trunk, a passed verification lowers the number’s suspicion, never the name’s', async () => {
    const numberOnly = await file.screening.engine.screen({
      from: `<sip:${AMAZON_DE}@a.example>`,
      assertedIdentity: `<sip:${AMAZON_DE}@carrier.example;verstat=TN-Validation-Passed>`,
      trunk: 'verifying',
    });
    expect(codes(numberOnly)).toEqual(['brand-number', 'stir-passed']);
    expect(numberOnly.verdict).toBe('allow');

    const named = await file.screening.engine.screen({
      from: `<sip:${AMAZON_DE}@a.example>`,
      assertedIdentity: `"Amazon" <sip:${AMAZON_DE}@carrier.example;verstat=TN-Validation-Passed>`,
      trunk: 'verifying',
    });
    expect(codes(named)).toEqual(['brand-number', 'stir-passed', 'brand-name']);
    expect(named.verdict).toBe('warn');
    // the name alone keeps its full weight: 60, as without any verification
    const nameAlone = await file.screening.engine.screen({
      from: '<sip:+4930901830@a.example>',
      assertedIdentity: '"Amazon" <sip:+4930901830@carrier.example;verstat=TN-Validation-Passed>',
      trunk: 'verifying',
    });
    expect(nameAlone.score).toBe(60);
    expect(nameAlone.verdict).toBe('warn');
  });

  it('on a verifying trunk, a verstat on another header or for another number is ignored', async () => {
    const inFrom = await file.screening.engine.screen({
      from: `<sip:${AMAZON_DE}@a.example;verstat=TN-Validation-Passed>`,
      assertedIdentity: `<sip:${AMAZON_DE}@carrier.example>`,
      trunk: 'verifying',
    });
    expect(codes(inFrom)).toEqual(['brand-number', 'stir-ignored']);

    // the verified value is a harmless number; Amazon's number beside it is not verified
    const other = await file.screening.engine.screen({
      from: '<sip:+4930901830@a.example>',
      assertedIdentity: `<sip:+4930901830@carrier.example;verstat=TN-Validation-Passed>, <tel:${AMAZON_DE}>`,
      trunk: 'verifying',
    });
    expect(other.caller.e164).toBe(AMAZON_DE);
    expect(other.verdict).toBe('warn');
    expect(codes(other)).toEqual(['brand-number']);
  });

  it('a failed verification on a verifying trunk counts', async () => {
    const v = await file.screening.engine.screen({
      from: '<sip:+4930901830@a.example>',
      assertedIdentity: '<sip:+4930901830@carrier.example;verstat=TN-Validation-Failed>',
      trunk: 'verifying',
    });
    expect(codes(v)).toEqual(['stir-failed']);
  });
});

describe('bad form never helps the caller', () => {
  it('screens the number of a display name padded past any length', async () => {
    for (const padding of [2100, 20_000, 60_000]) {
      const v = await file.screening.engine.screen({
        from: `"Amazon ${'x'.repeat(padding)}" <sip:${AMAZON_DE}@carrier.example>`,
        trunk: 'de-national',
      });
      expect(v.caller.e164).toBe(AMAZON_DE);
      expect(codes(v)).toEqual(['brand-number', 'brand-name']);
      expect(v.caller.displayName?.length).toBeLessThanOrEqual(256);
      expect(v.caller.raw.length).toBeLessThanOrEqual(256);
    }
  });

  it('screens the number of a URI padded with parameters, and of a padded P-Asserted-Identity', async () => {
    const params = Array.from({ length: 400 }, (_, i) => `;p${i}=${'y'.repeat(20)}`).join('');
    const uri = await file.screening.engine.screen({
      from: `<sip:${AMAZON_DE}@carrier.example${params}>`,
      trunk: 'unknown',
    });
    expect(uri.verdict).toBe('warn');
    const pai = await file.screening.engine.screen({
      from: '<sip:+4930901830@a.example>',
      assertedIdentity: `"${'z'.repeat(3000)}" <sip:${AMAZON_DE}@carrier.example${params}>`,
      trunk: 'de-national',
    });
    expect(pai.identity).toBe('P-Asserted-Identity');
    expect(pai.caller.e164).toBe(AMAZON_DE);
    expect(pai.verdict).toBe('warn');
  });

  it('screens the number in a half-broken header', async () => {
    for (const from of [
      `"Amazon <sip:${AMAZON_DE}@carrier.example>`,
      `<sip:${AMAZON_DE}@carrier.example`,
      `"Amazon\u0000" <sip:${AMAZON_DE}@carrier.example>`,
      `"Amazon" <sip:${AMAZON_DE}\u0007@carrier.example>`,
    ]) {
      const v = await file.screening.engine.screen({ from, trunk: 'de-national' });
      expect(v.caller.e164).toBe(AMAZON_DE);
      expect(v.verdict).toBe('warn');
      expect(codes(v)).toContain('malformed-caller-id');
    }
  });

  it('an unreadable trusted header falls back to the next one; suspicious where the network always sends it', async () => {
    const request = { from: `"Amazon" <sip:${AMAZON_DE}@a.example>`, assertedIdentity: '<garbage' };
    const lenient = await file.screening.engine.screen({ ...request, trunk: 'de-national' });
    expect(lenient.identity).toBe('From');
    expect(lenient.caller.e164).toBe(AMAZON_DE);
    expect(lenient.reasons.find((r) => r.code === 'identity-unreadable')?.score).toBe(0);

    const strict = await file.screening.engine.screen({
      from: '<sip:+4930901830@a.example>',
      assertedIdentity: '<garbage',
      trunk: 'asserting',
    });
    expect(strict.identity).toBe('From');
    expect(codes(strict)).toEqual(['identity-unreadable']);
    expect(strict.score).toBe(40);
    const clean = await file.screening.engine.screen({ from: '<sip:+4930901830@a.example>', trunk: 'asserting' });
    expect(strict.score).toBeGreaterThan(clean.score);
  });

  it('a second P-Asserted-Identity value cannot hide the screened one, in either order', async () => {
    for (const assertedIdentity of [
      `<sip:+4930901830@carrier.example>, <sip:${AMAZON_DE}@carrier.example>`,
      `<sip:${AMAZON_DE}@carrier.example>, <tel:+4930901830>`,
      `<sip:+4930901830@carrier.example>, "x,y" <tel:+4930901831>, <tel:${AMAZON_DE}>`,
    ]) {
      const v = await file.screening.engine.screen({
        from: '<sip:+4930901830@a.example>',
        assertedIdentity,
        trunk: 'de-national',
      });
      expect(v.caller.e164).toBe(AMAZON_DE);
      expect(v.verdict).toBe('warn');
    }
  });

  it('a brand name in From counts when P-Asserted-Identity (without a name) is the screened header', async () => {
    const v = await file.screening.engine.screen({
      from: '"Amazon Kundenservice" <sip:+4930901830@a.example>',
      assertedIdentity: '<sip:+4930901830@carrier.example>',
      trunk: 'de-national',
    });
    expect(v.identity).toBe('P-Asserted-Identity');
    expect(codes(v)).toEqual(['brand-name']);
    expect(v.caller.displayName).toBe('Amazon Kundenservice');
  });

  it('invisible characters do not push a brand name out of what is screened', async () => {
    const v = await file.screening.engine.screen({
      from: `"${'\u200b'.repeat(5000)}Amazon" <sip:+4930901830@a.example>`,
      trunk: 'de-national',
    });
    expect(codes(v)).toEqual(['brand-name']);
    expect(v.caller.displayName).toBe('Amazon');
  });
});
