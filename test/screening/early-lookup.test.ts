import type { ScreeningRequest, Verdict } from '../../services/screening/verdict';
import { guessDigits } from '../../services/screening/normalize';
import { seededScreeningPerFile } from '../support/screening';

/**
 * Where Redis answers every look-up (no local index, or one not current), the engine sends its look-up for
 * the number a quick reading guesses before libphonenumber has parsed the caller; the full reading decides.
 * A wrong guess must cost a second look-up, never a missed list entry. With a current index it guesses nothing.
 */
const file = seededScreeningPerFile({ screening: { localIndexMaxAgeMs: 0 } });
const indexed = seededScreeningPerFile();
const DE = { country: 'DE', international: false };

/** Screens the requests one after another; returns their verdicts and the digits of every look-up they cost. */
async function screenCounting(...requests: ScreeningRequest[]): Promise<{ verdicts: Verdict[]; digits: string[] }> {
  return screenCountingOn(file, ...requests);
}

async function screenCountingOn(
  on: typeof file,
  ...requests: ScreeningRequest[]
): Promise<{ verdicts: Verdict[]; digits: string[] }> {
  const store = on.screening.store;
  const digits: string[] = [];
  const original = store.lookup.bind(store);
  const spy = jest.spyOn(store, 'lookup').mockImplementation((d, s) => {
    digits.push(d ?? '');
    return original(d, s);
  });
  try {
    const verdicts: Verdict[] = [];
    for (const request of requests) verdicts.push(await on.screening.engine.screen(request));
    return { verdicts, digits };
  } finally {
    spy.mockRestore();
  }
}

const codes = (v: Verdict): string[] => v.reasons.map((r) => r.code);

describe('the early look-up', () => {
  it('guesses the digits of the usual forms as libphonenumber reads them', () => {
    expect(guessDigits('<sip:+498003638469@carrier.example;user=phone>', DE)).toBe('498003638469');
    expect(guessDigits('"Amazon" <sip:0800-363-8469@carrier.example>', DE)).toBe('498003638469');
    expect(guessDigits('<sip:8003638469;phone-context=+49@carrier.example>', DE)).toBe('498003638469');
    expect(guessDigits('tel:+1-888-280-4331', DE)).toBe('18882804331');
    expect(guessDigits('00498003638469', DE)).toBe('498003638469');
    expect(guessDigits('18882804331', { country: 'DE', international: true })).toBe('18882804331');
    expect(guessDigits('<sip:anonymous@anonymous.invalid>', DE)).toBeUndefined();
  });

  it('costs one look-up when the guess is right', async () => {
    const { verdicts, digits } = await screenCounting({
      from: '"Amazon" <sip:08003638469@carrier.example>',
      to: '030 901820',
      trunk: 'de-national',
    });
    expect(verdicts[0].verdict).not.toBe('allow');
    expect(digits).toEqual(['498003638469']);
  });

  it('looks up the number the full reading gives when the guess was wrong', async () => {
    // "498003638469" is no valid German national number: libphonenumber reads it as +49 800 3638469 (a '+'
    // lost on the way), the quick guess as a national number of Germany; and "+49 (0) 800…" keeps its 0 there
    const { verdicts, digits } = await screenCounting(
      { from: '498003638469', trunk: 'de-national' },
      { from: '+49 (0) 800 3638469', trunk: 'de-national' },
    );
    expect(digits).toEqual(['49498003638469', '498003638469', '4908003638469', '498003638469']);
    expect(verdicts[0].caller.e164).toBe('+498003638469');
    for (const v of verdicts) {
      expect(codes(v)).toContain('brand-number');
      expect(v.verdict).not.toBe('allow');
    }
  });

  it('with a current local index: guesses nothing, a clean caller costs no look-up, a listed one the parsed number', async () => {
    await indexed.screening.store.whenIndexed(5000);
    expect(indexed.screening.store.localIndexCurrent()).toBe(true);
    const { verdicts, digits } = await screenCountingOn(
      indexed,
      { from: '<sip:+4930123456@carrier.example>', to: '030 901820', trunk: 'de-national' },
      { from: '498003638469', trunk: 'de-national' },
    );
    expect(verdicts[0].verdict).toBe('allow');
    expect(codes(verdicts[1])).toContain('brand-number');
    expect(digits).toEqual(['498003638469']);
  });

  it('looks up every value of a header once, the guessed one included', async () => {
    const { verdicts, digits } = await screenCounting({
      from: '<sip:+4930123456@carrier.example>',
      assertedIdentity: '<sip:+4930123456@carrier.example>, <tel:+498003638469>',
      trunk: 'de-national',
    });
    expect(codes(verdicts[0])).toContain('brand-number');
    expect(digits.sort()).toEqual(['4930123456', '498003638469']);
  });
});
