import type { ListStore } from '../../services/screening/list-store';
import { guessDigits } from '../../services/screening/normalize';
import { seededScreeningPerFile } from '../support/screening';

/**
 * The engine sends its look-up for the number a quick reading guesses before libphonenumber has parsed the
 * caller; the full reading decides. A wrong guess must cost a second look-up, never a missed list entry.
 */
const file = seededScreeningPerFile();
const DE = { country: 'DE', international: false };

function countLookups(store: ListStore): { digits: (string | undefined)[]; restore(): void } {
  const digits: (string | undefined)[] = [];
  const original = store.lookup.bind(store);
  const spy = jest.spyOn(store, 'lookup').mockImplementation((d, s) => {
    digits.push(d);
    return original(d, s);
  });
  return { digits, restore: () => spy.mockRestore() };
}

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
    const spy = countLookups(file.screening.store);
    try {
      const v = await file.screening.engine.screen({
        from: '"Amazon" <sip:08003638469@carrier.example>',
        to: '030 901820',
        trunk: 'de-national',
      });
      expect(v.verdict).not.toBe('allow');
      expect(spy.digits).toEqual(['498003638469']);
    } finally {
      spy.restore();
    }
  });

  it('looks up the number the full reading gives when the guess was wrong', async () => {
    // "498003638469" is no valid German national number: libphonenumber reads it as +49 800 3638469 (a '+'
    // lost on the way), the quick guess as a national number of Germany; and "+49 (0) 800…" keeps its 0 there
    const spy = countLookups(file.screening.store);
    try {
      const v = await file.screening.engine.screen({ from: '498003638469', trunk: 'de-national' });
      expect(spy.digits).toEqual(['49498003638469', '498003638469']);
      expect(v.caller.e164).toBe('+498003638469');
      expect(v.reasons.map((r) => r.code)).toContain('brand-number');
      expect(v.verdict).not.toBe('allow');
      const bracketed = await file.screening.engine.screen({ from: '+49 (0) 800 3638469', trunk: 'de-national' });
      expect(bracketed.reasons.map((r) => r.code)).toContain('brand-number');
      expect(spy.digits.slice(2)).toEqual(['4908003638469', '498003638469']);
    } finally {
      spy.restore();
    }
  });

  it('looks up every value of a header once, the guessed one included', async () => {
    const spy = countLookups(file.screening.store);
    try {
      const v = await file.screening.engine.screen({
        from: '<sip:+4930123456@carrier.example>',
        assertedIdentity: '<sip:+4930123456@carrier.example>, <tel:+498003638469>',
        trunk: 'de-national',
      });
      expect(v.reasons.map((r) => r.code)).toContain('brand-number');
      expect([...spy.digits].sort()).toEqual(['4930123456', '498003638469']);
    } finally {
      spy.restore();
    }
  });
});
