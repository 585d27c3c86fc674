import type { Config } from '../../services/common/config';
import { calledNumberPolicy, openLogStore, type FlaggedCallRecord, type LogStore } from '../../services/flagged-log';
import { csvHeaderRow, recordsCsv } from '../../services/flagged-log/calls-format';
import { csvOffLoop } from '../../services/flagged-log/sqlite-export';
import { testConfig } from '../support/config';
import { flagged, outcome } from '../support/events';
import { configWithLogStore } from '../support/postgres';

/** The same behaviour from both stores: a real SQLite file and a real PostgreSQL database. */
describe.each(['sqlite', 'postgres'] as const)('%s log store', (kind) => {
  let store: LogStore;
  let config: Config;
  let drop: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    ({ config, drop } = await configWithLogStore(kind, testConfig));
    store = await openLogStore(config);
  });
  afterEach(async () => {
    await store.close();
    await drop?.();
  });

  it('stores an event and reads it back', async () => {
    expect(store.kind).toBe(kind);
    await store.upsert([flagged('call-1')]);
    const record = await store.get('call-1');
    expect(record).toMatchObject({
      callId: 'call-1',
      source: 'ari',
      callerE164: '+18882804331',
      displayName: 'Amazon',
      verdict: 'warn',
      score: 92,
      reasons: ['brand-number', 'brand-name'],
      brand: 'amazon',
      degraded: false,
    });
    expect(record?.called).toMatch(/^h:[0-9a-f]{32}$/);
    expect(record?.called).toBe(calledNumberPolicy(config).apply('+4930901820'));
  });

  it('stores a caller whose text holds NUL characters (PostgreSQL refuses them in text): as U+FFFD, not lost', async () => {
    const event = flagged('call-nul');
    event.caller = {
      raw: 'sip:+18882804331\u0000@x',
      kind: 'number',
      e164: '+18882804331',
      displayName: 'Ama\u0000zon',
    };
    await store.upsert([{ ...event, sipCallId: 'a\u0000b', trunk: 't\u0000' }, flagged('call-after-nul')]);
    expect(await store.get('call-nul')).toMatchObject({
      displayName: 'Ama\ufffdzon',
      callerRaw: 'sip:+18882804331\ufffd@x',
      sipCallId: 'a\ufffdb',
      trunk: 't\ufffd',
    });
    expect(await store.get('call-after-nul')).toBeDefined();
  });

  it('merges the flagged event and the outcome into one record, in either order and batch', async () => {
    await store.upsert([outcome('call-a', 'rejected')]);
    await store.upsert([flagged('call-a', { receivedAt: '2026-11-25T10:00:00.000Z' })]);
    await store.upsert([flagged('call-b', { receivedAt: '2026-11-25T11:00:00.000Z' }), outcome('call-b', 'reported')]);
    for (const id of ['call-a', 'call-b']) {
      const r = await store.get(id);
      expect(r).toMatchObject({ verdict: 'warn', brand: 'amazon', ringMs: 4200, warningMs: 9100, talkMs: 0 });
      expect(r?.endedAt).toBeGreaterThan(0);
    }
    expect((await store.get('call-a'))?.outcome).toBe('rejected');
    expect((await store.get('call-a'))?.receivedAt).toBe(Date.parse('2026-11-25T10:00:00.000Z'));
    // in one batch too, the record keeps the time the call was screened, not when it ended
    expect((await store.get('call-b'))?.receivedAt).toBe(Date.parse('2026-11-25T11:00:00.000Z'));
    expect(await store.count({})).toBe(2);
  });

  it("keeps a SIP front call's source and trunk when the warning IVR adds the outcome, in either order and batch", async () => {
    const sipFlagged = (id: string) => flagged(id, { source: 'sip', trunk: 'carrier-a' });
    await store.upsert([sipFlagged('sip-1')]);
    await store.upsert([outcome('sip-1', 'reported')]);
    await store.upsert([outcome('sip-2', 'accepted')]);
    await store.upsert([sipFlagged('sip-2')]);
    await store.upsert([outcome('sip-3', 'rejected'), sipFlagged('sip-3')]);
    await store.upsert([sipFlagged('sip-4'), outcome('sip-4', 'rejected')]);
    for (const id of ['sip-1', 'sip-2', 'sip-3', 'sip-4'])
      expect(await store.get(id)).toMatchObject({ source: 'sip', trunk: 'carrier-a', verdict: 'warn' });
    expect((await store.get('sip-1'))?.outcome).toBe('reported');
    // a call of the ARI app alone stays its own
    await store.upsert([flagged('ari-1'), outcome('ari-1', 'accepted')]);
    expect((await store.get('ari-1'))?.source).toBe('ari');
  });

  it('keeps one row for the same event stored three times', async () => {
    const event = flagged('call-3x');
    await store.upsert([event]);
    await store.upsert([event, event]);
    expect(await store.count({})).toBe(1);
  });

  it('filters and pages with a cursor, newest first', async () => {
    const base = Date.parse('2026-11-01T00:00:00Z');
    const events = Array.from({ length: 25 }, (_, i) =>
      flagged(`p-${String(i).padStart(2, '0')}`, {
        receivedAt: new Date(base + i * 60000).toISOString(),
        brand: i % 2 ? 'amazon' : 'paypal',
        verdict: i % 5 === 0 ? 'block' : 'warn',
        reasons: i % 3 === 0 ? ['emergency-caller-id'] : ['brand-number'],
        caller: { raw: `+4930${i}`, e164: `+4930${i}`, kind: 'number' },
      }),
    );
    await store.upsert(events);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({ brand: 'amazon' }, { limit: 5, cursor });
      seen.push(...page.records.map((r) => r.callId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(
      events
        .filter((_, i) => i % 2)
        .map((e) => e.callId)
        .reverse(),
    );
    expect(await store.count({ verdict: 'block' })).toBe(5);
    expect(await store.count({ reason: 'emergency-caller-id' })).toBe(9);
    expect(await store.count({ since: base + 10 * 60000, until: base + 20 * 60000 })).toBe(10);
    expect((await store.list({ caller: '+49307' }, { limit: 10 })).records.map((r) => r.callId)).toEqual(['p-07']);
    expect(await store.count({ called: calledNumberPolicy(config).apply('+4930901820') })).toBe(25);
    await expect(store.list({}, { limit: 5, cursor: 'garbage' })).rejects.toThrow('invalid cursor');
  });

  it('counts by time bucket, brand, reason and outcome, and the share of warned calls refused', async () => {
    const base = Date.parse('2026-11-02T00:00:00Z');
    const at = (h: number) => new Date(base + h * 3_600_000 + 60_000).toISOString();
    await store.upsert([
      flagged('s1', { receivedAt: at(0) }),
      outcome('s1', 'accepted'),
      flagged('s2', { receivedAt: at(0) }),
      outcome('s2', 'rejected'),
      flagged('s3', { receivedAt: at(1), brand: 'paypal' }),
      outcome('s3', 'reported'),
      flagged('s4', { receivedAt: at(1), verdict: 'block', reasons: ['emergency-caller-id'], brand: undefined }),
      outcome('s4', 'blocked'),
      flagged('s5', { receivedAt: at(25) }),
    ]);
    const stats = await store.stats({ since: base }, 'hour');
    expect(stats.total).toBe(5);
    expect(stats.overTime).toEqual([
      { bucket: base, warn: 2, block: 0 },
      { bucket: base + 3_600_000, warn: 1, block: 1 },
      { bucket: base + 25 * 3_600_000, warn: 1, block: 0 },
    ]);
    expect(stats.byBrand).toEqual([
      { brand: 'amazon', calls: 3 },
      { brand: 'paypal', calls: 1 },
      { brand: null, calls: 1 },
    ]);
    expect(stats.byReason).toEqual([
      { reason: 'brand-number', calls: 4 },
      { reason: 'brand-name', calls: 4 },
      { reason: 'emergency-caller-id', calls: 1 },
    ]);
    expect(stats.byOutcome).toEqual(
      expect.arrayContaining([
        { outcome: null, calls: 1 },
        { outcome: 'blocked', calls: 1 },
      ]),
    );
    expect(stats.warningEffect).toEqual({
      warned: 4,
      accepted: 1,
      rejected: 1,
      reported: 1,
      reportedAfter: 0,
      rejectedShare: 2 / 3,
      reportedAfterShare: 0,
    });
    // a warned call taken, then reported afterwards (*73): taken for the warning's effect, and reported later
    await store.upsert([flagged('stats-after', { brand: 'paypal', receivedAt: new Date(base + 1000).toISOString() })]);
    await store.upsert([outcome('stats-after', 'accepted')]);
    await store.upsert([outcome('stats-after', 'reported-after')]);
    const after = await store.stats({ since: base }, 'hour');
    expect(after.warningEffect).toMatchObject({
      accepted: 1,
      reportedAfter: 1,
      rejectedShare: 2 / 4,
      reportedAfterShare: 1 / 2,
    });
    const daily = await store.stats({ since: base, brand: 'amazon' }, 'day');
    expect(daily.overTime).toEqual([
      { bucket: base, warn: 2, block: 0 },
      { bucket: base + 86_400_000, warn: 1, block: 0 },
    ]);
  });

  it('purges only records older than the cut-off', async () => {
    const now = Date.now();
    await store.upsert([
      flagged('old', { receivedAt: new Date(now - 91 * 86_400_000).toISOString() }),
      flagged('edge', { receivedAt: new Date(now - 89 * 86_400_000).toISOString() }),
      flagged('new'),
    ]);
    expect(await store.purgeBefore(now - 90 * 86_400_000)).toBe(1);
    expect(await store.get('old')).toBeUndefined();
    expect(await store.get('edge')).toBeDefined();
    expect(await store.get('new')).toBeDefined();
  });

  it('pages, counts and purges a log larger than one slice (25,000 calls, many in the same millisecond) exactly', async () => {
    const base = Date.parse('2026-10-01T00:00:00Z');
    // 25,000 calls in 5,000 distinct milliseconds; every 97th with a rare reason
    const events = Array.from({ length: 25_000 }, (_, i) =>
      flagged(`bulk-${String(i).padStart(5, '0')}`, {
        receivedAt: new Date(base + Math.floor(i / 5) * 1000).toISOString(),
        reasons: i % 97 === 0 ? ['brand-prefix'] : ['brand-number'],
      }),
    );
    for (let i = 0; i < events.length; i += 5000) await store.upsert(events.slice(i, i + 5000));
    const rare = events.filter((_, i) => i % 97 === 0).map((e) => e.callId);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({ reason: 'brand-prefix' }, { limit: 7, ...(cursor ? { cursor } : {}) });
      seen.push(...page.records.map((r) => r.callId));
      cursor = page.nextCursor;
    } while (cursor);
    // newest first: by time received, then call id, both descending
    expect(seen).toEqual([...rare].reverse());
    expect(await store.count({ reason: 'brand-prefix' })).toBe(rare.length);
    expect(await store.count({})).toBe(25_000);
    // everything received before the 3,000th millisecond: 15,000 calls
    expect(await store.purgeBefore(base + 3000 * 1000)).toBe(15_000);
    expect(await store.count({})).toBe(10_000);
  }, 60_000);

  it('exports CSV (SQLite: from a thread of its own) that is the same as its pages, while writes go on', async () => {
    const base = Date.parse('2026-10-01T00:00:00Z');
    const events = Array.from({ length: 4500 }, (_, i) =>
      flagged(`exp-${String(i).padStart(5, '0')}`, {
        receivedAt: new Date(base + i * 1000).toISOString(),
      }),
    );
    await store.upsert(events);
    const texts: string[] = [];
    let records = 0;
    const decoder = new TextDecoder();
    for await (const chunk of store.csv({ brand: 'amazon' })) {
      texts.push(typeof chunk.text === 'string' ? chunk.text : decoder.decode(chunk.text));
      records += chunk.records;
      // the log stays writable while an export reads it
      if (texts.length === 2)
        await store.upsert([flagged('written-during-export', { receivedAt: new Date(base).toISOString() })]);
    }
    const expected = [csvHeaderRow()];
    const all: FlaggedCallRecord[] = [];
    for await (const page of store.pages({ brand: 'amazon' })) all.push(...page);
    expect(records).toBeGreaterThanOrEqual(4500);
    expect(all.length).toBe(records);
    expected.push(recordsCsv(all));
    // compared as a whole (a failure prints where they part, not 4,500 lines)
    const got = texts.join('');
    const want = expected.join('');
    let differsAt = -1;
    for (let i = 0; i < Math.max(got.length, want.length) && differsAt < 0; i++) if (got[i] !== want[i]) differsAt = i;
    expect({ length: got.length, differsAt }).toEqual({ length: want.length, differsAt: -1 });
  }, 60_000);

  it('finds records by the SIP Call-ID and the Asterisk channel they came with; a reused Call-ID is two records', async () => {
    await store.upsert([flagged('sip:own-1', { source: 'sip', sipCallId: 'reused@carrier' })]);
    await store.upsert([flagged('sip:own-2', { source: 'sip', sipCallId: 'reused@carrier' })]);
    // the warning IVR adds its channel to the SIP front's record
    await store.upsert([{ ...outcome('sip:own-2', 'rejected'), source: 'ari', channelId: '1764.42' }]);
    const page = await store.list({ sipCallId: 'reused@carrier' }, { limit: 10 });
    expect(page.records.map((r) => r.callId).sort()).toEqual(['sip:own-1', 'sip:own-2']);
    expect(await store.get('sip:own-2')).toMatchObject({
      sipCallId: 'reused@carrier',
      channelId: '1764.42',
      source: 'sip',
    });
    expect(await store.count({ channelId: '1764.42' })).toBe(1);
  });

  it('keeps the STIR/SHAKEN result, its cause and the signer’s origid; an outcome does not erase them; filtered by result', async () => {
    await store.upsert([
      flagged('stir-1', {
        source: 'sip',
        stir: { result: 'failed-certificate', detail: 'certificate expired', origid: '5f1d7a39-6b4e' },
      }),
      flagged('stir-2', { source: 'sip', stir: { result: 'passed-A', origid: 'a1' } }),
      flagged('stir-3', { source: 'sip' }),
    ]);
    await store.upsert([outcome('stir-1', 'rejected')]);
    expect(await store.get('stir-1')).toMatchObject({
      stir: 'failed-certificate',
      stirDetail: 'certificate expired',
      stirOrigid: '5f1d7a39-6b4e',
      outcome: 'rejected',
    });
    expect((await store.get('stir-3'))?.stir).toBeUndefined();
    const page = await store.list({ stir: 'failed-certificate' }, { limit: 10 });
    expect(page.records.map((r) => r.callId)).toEqual(['stir-1']);
    expect(recordsCsv(page.records)).toContain('failed-certificate,certificate expired,5f1d7a39-6b4e');
  });

  it('migrates idempotently', async () => {
    await store.migrate();
    await store.migrate();
    await store.upsert([flagged('after-migrate')]);
    expect(await store.count({})).toBe(1);
  });
});

it('adds up statistics over more calls than one slice, and lets other work run in between (SQLite)', async () => {
  const config = testConfig();
  const store = await openLogStore(config);
  const base = Date.parse('2026-11-02T00:00:00Z');
  const brands = ['amazon', 'paypal', undefined] as const;
  const events = Array.from({ length: 25_000 }, (_, i) =>
    flagged(`big-${i}`, {
      // 12,000 calls in one millisecond: more than a slice, which must not split them
      receivedAt: new Date(i < 12_000 ? base : base + (i - 12_000) * 1000).toISOString(),
      brand: brands[i % 3],
      ...(i % 5 === 0 ? { verdict: 'block' as const, reasons: ['emergency-caller-id'] } : {}),
    }),
  );
  const outcomes = events.filter((_, i) => i % 2 === 0).map((e) => outcome(e.callId, 'rejected'));
  for (let i = 0; i < events.length; i += 5000) await store.upsert(events.slice(i, i + 5000));
  await store.upsert(outcomes);

  let turns = 0;
  let counting = true;
  const count = (): void => {
    turns++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const stats = await store.stats({}, 'hour');
  counting = false;
  expect(turns).toBeGreaterThan(10); // a query at a time, not all of them in one go

  expect(stats.total).toBe(25_000);
  expect(stats.byBrand).toEqual([
    { brand: 'amazon', calls: 8334 },
    { brand: 'paypal', calls: 8333 },
    { brand: null, calls: 8333 },
  ]);
  expect(stats.byReason).toEqual([
    { reason: 'brand-number', calls: 20_000 },
    { reason: 'brand-name', calls: 20_000 },
    { reason: 'emergency-caller-id', calls: 5000 },
  ]);
  expect(stats.overTime.reduce((n, b) => n + b.warn + b.block, 0)).toBe(25_000);
  expect(stats.overTime[0]).toEqual({ bucket: base, warn: 12_000 + 3600 - 3120, block: 3120 });
  expect(stats.byOutcome).toEqual(expect.arrayContaining([{ outcome: 'rejected', calls: 12_500 }]));
  expect(stats.warningEffect).toMatchObject({ warned: 20_000, rejected: 10_000 });
  // a range that starts and ends inside the log
  const part = await store.stats({ since: base + 1000, until: base + 3_601_000 }, 'day');
  expect(part.total).toBe(3600);
  expect((await store.stats({ since: base + 1000 }, 'day')).total).toBe(12_999);
  expect((await store.stats({ until: base + 1000 }, 'day')).total).toBe(12_001);
  expect((await store.stats({ since: base + 100_000_000 }, 'day')).total).toBe(0);
  await store.close();
});

it('stores called numbers in plain when so configured', async () => {
  const config = testConfig({ flaggedLog: { calledNumbers: 'plain' } });
  const store = await openLogStore(config);
  await store.upsert([flagged('plain-1')]);
  expect((await store.get('plain-1'))?.called).toBe('+4930901820');
  await store.close();
});

it('a slow reader of a SQLite export gets every page, however long after the thread finished reading', async () => {
  const config = testConfig();
  const store = await openLogStore(config);
  try {
    const base = Date.parse('2026-10-01T00:00:00Z');
    await store.upsert(
      Array.from({ length: 5000 }, (_, i) =>
        flagged(`slow-${i}`, { receivedAt: new Date(base + i * 1000).toISOString() }),
      ),
    );
    let records = 0;
    for await (const chunk of store.csv({})) {
      records += chunk.records;
      // the thread has long posted its last pages and its end while this reader still takes the first
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(records).toBe(5000);
  } finally {
    await store.close();
  }
});

it('an export whose thread cannot read the SQLite file ends with an error that says so, not a short file', async () => {
  const chunks = csvOffLoop('/nonexistent/spoofguard/log.sqlite', {});
  expect((await chunks.next()).value).toMatchObject({ records: 0 }); // the header row
  await expect(chunks.next()).rejects.toThrow(
    /CSV export of the SQLite log failed: .*(directory does not exist|unable to open)/,
  );
});
