import { openListAdmin } from '../../services/screening';
import { quietLogger } from '../support/config';
import { flagged, until } from '../support/events';
import { type ConsoleHarness, seedEvents, startConsoleHarness } from './harness';

let h: ConsoleHarness;
afterEach(async () => {
  await h?.close();
});

interface Operation {
  method: string;
  path: string;
  role?: string;
}

async function operations(): Promise<Operation[]> {
  const doc = (await (await h.call('/openapi.json', { as: 'none' })).json()) as {
    paths: Record<string, Record<string, { 'x-role'?: string }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path: path.replace('{callId}', 'seed-001').replace('{number}', '%2B4930901820'),
      ...(op['x-role'] ? { role: op['x-role'] } : {}),
    })),
  );
}

describe('every endpoint’s auth', () => {
  it('401 without a token or with an unknown one, 403 with the wrong role, through with the right one', async () => {
    h = await startConsoleHarness('sqlite', { console: { publicOps: false } });
    await h.store.upsert(seedEvents());
    const ops = await operations();
    expect(ops.length).toBeGreaterThanOrEqual(16);
    for (const op of ops) {
      const what = `${op.method} ${op.path}`;
      if (!op.role) {
        expect([what, (await h.call(op.path, { as: 'none', method: op.method })).status]).toEqual([what, 200]);
        continue;
      }
      const none = await h.call(op.path, { as: 'none', method: op.method });
      expect([what, none.status]).toEqual([what, 401]);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect([what, (await h.call(op.path, { as: 'Bearer not-a-known-token', method: op.method })).status]).toEqual([
        what,
        401,
      ]);
      const analyst = await h.call(op.path, { as: 'analyst', method: op.method });
      if (op.role === 'admin') expect([what, analyst.status]).toEqual([what, 403]);
      // past authentication: answered, or refused for its missing body or path (400, 404), never 401/403
      else expect([what, analyst.status < 400 || [400, 404].includes(analyst.status)]).toEqual([what, true]);
      const admin = await h.call(op.path, { as: 'admin', method: op.method });
      expect([what, [401, 403].includes(admin.status) || admin.status >= 500]).toEqual([what, false]);
    }
  });

  it('serves /metrics without a token only with console.publicOps, health always, and the dashboard page', async () => {
    h = await startConsoleHarness();
    // publicOps is off by default: metrics tell who calls whom how often
    expect((await h.call('/metrics', { as: 'none' })).status).toBe(401);
    await h.close();
    h = await startConsoleHarness('sqlite', { console: { publicOps: true } });
    const metrics = await h.call('/metrics', { as: 'none' });
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    for (const name of [
      'spoofguard_screenings_total',
      'spoofguard_screening_duration_seconds',
      'spoofguard_screenings_degraded_total',
      'spoofguard_queue_waiting',
      'spoofguard_queue_failed',
      'spoofguard_call_outcomes_total',
    ])
      expect(text).toContain(name);
    expect(await (await h.call('/health/ready', { as: 'none' })).json()).toEqual({
      ok: true,
      checks: { redis: 'ok', 'log store': 'ok' },
    });
    expect(await (await h.call('/health/live', { as: 'none' })).json()).toEqual({ ok: true });
    const page = await h.call('/', { as: 'none' });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<title>spoofguard console</title>');
  });

  it('limits requests per token per minute (429 with Retry-After)', async () => {
    h = await startConsoleHarness('sqlite', { console: { rateLimitPerMinute: 5 } });
    for (let i = 0; i < 5; i++) expect((await h.call('/api/whoami')).status).toBe(200);
    const limited = await h.call('/api/whoami');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // another token has its own budget
    expect((await h.call('/api/whoami', { as: 'admin' })).status).toBe(200);
  });
});

describe('validation', () => {
  it('answers 400 naming the field for bad query strings, bodies, and cursors; 413 for large bodies', async () => {
    h = await startConsoleHarness('sqlite', { console: { bodyLimitBytes: 2048 } });
    const issues = async (res: Response) => ({
      status: res.status,
      body: (await res.json()) as { issues?: unknown[] },
    });
    const bad = [
      '/api/calls?limit=0',
      '/api/calls?limit=abc',
      '/api/calls?since=yesterday-ish',
      '/api/calls?caller=0049301',
      '/api/calls?verdict=maybe',
      '/api/calls?outcome=exploded',
      '/api/calls?reason=vibes',
      '/api/calls?colour=blue',
      '/api/stats?bucket=week',
    ];
    for (const path of bad) {
      const { status, body } = await issues(await h.call(path));
      expect([path, status, (body.issues ?? []).length > 0]).toEqual([path, 400, true]);
    }
    const limit = await (await h.call('/api/calls?limit=0')).json();
    expect(limit).toEqual({
      error: 'invalid request',
      issues: [{ where: 'query.limit', message: expect.stringContaining('>=1') }],
    });
    expect((await h.call('/api/calls?cursor=garbage')).status).toBe(400);
    const entry = await h.call('/api/lists/entries', { as: 'admin', method: 'POST', body: { kind: 'number' } });
    expect(entry.status).toBe(400);
    expect(((await entry.json()) as { issues: { where: string }[] }).issues[0].where).toBe('body.0.value');
    const notJson = await h.call('/api/lists/entries', { as: 'admin', method: 'POST', body: '{"kind": nu' });
    expect(notJson.status).toBe(400);
    const big = await h.call('/api/lists/entries', {
      as: 'admin',
      method: 'POST',
      body: { kind: 'name', value: 'x', reason: 'y'.repeat(5000) },
    });
    expect(big.status).toBe(413);
    expect((await h.call('/api/nothing-here')).status).toBe(404);
  });
});

describe.each(['sqlite', 'postgres'] as const)('analyst API on %s', (kind) => {
  it('filters and pages the log with a cursor; one call with reason texts; stats', async () => {
    h = await startConsoleHarness(kind);
    await h.store.upsert(seedEvents());
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await h.call(`/api/calls?brand=amazon&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { records: { callId: string; brand: string }[]; nextCursor?: string };
      expect(page.records.every((r) => r.brand === 'amazon')).toBe(true);
      ids.push(...page.records.map((r) => r.callId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(ids).toHaveLength(36);
    expect(new Set(ids).size).toBe(36);
    expect([...ids].sort().reverse()).toEqual(ids);

    const count = async (query: string) =>
      ((await (await h.call(`/api/calls?limit=500&${query}`)).json()) as { records: unknown[] }).records.length;
    expect(await count('verdict=block')).toBe(6);
    expect(await count('outcome=reported')).toBe(12);
    expect(await count('reason=emergency-caller-id')).toBe(6);
    expect(await count('caller=%2B18882804003')).toBe(9);
    expect(await count('caller=+18882804003')).toBe(9); // an unencoded "+" arrives as a space
    expect(await count('since=2026-11-21T00:00:00Z&until=2026-11-21T12:00:00Z')).toBe(12);
    expect(await count('called=%2B4930901820')).toBe(60);

    const one = (await (await h.call('/api/calls/seed-003')).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ callId: 'seed-003', brand: 'paypal', outcome: 'caller-hung-up' });
    expect(one.reasonTexts).toEqual([
      { code: 'brand-number', text: { en: expect.stringContaining('customer service'), de: expect.any(String) } },
      { code: 'brand-name', text: expect.objectContaining({ en: expect.any(String) }) },
    ]);
    expect((await h.call('/api/calls/no-such-call')).status).toBe(404);

    const stats = (await (await h.call('/api/stats?bucket=day&since=2026-11-20T00:00:00Z')).json()) as {
      total: number;
      overTime: { warn: number; block: number }[];
      warningEffect: { warned: number; rejectedShare: number };
      byOutcome: unknown[];
      byReason: unknown[];
    };
    expect(stats.total).toBe(60);
    expect(stats.overTime.map((b) => b.warn + b.block)).toEqual([24, 24, 12]);
    expect(stats.warningEffect.warned).toBe(54);
    expect(stats.warningEffect.rejectedShare).toBeCloseTo(27 / 39, 5);
  });
});

it('keeps a stats answer for 30 s per query (dashboards refreshing share one database pass)', async () => {
  h = await startConsoleHarness();
  await h.store.upsert(seedEvents());
  const total = async (query: string) =>
    ((await (await h!.call(`/api/stats?${query}`)).json()) as { total: number }).total;
  expect(await total('bucket=day')).toBe(60);
  await h.store.upsert([flagged('late-1')]);
  expect(await total('bucket=day')).toBe(60);
  expect(await total('bucket=hour')).toBe(61);
});

describe('CSV export', () => {
  it('streams 100,000 rows', async () => {
    h = await startConsoleHarness('sqlite');
    const base = Date.parse('2026-10-01T00:00:00Z');
    for (let start = 0; start < 100_000; start += 5000) {
      await h.store.upsert(
        Array.from({ length: 5000 }, (_, i) => {
          const n = start + i;
          return {
            v: 1 as const,
            kind: 'flagged' as const,
            callId: `bulk-${n}`,
            source: 'sip' as const,
            receivedAt: new Date(base + n * 1000).toISOString(),
            caller: { raw: '+18882804331', e164: '+18882804331', kind: 'number' as const, displayName: 'Amazon' },
            verdict: 'warn' as const,
            score: 92,
            reasons: ['brand-number' as const],
            brand: 'amazon',
          };
        }),
      );
    }
    const res = await h.call('/api/calls.csv?brand=amazon');
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toContain('flagged-calls.csv');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    let lines = 0;
    let chunks = 0;
    let tail = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      chunks++;
      const text = tail + decoder.decode(chunk, { stream: true });
      const parts = text.split('\n');
      tail = parts.pop() ?? '';
      lines += parts.length;
    }
    expect(lines).toBe(100_001); // header + rows
    // streamed: it arrives in many chunks (its memory is measured by npm run bench:console, not asserted here)
    expect(chunks).toBeGreaterThan(50);
  });
});

describe('admin API', () => {
  it('adds, finds and removes list entries; imports with bad rows reported', async () => {
    h = await startConsoleHarness();
    const add = await h.call('/api/lists/entries', {
      as: 'admin',
      method: 'POST',
      body: [
        { kind: 'number', value: '+18005550199', brand: 'amazon', reason: 'fake hotline' },
        { kind: 'name', value: 'Amazon Sicherheit' },
      ],
    });
    expect(add.status).toBe(201);
    const found = (await (await h.call('/api/lists/entries?q=18005550199', { as: 'admin' })).json()) as {
      entries: { value: string; source: string; origin: string }[];
    };
    expect(found.entries).toEqual([
      expect.objectContaining({ value: '+18005550199', source: 'console:ad.min', origin: 'admin' }),
    ]);
    const names = (await (await h.call('/api/lists/entries?kind=name', { as: 'admin' })).json()) as {
      entries: { value: string }[];
    };
    expect(names.entries.map((e) => e.value)).toContain('Amazon Sicherheit');
    const del = await h.call('/api/lists/entries?kind=number&value=%2B18005550199', { as: 'admin', method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(
      (await h.call('/api/lists/entries?kind=number&value=%2B18005550199', { as: 'admin', method: 'DELETE' })).status,
    ).toBe(404);

    const csv = 'kind,value,brand\nnumber,+18005550100,amazon\nnumber,not-a-number,amazon\nprefix,+1800555,amazon\n';
    const refused = await h.call('/api/lists/import?format=csv', {
      as: 'admin',
      method: 'POST',
      body: csv,
      type: 'text/csv',
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      badCount: 1,
      bad: [{ line: 3, error: expect.stringContaining('value') }],
    });
    expect(
      ((await (await h.call('/api/lists/entries?q=18005550100', { as: 'admin' })).json()) as { entries: [] }).entries,
    ).toEqual([]);
    const imported = await h.call('/api/lists/import?skipBad=true', {
      as: 'admin',
      method: 'POST',
      body: csv,
      type: 'text/csv',
    });
    expect(imported.status).toBe(200);
    expect(await imported.json()).toMatchObject({ imported: 2, badCount: 1 });
    const json = await h.call('/api/lists/import', {
      as: 'admin',
      method: 'POST',
      body: [{ kind: 'number', value: '+18005550101', brand: 'amazon' }],
    });
    expect(await json.json()).toMatchObject({ imported: 1, badCount: 0 });
  });

  it('sets subscriber preferences and allowlists; promotes a reported caller to the list', async () => {
    h = await startConsoleHarness();
    const sub = '/api/subscribers/%2B4930901820';
    expect(
      (await h.call(`${sub}/preferences`, { as: 'admin', method: 'PUT', body: { warnings: false, language: 'en' } }))
        .status,
    ).toBe(200);
    expect((await h.call(`${sub}/preferences`, { as: 'admin', method: 'PUT', body: {} })).status).toBe(400);
    expect((await h.call(`${sub}/allow`, { as: 'admin', method: 'POST', body: { what: '+18882804331' } })).status).toBe(
      201,
    );
    expect((await h.call(`${sub}/allow`, { as: 'admin', method: 'POST', body: { what: 'brand:amazon' } })).status).toBe(
      201,
    );
    expect((await h.call(`${sub}/allow`, { as: 'admin', method: 'POST', body: { what: 'everyone' } })).status).toBe(
      400,
    );
    expect(await (await h.call(sub, { as: 'admin' })).json()).toEqual({
      number: '+4930901820',
      warnings: false,
      language: 'en',
      allow: expect.arrayContaining([
        { what: '+18882804331', expiresAt: 0 },
        { what: 'brand:amazon', expiresAt: 0 },
      ]),
    });
    expect((await h.call(`${sub}/allow?what=brand:amazon`, { as: 'admin', method: 'DELETE' })).status).toBe(200);
    expect((await h.call(`${sub}/allow?what=brand:amazon`, { as: 'admin', method: 'DELETE' })).status).toBe(404);

    const lists = await openListAdmin(h.config, quietLogger());
    lists.reports.record('+18005550123', 'amazon');
    lists.reports.record('+18005550123', 'amazon');
    await until(async () => (await lists.reports.get('+18005550123'))?.count === 2);
    await lists.close();
    const reports = (await (await h.call('/api/reports')).json()) as { reports: unknown[] };
    expect(reports.reports).toEqual([expect.objectContaining({ number: '+18005550123', count: 2, brand: 'amazon' })]);
    expect(
      (await h.call('/api/reports/%2B18005550123/promote', { as: 'admin', method: 'POST', body: {} })).status,
    ).toBe(201);
    expect(
      (await h.call('/api/reports/%2B18005550999/promote', { as: 'admin', method: 'POST', body: {} })).status,
    ).toBe(404);
    const listed = (await (await h.call('/api/lists/entries?q=18005550123', { as: 'admin' })).json()) as {
      entries: unknown[];
    };
    expect(listed.entries).toEqual([
      expect.objectContaining({
        kind: 'number',
        brand: 'amazon',
        origin: 'report',
        reason: 'reported by 2 subscriber(s)',
      }),
    ]);
    const after = (await (await h.call('/api/reports')).json()) as { reports: { promoted?: number }[] };
    expect(after.reports[0].promoted).toBeGreaterThan(0);
  });
});
