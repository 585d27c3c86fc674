import { verstatIdentity } from '../../services/ari/call-session';
import { verdictAction } from '../../services/carrier/verdict-action';
import { flaggedCallEventSchema, flaggedEvent } from '../../services/events/flagged-call';
import { seededScreeningPerFile } from '../support/screening';
import {
  type CertRepository,
  identityHeader,
  makePki,
  signPassport,
  startRepository,
  stirSettings,
  type TestPki,
} from '../support/stir-pki';

/** The verification as one of the verdict's reasons, on trunks with `stir: verify`, and what a front does with it. */
const AMAZON_US = '18882804331';
const CALLED = '12025550199';
const us = { country: 'US', international: false, identityHeaders: ['P-Asserted-Identity', 'From'] };
const overrides: Record<string, unknown> = {
  trunks: {
    'us-signed': { ...us, stir: 'verify', expectIdentity: true },
    'us-verify': { ...us, stir: 'verify' },
    'us-plain': us,
  },
};
let pki: TestPki;
let repo: CertRepository;
beforeAll(async () => {
  pki = await makePki();
  repo = await startRepository(pki);
  repo.routes.set('/sp.pem', { body: pki.chainPem, cacheControl: 'max-age=3600' });
  repo.routes.set('/hang.pem', { hang: true });
  overrides.stir = stirSettings(repo, { fetchTimeoutMs: 300 });
});
const state = seededScreeningPerFile(overrides);
afterAll(() => repo?.close());

const identity = async (o: { orig?: string; attest?: string; iat?: number; path?: string } = {}) => {
  const x5u = `${repo.base}${o.path ?? '/sp.pem'}`;
  return identityHeader(
    await signPassport(pki.leaf.keyPem, {
      orig: o.orig ?? AMAZON_US,
      dest: [CALLED],
      x5u,
      ...(o.attest ? { attest: o.attest } : {}),
      ...(o.iat ? { iat: o.iat } : {}),
      origid: 'de305d54-75b4-431b-adb2-eb6b9e546014',
    }),
    x5u,
  );
};

const screen = (trunk: string, identityValues?: string[], from = `<sip:+${AMAZON_US}@carrier.example>`) =>
  state.screening.engine.screen({
    from,
    assertedIdentity: `<sip:+${AMAZON_US}@carrier.example;user=phone>`,
    to: `+${CALLED}`,
    trunk,
    ...(identityValues ? { identityValues, identityHeader: true } : { identityHeader: false }),
  });

const codes = (v: { reasons: { code: string }[] }) => v.reasons.map((r) => r.code);

describe('STIR/SHAKEN in the verdict', () => {
  it("without verification, Amazon's own number is warned about (brand-number)", async () => {
    const v = await screen('us-plain', [await identity()]);
    expect(v.verdict).not.toBe('allow');
    expect(v.stir).toBeUndefined();
    expect(codes(v)).not.toContain('stir-passed-A');
  });

  it("a fully attested call from Amazon's number is Amazon's own: stir-passed-A lowers the score below warning", async () => {
    const plain = await screen('us-plain', [await identity()]);
    const v = await screen('us-signed', [await identity()]);
    expect(codes(v)).toEqual(expect.arrayContaining(['brand-number', 'stir-passed-A']));
    expect(v.score).toBeLessThan(plain.score);
    expect(v.verdict).toBe('allow');
    expect(v.stir).toEqual({ result: 'passed-A', origid: 'de305d54-75b4-431b-adb2-eb6b9e546014' });
    expect(v.reasons.find((r) => r.code === 'stir-passed-A')?.text.en).toMatch(/attestation A/);
  });

  it.each(['B', 'C'])('attestation %s is neutral: the brand number is warned about as without it', async (attest) => {
    const plain = await screen('us-plain');
    const v = await screen('us-verify', [await identity({ attest })]);
    expect(codes(v)).toContain(`stir-passed-${attest}`);
    expect(v.score).toBe(plain.score);
    expect(v.verdict).toBe(plain.verdict);
  });

  it('a failed check raises the score and says why, readable by a person', async () => {
    const v = await screen('us-verify', [await identity({ iat: Math.floor(Date.now() / 1000) - 3600 })]);
    const failed = v.reasons.find((r) => r.code === 'stir-failed');
    expect(failed?.score).toBeGreaterThan(0);
    expect(failed?.text.en).toMatch(/verification failed \(time: iat \d+ s before the call/);
    expect(failed?.text.de).toMatch(/fehlgeschlagen \(time:/);
    expect(v.stir).toMatchObject({ result: 'failed-time' });
    const plain = await screen('us-plain');
    expect(v.score).toBeGreaterThan(plain.score);
  });

  it("a signature for another number fails as number, even when the caller's From shows Amazon", async () => {
    const v = await screen('us-verify', [await identity({ orig: '12025550100' })]);
    expect(v.stir).toMatchObject({ result: 'failed-number' });
    expect(codes(v)).toContain('stir-failed');
  });

  it('no Identity counts only where calls are normally signed (expectIdentity): stir-missing', async () => {
    expect(codes(await screen('us-signed'))).toContain('stir-missing');
    const v = await screen('us-verify');
    expect(codes(v)).not.toContain('stir-missing');
    expect(v.stir).toEqual({ result: 'missing' });
  });

  it('a repository that never answers: stir-unverifiable, the screening ends at the budget, never a pass', async () => {
    const started = Date.now();
    const v = await screen('us-signed', [await identity({ path: '/hang.pem' })]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(v.stir).toMatchObject({ result: 'unverifiable' });
    expect(codes(v)).toContain('stir-unverifiable');
    expect(codes(v)).not.toContain('stir-passed-A');
    expect(v.verdict).not.toBe('allow');
  });

  it('the flagged event carries the result; a verdict of before (stir-unsigned) still reads', async () => {
    const v = await screen('us-verify', [await identity({ orig: '12025550100' })]);
    const event = flaggedEvent({ callId: 'sip:stir', source: 'sip', receivedAt: Date.now() }, v);
    expect(flaggedCallEventSchema.parse(event).stir).toMatchObject({ result: 'failed-number' });
    const old = { ...event, reasons: ['brand-number', 'stir-unsigned'] };
    expect(flaggedCallEventSchema.parse(old).reasons).toEqual(['brand-number', 'stir-missing']);
  });

  it('the subscriber’s leg carries verstat on P-Asserted-Identity (ATIS-1000074); a forged one in From goes', async () => {
    const v = await screen('us-signed', [await identity()]);
    const headers: Record<string, string> = {
      From: `<sip:+${AMAZON_US};verstat=TN-Validation-Passed@carrier.example>;tag=x1`,
      'P-Asserted-Identity': `<sip:+${AMAZON_US}@carrier.example;user=phone>`,
    };
    const action = verdictAction({
      verdict: v,
      trunk: { id: 'us-signed', mode: 'route', recordRoute: true, tagPrefix: '' } as never,
      called: `+${CALLED}`,
      routing: { nextHop: 'sip:pbx.example', warningIvrUri: '', blockStatus: 608, blockCallInfo: '' },
      header: (name) => headers[name],
      sign: () => undefined,
    });
    expect(action).toMatchObject({
      kind: 'relay',
      rewritten: {
        'P-Asserted-Identity': `<sip:+${AMAZON_US};verstat=TN-Validation-Passed@carrier.example;user=phone>`,
        From: `<sip:+${AMAZON_US}@carrier.example>;tag=x1`,
      },
    });
    const failed = await screen('us-signed', [await identity({ orig: '12025550100' })]);
    const fAction = verdictAction({
      verdict: { ...failed, verdict: 'allow' },
      trunk: { id: 'us-signed', mode: 'route', recordRoute: true, tagPrefix: '' } as never,
      called: `+${CALLED}`,
      routing: { nextHop: 'sip:pbx.example', warningIvrUri: '', blockStatus: 608, blockCallInfo: '' },
      header: (name) => (name === 'From' ? `"Amazon" <sip:+${AMAZON_US}@carrier.example>;tag=9` : undefined),
      sign: () => undefined,
    });
    expect(fAction).toMatchObject({
      rewritten: { From: `"Amazon" <sip:+${AMAZON_US};verstat=TN-Validation-Failed@carrier.example>;tag=9` },
    });
  });

  it('the ARI app hands the dialplan a P-Asserted-Identity of the verified number with verstat, built from E.164 alone', async () => {
    expect(verstatIdentity(await screen('us-signed', [await identity()]))).toBe(
      `<tel:+${AMAZON_US};verstat=TN-Validation-Passed>`,
    );
    expect(verstatIdentity(await screen('us-verify', [await identity({ orig: '12025550100' })]))).toBe(
      `<tel:+${AMAZON_US};verstat=TN-Validation-Failed>`,
    );
    expect(verstatIdentity(await screen('us-plain', [await identity()]))).toBeUndefined();
  });
});
