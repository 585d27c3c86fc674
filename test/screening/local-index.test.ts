import fc from 'fast-check';
import type { Config } from '../../services/common/config';
import { createRedis } from '../../services/common/redis';
import { openListAdmin, openScreening, type ListAdministration, type Screening } from '../../services/screening';
import type { ListEntry } from '../../services/screening/list-entry';
import { ListKeys } from '../../services/screening/list-keys';
import { ListStore } from '../../services/screening/list-store';
import { NumberIndex } from '../../services/screening/number-index';
import { seedEntries } from '../../services/screening/seed';
import type { ScreeningRequest, Verdict } from '../../services/screening/verdict';
import { quietLogger, testConfig } from '../support/config';
import { dropPrefix, freePort, PrivateRedis } from '../support/redis';
import { until } from '../support/events';
import { listEntry } from '../support/screening';

const entry = (kind: ListEntry['kind'], value: string, extra: Partial<ListEntry> = {}): ListEntry =>
  listEntry(kind, value, { brand: 'paypal', ...extra });

/** Globally allowlisted numbers (on no other list). */
const ALLOWED = ['4930901999', '4917099990000'];
/** The injected clock's lead over the real one: expiry is tested by moving it, never by sleeping. */
let skew = 0;
const clock = (): number => Date.now() + skew;

/** Listed numbers of the test lists: German mobile numbers 49151 0000 0000 + 7·i. */
const LISTED = Array.from({ length: 3000 }, (_, i) => String(4915100000000 + 7 * i));

describe('NumberIndex', () => {
  it('answers exactly as a map of the same numbers, changes in place applied in order (property)', () => {
    const number = fc.integer({ min: 1, max: 999_999_999_999_999 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(number, fc.integer({ min: 1, max: 2 ** 32 - 1 })), { maxLength: 300 }),
        fc.array(fc.tuple(number, fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined })), {
          maxLength: 30,
        }),
        fc.array(number, { maxLength: 50 }),
        (listed, changes, probes) => {
          const unique = new Map(listed);
          const index = NumberIndex.build(1, Float64Array.from(unique.keys()), Uint32Array.from(unique.values()), 0);
          index.catchUp(changes.map(([n, id]) => `${n}:${id ?? ''}`));
          const expected = new Map(unique);
          for (const [n, id] of changes) {
            if (id === undefined) expected.delete(n);
            else expected.set(n, id);
          }
          for (const n of [...probes, ...unique.keys(), ...changes.map(([c]) => c)])
            expect(index.get(String(n))).toBe(expected.get(n));
          expect(index.logOffset).toBe(changes.length);
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});

describe('screening from the local number index', () => {
  let config: Config;
  let lists: ListAdministration;
  let screening: Screening;

  beforeEach(async () => {
    config = testConfig();
    lists = await openListAdmin(config, quietLogger());
    await lists.admin.import([
      ...seedEntries(lists.brands),
      ...LISTED.map((n) => entry('number', n)),
      ...ALLOWED.map((n) => entry('allow', n)),
    ]);
    skew = 0;
    screening = await openScreening(config, quietLogger(), undefined, { clock });
    expect(await screening.store.whenIndexed()).toBe(true);
  });
  afterEach(async () => {
    await screening.close();
    await lists.close();
    await dropPrefix(config.redis.keyPrefix);
  });

  /** The process has the version the admin wrote last (its change notice came in). */
  const settled = async (): Promise<void> => {
    const { version } = await lists.admin.state();
    await until(() => screening.store.cachedVersion === version);
  };

  const comparable = (v: Verdict): object => ({
    verdict: v.verdict,
    score: v.score,
    brand: v.brand,
    codes: v.reasons.map((r) => `${r.code}${r.suppressed ? ' (suppressed)' : ''}`),
    caller: v.caller,
    degraded: v.degraded,
  });

  it('gives every call the verdict Redis gives it, and answers calls from numbers on no list in process', async () => {
    // a second engine on the same lists that asks Redis for every call
    const redisOnly = await openScreening(
      testConfig({ redis: { keyPrefix: config.redis.keyPrefix }, screening: { localIndexMaxAgeMs: 0 } }),
      quietLogger(),
    );
    try {
      const caller = fc.oneof(
        fc.constantFrom(...LISTED.slice(0, 50)).map((n) => `+${n}`),
        fc.constantFrom(...ALLOWED).map((n) => `+${n}`),
        fc.constantFrom('+18882804331', '+498003638469', '08003638469', '110', '+49 30 901820'),
        fc.integer({ min: 1_000_000, max: 99_999_999 }).map((n) => `+4930${n}`),
        fc.integer({ min: 1_000_000, max: 9_999_999 }).map((n) => `0171${n}`),
        fc.integer({ min: 0, max: 9_999_999 }).map((n) => `+1212${String(n).padStart(7, '0')}`),
      );
      const name = fc.constantFrom(undefined, 'Erika Mustermann', 'Amazon', 'AMAZON-Service', 'Amazonas Reisen');
      const before = screening.engine.localScreenings;
      await fc.assert(
        fc.asyncProperty(caller, name, fc.constantFrom('de-national', 'de-international'), async (from, n, trunk) => {
          const request: ScreeningRequest = { from, to: '+4930901820', trunk, ...(n ? { name: n } : {}) };
          const [local, remote] = await Promise.all([
            screening.engine.screen(request),
            redisOnly.engine.screen(request),
          ]);
          expect(comparable(local)).toEqual(comparable(remote));
        }),
        { seed: 7, numRuns: 400 },
      );
      expect(redisOnly.engine.localScreenings).toBe(0);
      expect(redisOnly.store.cachedAnswers).toBe(0);
      expect(screening.engine.localScreenings - before).toBeGreaterThan(50);
      // listed callers seen before were answered from this version's cached answers
      expect(screening.store.cachedAnswers).toBeGreaterThan(20);
    } finally {
      await redisOnly.close();
    }
  });

  it('follows numbers and prefixes added and removed in place, and a replacing import', async () => {
    const screen = (from: string): Promise<Verdict> => screening.engine.screen({ from, trunk: 'de-national' });
    const fresh = '+4930555123456';
    expect((await screen(fresh)).verdict).toBe('allow');
    const local = screening.engine.localScreenings;
    expect(local).toBeGreaterThan(0);

    let version = await lists.admin.add([entry('number', '4930555123456', { brand: 'paypal' })]);
    // the change reaches the process with its notice (another connection: not necessarily before the reply)
    await until(() => screening.store.cachedVersion === version);
    expect((await screen(fresh)).verdict).toBe('warn');
    expect(screening.store.localLookup(['4930555123456'])).toBeUndefined();

    version = await lists.admin.add([entry('prefix', '4930777', { brand: 'paypal', label: 'range' })]);
    await until(() => screening.store.cachedVersion === version);
    expect(codes(await screen('+493077712345'))).toContain('brand-prefix');

    expect(await lists.admin.remove('number', '4930555123456')).toBe(true);
    await until(async () => (await screen(fresh)).verdict === 'allow');

    // an import makes a new generation: the index is read again, and numbers dropped from the lists are clean
    await lists.admin.import([...seedEntries(lists.brands), entry('number', '4930666000111', { brand: 'paypal' })], {
      replace: { kinds: ['number', 'prefix', 'name'] },
    });
    expect(await screening.store.whenIndexed()).toBe(true);
    expect((await screen('+4930666000111')).verdict).toBe('warn');
    const beforeDropped = screening.engine.localScreenings;
    expect((await screen(`+${LISTED[10]}`)).verdict).toBe('allow');
    expect(screening.engine.localScreenings).toBe(beforeDropped + 1);
    expect((await screen('+493077712345')).verdict).toBe('allow');
  });

  it('answers a repeat caller from the cached answers, and follows subscriber-record changes at once', async () => {
    const amazon = { from: '+18882804331', to: '+4930901820', trunk: 'de-international' };
    expect((await screening.engine.screen(amazon)).verdict).toBe('warn');
    const cached = screening.store.cachedAnswers;
    expect((await screening.engine.screen(amazon)).verdict).toBe('warn');
    expect(screening.store.cachedAnswers).toBe(cached + 1);

    // a brand allowance that expires: the cached record is judged at the moment of the call
    await lists.admin.allowForSubscriber('4930901820', 'brand:amazon', Date.now() + 60_000);
    await settled();
    const allowed = await screening.engine.screen(amazon);
    expect(allowed.verdict).toBe('allow');
    expect(codes(allowed)).toContain('subscriber-allowlisted');
    expect((await screening.engine.screen(amazon)).verdict).toBe('allow');
    expect(screening.store.cachedAnswers).toBeGreaterThan(cached + 1);
    skew = 60_001;
    expect((await screening.engine.screen(amazon)).verdict).toBe('warn');

    await lists.admin.setSubscriberPreferences('4930901820', { warnings: false, language: 'en' });
    await settled();
    const off = await screening.engine.screen(amazon);
    expect(off).toMatchObject({ verdict: 'allow', warningsOff: true, language: 'en' });
    await lists.admin.setSubscriberPreferences('4930901820', { warnings: true });
    await settled();
    expect((await screening.engine.screen(amazon)).verdict).toBe('warn');
    // another subscriber was never affected
    expect((await screening.engine.screen({ ...amazon, to: '+4930901899' })).verdict).toBe('warn');
  });

  it('a process that misses change notices stops answering from its index within its max age', async () => {
    // a store with no pub/sub connection: it learns of changes only from look-ups and its poll
    const redis = createRedis(config.redis, 'call-path');
    const store = new ListStore(redis, new ListKeys(config.redis.keyPrefix), quietLogger(), undefined, {
      localIndexMaxAgeMs: 300,
    });
    try {
      await store.start();
      expect(await store.whenIndexed()).toBe(true);
      expect(store.localLookup(['4930888000111'])).toBeDefined();
      await lists.admin.add([entry('number', '4930888000111')]);
      const added = Date.now();
      await until(() => store.localLookup(['4930888000111']) === undefined);
      expect(Date.now() - added).toBeLessThan(1000);
      // caught up from the additions log, the index answers again, for every other number
      await until(() => store.localLookup(['4930888000112']) !== undefined);
      expect(store.localLookup(['4930888000111'])).toBeUndefined();
    } finally {
      await store.stop();
      redis.disconnect();
    }
  });

  it('with Redis gone, calls go degraded (fail open) once the cache is too old to vouch for the lists', async () => {
    const privateRedis = new PrivateRedis(await freePort());
    await privateRedis.start();
    const own = testConfig({ redis: { url: privateRedis.url }, screening: { localIndexMaxAgeMs: 300 } });
    const admin = await openListAdmin(own, quietLogger());
    const engine = await openScreening(own, quietLogger());
    try {
      await admin.admin.import(seedEntries(admin.brands));
      await until(() => engine.store.localLookup(['4930901820']) !== undefined);
      const amazon = { from: '+18882804331', to: '+4930901820', trunk: 'de-international' };
      expect((await engine.engine.screen({ from: '+4930901820' })).degraded).toBe(false);
      expect((await engine.engine.screen(amazon)).verdict).toBe('warn');
      await privateRedis.stop();
      const stopped = Date.now();
      // answers of the last moments still serve: the repeat caller is warned, not let through degraded
      expect(await engine.engine.screen(amazon)).toMatchObject({ verdict: 'warn', degraded: false });
      await until(async () => (await engine.engine.screen({ from: '+4930901820' })).degraded, 2000);
      expect(await engine.engine.screen(amazon)).toMatchObject({ verdict: 'allow', degraded: true });
      // never longer than the max age (300 ms) and the poll that finds Redis gone
      expect(Date.now() - stopped).toBeLessThan(1000);
      // a caller never seen is asked of Redis: degraded at once
      expect((await engine.engine.screen({ from: '+18882804332', to: '+4930901820' })).degraded).toBe(true);
    } finally {
      await engine.close();
      await admin.close();
      await privateRedis.stop();
    }
  });
});

const codes = (v: Verdict): string[] => v.reasons.filter((r) => !r.suppressed).map((r) => r.code);
