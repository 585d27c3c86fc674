import type { Config } from '../../services/common/config';
import { openReportDesk, ReportNotSent } from '../../services/abuse-reports';
import { calledNumberPolicy, openLogStore, type LogStore } from '../../services/flagged-log';
import { quietLogger, testConfig } from '../support/config';
import { flagged, outcome } from '../support/events';
import { configWithLogStore } from '../support/postgres';
import { reportSettings, startSmtp, type TestSmtp } from '../support/smtp';

/**
 * Reports to a brand's abuse desk, end to end against a real SMTP server (smtp-server, STARTTLS and AUTH),
 * the message parsed back with mailparser; on both log stores.
 */
const DAY = Date.parse('2026-11-20T00:00:00Z');
const CALLED = '+4930901820';

describe.each(['sqlite', 'postgres'] as const)('reports to the brand on the %s log', (kind) => {
  let smtp: TestSmtp;
  let store: LogStore;
  let config: Config;
  let drop: (() => Promise<void>) | undefined;
  let reports: ReturnType<typeof openReportDesk>;

  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(() => smtp?.close());

  beforeEach(async () => {
    smtp.received.length = 0;
    smtp.refuse = undefined;
    ({ config, drop } = await configWithLogStore(kind, (o = {}) =>
      testConfig({
        ...o,
        reports: reportSettings(smtp),
      }),
    ));
    store = await openLogStore(config);
    reports = openReportDesk(config, store, quietLogger());
    const events = [];
    for (let i = 0; i < 6; i++) {
      const callId = `sip:call-${i}`;
      events.push(
        flagged(callId, {
          source: 'sip',
          receivedAt: new Date(DAY + i * 3_600_000).toISOString(),
          caller: {
            raw: `"Amazon" <sip:+1888280433${i % 2}@carrier.example>`,
            e164: `+1888280433${i % 2}`,
            kind: 'number',
            displayName: 'Amazon',
          },
          called: CALLED,
          sipCallId: `${i}@subscriber-host.example`,
          verdict: i === 5 ? 'block' : 'warn',
          ...(i === 2 ? { stir: { result: 'failed-signature' as const, detail: 'signature does not verify' } } : {}),
        }),
        outcome(callId, i === 1 ? 'reported' : i === 5 ? 'blocked' : 'rejected'),
      );
    }
    // another brand's call never goes into Amazon's report
    events.push(flagged('sip:paypal', { brand: 'paypal', receivedAt: new Date(DAY).toISOString() }));
    await store.upsert(events);
  });
  afterEach(async () => {
    reports.close();
    await store.close();
    await drop?.();
  });

  it('previews without sending or marking: summary and CSV of the caller side only', async () => {
    const preview = await reports.desk.preview('amazon', {});
    expect(preview).toMatchObject({ to: 'stop-spoofing@amazon.com', canSend: true });
    expect(preview.source).toMatch(/Amazon/);
    const content = preview.content;
    expect(content?.calls).toBe(6);
    expect(content?.subject).toBe('Spoofed Amazon caller IDs: 6 calls, 2026-11-20 (UTC)');
    expect(content?.text).toContain('Example Carrier GmbH runs spoofguard');
    expect(content?.text).toContain('6 calls posing as Amazon: 5 warned about, 1 blocked');
    expect(content?.text).toContain('+18882804330 (3)');
    expect(content?.text).toContain('1 subscriber(s) reported the call as fraud');
    expect(content?.csv.split('\n')[0]).toBe(
      'reference,timeUtc,callerIdAsReceived,callerNumber,displayName,receivingTrunk,verdict,score,reasons,stirShaken,outcome,reportedBySubscriber',
    );
    expect(content?.csv).toContain('sip:call-2,2026-11-20T02:00:00Z,');
    expect(content?.csv).toContain('failed-signature');
    expect(smtp.received).toHaveLength(0);
    expect(await store.count({ reported: true })).toBe(0);
  });

  it('sends through the relay (STARTTLS, AUTH): the brand gets the summary and the CSV, never a called number or subscriber data', async () => {
    const delivered = await reports.desk.deliver('amazon', {}, 'send', 'analyst-1');
    expect(delivered).toMatchObject({ to: 'stop-spoofing@amazon.com', calls: 6 });
    expect(smtp.received).toHaveLength(1);
    const { envelope, raw, mail } = smtp.received[0];
    expect(envelope).toEqual({ from: 'fraud-desk@carrier.example', to: ['stop-spoofing@amazon.com'] });
    expect(mail.subject).toBe('Spoofed Amazon caller IDs: 6 calls, 2026-11-20 (UTC)');
    expect(mail.text).toContain('6 calls posing as Amazon');
    expect(mail.headers.get('x-spoofguard-report')).toBe(delivered?.reportId);
    expect(mail.attachments).toHaveLength(1);
    const csv = mail.attachments[0].content.toString('utf8');
    expect(mail.attachments[0].filename).toBe('spoofguard-amazon-2026-11-20-2026-11-20.csv');
    expect(csv.trim().split('\n')).toHaveLength(7);
    // nothing that identifies a subscriber: the called number (plain or as the log's pseudonym), the SIP Call-ID
    for (const secret of [
      CALLED,
      CALLED.slice(1),
      calledNumberPolicy(config).apply(CALLED) as string,
      'subscriber-host',
    ]) {
      expect(raw).not.toContain(secret);
      expect(csv).not.toContain(secret);
    }
  });

  it('marks each call with the report and never reports it twice; the list shows which calls were reported', async () => {
    const first = await reports.desk.deliver('amazon', { until: DAY + 3 * 3_600_000 }, 'send', 'analyst-1');
    expect(first?.calls).toBe(3);
    const second = await reports.desk.deliver('amazon', {}, 'send', 'analyst-2');
    expect(second?.calls).toBe(3);
    expect(await reports.desk.deliver('amazon', {}, 'send', 'analyst-2')).toBeUndefined();
    expect(smtp.received).toHaveLength(2);
    const refs = smtp.received.map((m) =>
      m.mail.attachments[0].content
        .toString()
        .match(/sip:call-\d/g)
        ?.sort(),
    );
    expect(refs).toEqual([
      ['sip:call-0', 'sip:call-1', 'sip:call-2'],
      ['sip:call-3', 'sip:call-4', 'sip:call-5'],
    ]);
    const record = await store.get('sip:call-4');
    expect(record).toMatchObject({ reportId: second?.reportId });
    expect(record?.reportedAt).toBeGreaterThan(0);
    expect(await store.count({ reported: true })).toBe(6);
    expect(await store.count({ reported: false, brand: 'amazon' })).toBe(0);
    const audit = await store.listAudit({ limit: 5 });
    expect(audit[0]).toMatchObject({ action: 'report-sent', actor: 'analyst-2', target: 'amazon', count: 3 });
  });

  it('two reports made at once take each call once', async () => {
    const [a, b] = await Promise.all([
      reports.desk.deliver('amazon', {}, 'send', 'one'),
      reports.desk.deliver('amazon', {}, 'send', 'two'),
    ]);
    expect((a?.calls ?? 0) + (b?.calls ?? 0)).toBe(6);
    const all = smtp.received.flatMap((m) => m.mail.attachments[0].content.toString().match(/sip:call-\d/g) ?? []);
    expect(all.sort()).toEqual(['sip:call-0', 'sip:call-1', 'sip:call-2', 'sip:call-3', 'sip:call-4', 'sip:call-5']);
  });

  it('a relay that refuses: a clear error, and the calls stay unreported for the next try', async () => {
    smtp.refuse = { code: 550, message: 'mailbox unavailable' };
    await expect(reports.desk.deliver('amazon', {}, 'send', 'analyst-1')).rejects.toThrow(ReportNotSent);
    await expect(reports.desk.deliver('amazon', {}, 'send', 'analyst-1')).rejects.toThrow(/550 mailbox unavailable/);
    expect(await store.count({ reported: true })).toBe(0);
    smtp.refuse = undefined;
    expect((await reports.desk.deliver('amazon', {}, 'send', 'analyst-1'))?.calls).toBe(6);
  });

  it('a brand without a report address, or more calls than reports.maxCalls: clear errors', async () => {
    await expect(reports.desk.preview('paypal', {})).rejects.toThrow(/no brand "paypal"|no report address/);
    const small = openReportDesk({ ...config, reports: { ...config.reports, maxCalls: 2 } }, store, quietLogger());
    await expect(small.desk.preview('amazon', {})).rejects.toThrow(/more than 2 calls .*narrow the filter/);
    small.close();
  });

  it('with no relay the report downloads as an .eml file that parses to the same message; its calls are marked', async () => {
    const noRelay = openReportDesk({ ...config, reports: { ...config.reports, smtpHost: '' } }, store, quietLogger());
    expect((await noRelay.desk.preview('amazon', {})).canSend).toBe(false);
    await expect(noRelay.desk.deliver('amazon', {}, 'send', 'a')).rejects.toThrow(/no SMTP relay/);
    const delivered = await noRelay.desk.deliver('amazon', {}, 'eml', 'analyst-1');
    noRelay.close();
    expect(delivered?.filename).toBe('spoofguard-amazon-2026-11-20-2026-11-20.eml');
    const { simpleParser } = await import('mailparser');
    const mail = await simpleParser(delivered?.eml as Buffer);
    expect(mail.to).toMatchObject({ text: 'stop-spoofing@amazon.com' });
    expect(mail.attachments[0].content.toString()).toContain('sip:call-0');
    expect(await store.count({ reported: true })).toBe(6);
    expect(smtp.received).toHaveLength(0);
  });
});
