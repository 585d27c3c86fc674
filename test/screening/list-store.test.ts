import IORedis from 'ioredis';
import type { Config } from '../../services/common/config';
import { openListAdmin, openScreening, type ListAdministration, type Screening } from '../../services/screening';
import type { ListEntry } from '../../services/screening/list-entry';
import { keyPart } from '../../services/screening/list-keys';
import { seedEntries } from '../../services/screening/seed';
import { quietLogger, REDIS_URL, testConfig } from '../support/config';
import { dropPrefix, freePort, PrivateRedis } from '../support/redis';
import { until } from '../support/events';
import { listEntry } from '../support/screening';

let config: Config;
let screening: Screening;
let lists: ListAdministration;

const entry = listEntry;
/** The injected clock's lead over the real one: expiry is tested by moving it, never by sleeping. */
let skew = 0;
const clock = (): number => Date.now() + skew;

beforeEach(async () => {
  skew = 0;
  config = testConfig();
  lists = await openListAdmin(config, quietLogger(), { clock });
  await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
  screening = await openScreening(config, quietLogger(), undefined, { clock });
});
afterEach(async () => {
  await screening.close();
  await lists.close();
  await dropPrefix(config.redis.keyPrefix);
});

const codes = (v: { reasons: { code: string; suppressed?: boolean }[] }): string[] =>
  v.reasons.filter((r) => !r.suppressed).map((r) => r.code);

describe('list CRUD', () => {
  it('adds, shows and removes a number', async () => {
    const from = '+4930901820';
    expect((await screening.engine.screen({ from })).verdict).toBe('allow');
    await lists.admin.add([
      entry('number', '4930901820', {
        brand: 'paypal',
        reason: 'PayPal never calls about your account.',
        label: 'fake support',
      }),
    ]);
    const flagged = await screening.engine.screen({ from });
    expect(codes(flagged)).toContain('brand-number');
    expect(flagged.brand).toBe('paypal');
    expect(flagged.reasons[0].text.en).toContain('Paypal');
    expect(flagged.reasons[0].text.en).toContain('PayPal never calls about your account.');

    const shown: ListEntry[] = [];
    for await (const e of lists.admin.entries(['number'])) shown.push(e);
    expect(shown.find((e) => e.value === '4930901820')).toMatchObject({
      brand: 'paypal',
      label: 'fake support',
      source: 'test',
    });

    expect(await lists.admin.remove('number', '4930901820')).toBe(true);
    expect(await lists.admin.remove('number', '4930901820')).toBe(false);
    expect((await screening.engine.screen({ from })).verdict).toBe('allow');
  });

  it('lets the longest prefix win', async () => {
    await lists.admin.add([
      entry('prefix', '49900', { brand: 'generic', label: 'premium rate' }),
      entry('prefix', '4990012', { brand: 'amazon', label: 'Amazon range' }),
    ]);
    const long = await screening.engine.screen({ from: '+49900123456' });
    expect(long.reasons.find((r) => r.code === 'brand-prefix')).toMatchObject({ brand: 'amazon' });
    const short = await screening.engine.screen({ from: '+49900999999' });
    expect(short.reasons.find((r) => r.code === 'brand-prefix')).toMatchObject({ brand: 'generic' });
    expect((await screening.engine.screen({ from: '+4930901820' })).reasons).toEqual([]);
  });

  it('stops counting an entry once it expired', async () => {
    await lists.admin.add([entry('number', '4930901821', { brand: 'amazon', expiresAt: Date.now() + 60_000 })]);
    expect(codes(await screening.engine.screen({ from: '+4930901821' }))).toContain('brand-number');
    skew = 60_001;
    expect((await screening.engine.screen({ from: '+4930901821' })).reasons).toEqual([]);
    const purged = await lists.admin.purgeExpired();
    const values: string[] = [];
    for await (const e of lists.admin.entries(['number'])) values.push(e.value);
    expect(values).not.toContain('4930901821');
    expect(purged.kept).toBeGreaterThan(0);
  });

  it('matches name patterns with look-alike letters, and removes them', async () => {
    for (const name of ['AMAZ0N', 'A m a z o n', 'Amazоn' /* Cyrillic о */, 'amazon.de Kundenservice', 'AMZN Mktp']) {
      expect(codes(await screening.engine.screen({ from: '+4930901820', name }))).toContain('brand-name');
    }
    expect(codes(await screening.engine.screen({ from: '+4930901820', name: 'Amanda Zonk' }))).not.toContain(
      'brand-name',
    );
    await lists.admin.add([entry('name', 'Pay Pal', { brand: 'paypal', match: 'contains' })]);
    expect((await screening.engine.screen({ from: '+4930901820', name: 'PAYPAL Sicherheit' })).brand).toBe('paypal');
    expect(await lists.admin.remove('name', 'paypal')).toBe(true);
    expect((await screening.engine.screen({ from: '+4930901820', name: 'PAYPAL Sicherheit' })).reasons).toEqual([]);
  });
});

describe('allowlists', () => {
  const amazon = '+18882804331';
  const subscriber = '+4930901820';

  it('a per-subscriber allowlisted number beats a brand match, for that subscriber only', async () => {
    await lists.admin.allowForSubscriber('4930901820', '18882804331');
    const allowed = await screening.engine.screen({ from: amazon, name: 'Amazon', to: subscriber });
    expect(allowed.verdict).toBe('allow');
    expect(allowed.score).toBe(0);
    expect(allowed.reasons[0].code).toBe('subscriber-allowlisted');
    expect(allowed.reasons.find((r) => r.code === 'brand-number')?.suppressed).toBe(true);
    expect((await screening.engine.screen({ from: amazon, to: '+4930901899' })).verdict).toBe('warn');
  });

  it('a temporary brand allowance ("I expect a call from Amazon today") expires', async () => {
    await lists.admin.allowForSubscriber('4930901820', 'brand:amazon', Date.now() + 60_000);
    const allowed = await screening.engine.screen({ from: amazon, to: subscriber });
    expect(allowed.verdict).toBe('allow');
    expect(allowed.reasons[0].text.en).toBe('You allowed calls from Amazon.');
    // a police number is not covered by allowing Amazon
    expect((await screening.engine.screen({ from: '110', to: subscriber, trunk: 'de-national' })).verdict).toBe(
      'block',
    );
    skew = 60_001;
    expect((await screening.engine.screen({ from: amazon, to: subscriber })).verdict).toBe('warn');
  });

  it('the global allowlist beats a brand match', async () => {
    await lists.admin.add([entry('allow', '18882804331', { source: 'confirmed call-back line' })]);
    const v = await screening.engine.screen({ from: amazon, name: 'Amazon' });
    expect(v.verdict).toBe('allow');
    expect(v.reasons[0].text.en).toBe('The number is on the allowlist (confirmed call-back line).');
  });

  it('a subscriber who turned warnings off gets warned calls through, blocked ones still blocked', async () => {
    await lists.admin.setSubscriberPreferences('4930901820', { warnings: false, language: 'en' });
    const v = await screening.engine.screen({ from: amazon, to: subscriber });
    expect(v).toMatchObject({ verdict: 'allow', warningsOff: true, language: 'en' });
    expect((await screening.engine.screen({ from: '110', to: subscriber, trunk: 'de-national' })).verdict).toBe(
      'block',
    );
  });

  it('escapes untrusted text before it becomes part of a key', async () => {
    expect(keyPart('4930901820')).toBe('4930901820');
    expect(keyPart('*:{evil}\r\nFLUSHALL')).toMatch(/^~[0-9a-f]+$/);
    const v = await screening.engine.screen({ from: amazon, to: 'sip:*:{x}@evil' });
    expect(v.verdict).toBe('warn');
  });
});

describe('bulk import', () => {
  it('is atomic: a reader during a replace import sees the old list or the new one, never a mix', async () => {
    const N = 20000;
    const oldNumbers = Array.from({ length: N }, (_, i) =>
      entry('number', String(4930100000000 + i * 7), { brand: 'old', origin: 'import' }),
    );
    const newNumbers = Array.from({ length: N }, (_, i) =>
      entry('number', String(4940100000000 + i * 7), { brand: 'new', origin: 'import' }),
    );
    await lists.admin.import(oldNumbers, { replace: { kinds: ['number'] } });
    const before = (await lists.admin.state()).version;

    let importing = true;
    let timedOut = 0;
    const seen: { version: number; oldHit: boolean; newHit: boolean }[] = [];
    const reader = (async () => {
      let i = 0;
      while (importing) {
        // answered in process (the local index), a look-up settles at once: yield to I/O as calls arriving do
        await new Promise((r) => setImmediate(r));
        const k = (i++ * 997) % N;
        try {
          const [a, b] = await Promise.all([
            screening.store.lookup(oldNumbers[k].value, undefined),
            screening.store.lookup(newNumbers[k].value, undefined),
          ]);
          // both look-ups read one generation each; pair them only when they read the same version
          if (a.version === b.version) seen.push({ version: a.version, oldHit: !!a.exact, newHit: !!b.exact });
        } catch {
          // the importer shares this process and keeps its event loop busy: a late answer fails open
          timedOut++;
        }
      }
    })();
    const result = await lists.admin.import(newNumbers, { replace: { kinds: ['number'] } });
    importing = false;
    await reader;

    expect(result.version).toBe(before + 1);
    expect(seen.length).toBeGreaterThan(10);
    expect(timedOut).toBeLessThan(seen.length);
    for (const s of seen) {
      if (s.version === before) expect(s).toMatchObject({ oldHit: true, newHit: false });
      else expect(s).toMatchObject({ version: result.version, oldHit: false, newHit: true });
    }
    expect(seen.some((s) => s.version === before)).toBe(true);
    // the old generation's keys are gone: nothing leaks
    const redis = new IORedis(REDIS_URL);
    const state = await lists.admin.state();
    const [, keys] = await redis.scan('0', 'MATCH', `{${config.redis.keyPrefix}lists}:n:*`, 'COUNT', 100000);
    redis.disconnect();
    expect(keys.every((k) => k.includes(`:n:${state.gen}:`))).toBe(true);
  });

  it('merges by default and keeps seeded entries; seeding again is idempotent', async () => {
    await lists.admin.import([entry('number', '4930901822', { brand: 'amazon', origin: 'import' })]);
    const count = async (): Promise<number> => {
      let n = 0;
      for await (const _ of lists.admin.entries()) n++;
      return n;
    };
    const afterImport = await count();
    expect(codes(await screening.engine.screen({ from: '+18882804331' }))).toContain('brand-number');
    expect(codes(await screening.engine.screen({ from: '+4930901822' }))).toContain('brand-number');
    await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
    await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
    expect(await count()).toBe(afterImport);
  });

  it('stores numbers compactly (listpack buckets, at most 16 bytes a number)', async () => {
    const N = 50000;
    const numbers = Array.from({ length: N }, (_, i) =>
      entry('number', String(4915100000000 + i * 13), { brand: 'bulk', origin: 'import' }),
    );
    await lists.admin.import(numbers, { replace: { kinds: ['number'] } });
    const state = await lists.admin.state();
    const redis = new IORedis(REDIS_URL);
    let bytes = 0;
    const encodings = new Set<string>();
    for (let b = 0; b < state.buckets; b++) {
      const key = `{${config.redis.keyPrefix}lists}:n:${state.gen}:${b}`;
      bytes += (await redis.memory('USAGE', key)) ?? 0;
      if (b % 50 === 0) encodings.add(String(await redis.object('ENCODING', key)));
    }
    redis.disconnect();
    expect([...encodings]).toEqual(['listpack']);
    expect(bytes / N).toBeLessThanOrEqual(16);
  });
});

describe('change notification', () => {
  it('an engine started while Redis is away starts at once (fail open) and follows list changes once Redis is back', async () => {
    const redis = new PrivateRedis(await freePort());
    const away = testConfig({ redis: { url: redis.url } });
    const late = await openScreening(away, quietLogger());
    try {
      expect((await late.engine.screen({ from: '+18882804331' })).degraded).toBe(true);
      await redis.start();
      const admin = await openListAdmin(away, quietLogger());
      try {
        // the SUBSCRIBE that waited for Redis went out: a change made now reaches the engine
        await until(async () => {
          await admin.admin.add([entry('name', 'Sparkasse', { brand: 'sparkasse', match: 'contains' })]);
          return late.store.cachedNames.match('SPARKASSE Hotline')?.brand === 'sparkasse';
        }, 10_000);
      } finally {
        await admin.close();
      }
    } finally {
      await late.close();
      await redis.stop();
    }
  });

  it('refreshes a second engine instance without a restart', async () => {
    const second = await openScreening(config, quietLogger());
    try {
      const before = second.store.cachedVersion;
      const version = await lists.admin.add([
        entry('name', 'Deutsche Bank', { brand: 'deutsche-bank', match: 'contains' }),
      ]);
      await until(() => second.store.cachedVersion === version);
      expect(second.store.cachedVersion).toBeGreaterThan(before);
      expect(second.store.cachedNames.match('DEUTSCHE BANK Sicherheit')?.brand).toBe('deutsche-bank');
    } finally {
      await second.close();
    }
  });

  it('entries added one by one with the same meta share one meta record; processes never load the meta hash', async () => {
    const redis = new IORedis(REDIS_URL);
    try {
      const gen = (await lists.admin.state()).gen;
      const metaKey = `{${config.redis.keyPrefix}lists}:meta:${gen}`;
      const before = await redis.hlen(metaKey);
      const meta = { brand: 'paypal', reason: 'PayPal never calls about your account.', addedAt: 1_764_000_000_000 };
      for (let i = 0; i < 50; i++) await lists.admin.add([entry('number', `49301234${1000 + i}`, meta)]);
      // fifty analysts' additions of one kind: one record, not fifty
      expect(await redis.hlen(metaKey)).toBe(before + 1);
      // and each number still screens with it, right after the change
      const flagged = await screening.engine.screen({ from: '+493012341049' });
      expect(flagged.brand).toBe('paypal');
      // what a list change makes a call-handling process read: the names and the version, no meta records
      // MONITOR on a Redis other test files are busy with: ioredis may lose step with the feed as MONITOR starts
      // ("Command queue state error"); such a watch saw not every command and is done again
      let commands: string[] = [];
      for (let attempt = 1; ; attempt++) {
        const monitor = await redis.monitor();
        const seen: string[] = [];
        let broken: Error | undefined;
        monitor.on('error', (err: Error) => (broken = err));
        monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.join(' ')));
        await lists.admin.add([entry('number', `49301234999${attempt}`, meta)]);
        const changed = (await lists.admin.state()).version;
        // the process has read the change once it serves its version: every command of that refresh was sent
        await until(
          () =>
            broken !== undefined || (screening.store.cachedVersion >= changed && seen.some((c) => /:names:/.test(c))),
        );
        monitor.disconnect();
        if (!broken) {
          commands = seen;
          break;
        }
        if (attempt >= 3) throw new Error(`MONITOR broke three times: ${(broken as Error).message}`);
      }
      // MONITOR sees every test file's commands: only this test's key prefix counts
      const ours = `{${config.redis.keyPrefix}lists}:meta:`;
      expect(commands.filter((c) => /^HGETALL /i.test(c) && c.includes(ours))).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
