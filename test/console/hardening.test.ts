import { type ConsoleHarness, startConsoleHarness, TOKENS } from './harness';

let h: ConsoleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('console hardening', () => {
  it('every answer carries the security headers: the dashboard loads only its own files and is never framed', async () => {
    h = await startConsoleHarness();
    for (const [path, as] of [
      ['/', 'none'],
      ['/dashboard/app.js', 'none'],
      ['/api/whoami', 'analyst'],
      ['/api/nothing-here', 'analyst'],
      ['/api/calls', 'none'],
    ] as const) {
      const response = await h.call(path, { as });
      expect([path, response.headers.get('content-security-policy')]).toEqual([
        path,
        expect.stringContaining("frame-ancestors 'none'"),
      ]);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('requests without a valid token are limited per address, health checks and wrong tokens included', async () => {
    h = await startConsoleHarness('sqlite', { console: { anonymousRateLimitPerMinute: 5 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.call('/health/ready', { as: 'none' })).status);
    statuses.push((await h.call('/api/calls', { as: 'Bearer not-a-real-token-000' })).status);
    statuses.push((await h.call('/health/ready', { as: 'none' })).status);
    statuses.push((await h.call('/api/calls', { as: 'Bearer not-a-real-token-001' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 401, 429, 429]);
    // a valid token has its own allowance
    expect((await h.call('/api/whoami', { as: 'analyst' })).status).toBe(200);
  });

  for (const kind of ['sqlite', 'postgres'] as const)
    it(`admin actions leave an audit record (who, what, when, how many) that analysts list (${kind})`, async () => {
      h = await startConsoleHarness(kind);
      const added = await h.call('/api/lists/entries', {
        as: 'admin',
        method: 'POST',
        body: [
          { kind: 'number', value: '+4930111222', brand: 'amazon' },
          { kind: 'number', value: '+4930111223', brand: 'amazon' },
        ],
      });
      expect(added.status).toBe(201);
      const removed = await h.call('/api/lists/entries?kind=number&value=%2B4930111222', {
        as: 'admin',
        method: 'DELETE',
      });
      expect(removed.status).toBe(200);
      // a refused action (analyst) and a read leave nothing
      await h.call('/api/lists/entries', { as: 'analyst', method: 'POST', body: { kind: 'number', value: '+49301' } });
      const { records } = (await (await h.call('/api/audit?limit=10')).json()) as {
        records: Record<string, unknown>[];
      };
      expect(records).toEqual([
        expect.objectContaining({ actor: 'ad.min', action: 'DELETE /api/lists/entries', count: 1 }),
        expect.objectContaining({ actor: 'ad.min', action: 'POST /api/lists/entries', count: 2 }),
      ]);
      expect(Date.parse(records[0].at as string)).toBeGreaterThan(Date.now() - 60_000);
      const older = (await (await h.call(`/api/audit?limit=10&before=${records[0].id}`)).json()) as {
        records: unknown[];
      };
      expect(older.records).toHaveLength(1);
    });

  it('SIGHUP reloads the tokens: a revoked token is refused without a restart', async () => {
    h = await startConsoleHarness(
      'sqlite',
      {},
      {
        reload: (config) => ({
          ...config,
          console: {
            ...config.console,
            tokens: Object.fromEntries(Object.entries(config.console.tokens).filter(([name]) => name !== 'ana.lyst')),
          },
        }),
      },
    );
    expect((await h.call('/api/whoami', { as: 'analyst' })).status).toBe(200);
    process.emit('SIGHUP');
    expect((await h.call('/api/whoami', { as: 'analyst' })).status).toBe(401);
    expect((await h.call('/api/whoami', { as: `Bearer ${TOKENS.admin}` })).status).toBe(200);
  });
});
