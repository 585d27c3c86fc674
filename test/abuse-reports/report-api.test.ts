import { simpleParser } from 'mailparser';
import { type ConsoleHarness, startConsoleHarness } from '../console/harness';
import { flagged } from '../support/events';
import { reportSettings, startSmtp, type TestSmtp } from '../support/smtp';

/** The console's brand-report endpoints: one schema per body, clear errors, the relay's refusal as 502. */
let smtp: TestSmtp;
let h: ConsoleHarness;

beforeAll(async () => {
  smtp = await startSmtp();
  h = await startConsoleHarness('sqlite', {
    reports: reportSettings(smtp),
  });
  const at = Date.parse('2026-11-22T10:00:00Z');
  await h.store.upsert(
    Array.from({ length: 4 }, (_, i) =>
      flagged(`api-report-${i}`, { receivedAt: new Date(at + i * 60_000).toISOString() }),
    ),
  );
});
afterAll(async () => {
  await h?.close();
  await smtp?.close();
});

const post = (path: string, body: unknown, as: 'analyst' | 'admin' | 'none' = 'analyst') =>
  h.call(path, { method: 'POST', body: body as object, as });

describe('POST /api/brand-reports', () => {
  it('refuses without a token, an unknown brand, a bad filter and a bad delivery, each clearly', async () => {
    expect((await post('/api/brand-reports/preview', { brand: 'amazon' }, 'none')).status).toBe(401);
    const unknown = await post('/api/brand-reports/preview', { brand: 'nobrand' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/no brand "nobrand"/);
    const badFilter = await post('/api/brand-reports/preview', { brand: 'amazon', filter: { since: 'soon' } });
    expect(badFilter.status).toBe(400);
    expect(JSON.stringify(await badFilter.json())).toMatch(/filter\.since/);
    expect((await post('/api/brand-reports', { brand: 'amazon', delivery: 'fax' })).status).toBe(400);
  });

  it('previews, then a relay that refuses answers 502 and leaves the calls; an .eml download marks them; then 204', async () => {
    const preview = (await (await post('/api/brand-reports/preview', { brand: 'amazon' })).json()) as {
      calls: number;
      to: string;
      canSend: boolean;
    };
    expect(preview).toMatchObject({ calls: 4, to: 'stop-spoofing@amazon.com', canSend: true });
    smtp.refuse = { code: 554, message: 'rejected by policy' };
    const refused = await post('/api/brand-reports', { brand: 'amazon', delivery: 'send' });
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { error: string }).error).toMatch(/554 rejected by policy/);
    smtp.refuse = undefined;
    const eml = await post('/api/brand-reports', {
      brand: 'amazon',
      filter: { until: '2026-11-22T10:02:00Z' },
      delivery: 'eml',
    });
    expect(eml.status).toBe(200);
    expect(eml.headers.get('content-type')).toMatch(/^message\/rfc822/);
    expect(eml.headers.get('content-disposition')).toMatch(
      /attachment; filename="spoofguard-amazon-2026-11-22-2026-11-22\.eml"/,
    );
    const mail = await simpleParser(Buffer.from(await eml.arrayBuffer()));
    expect(mail.attachments[0].content.toString().match(/api-report-\d/g)).toEqual(['api-report-0', 'api-report-1']);
    const sent = (await (await post('/api/brand-reports', { brand: 'amazon', delivery: 'send' }, 'admin')).json()) as {
      calls: number;
    };
    expect(sent.calls).toBe(2);
    expect((await post('/api/brand-reports', { brand: 'amazon', delivery: 'send' })).status).toBe(204);
    const listed = (await (await h.call('/api/calls?reported=yes&limit=10')).json()) as { records: unknown[] };
    expect(listed.records).toHaveLength(4);
  });
});
