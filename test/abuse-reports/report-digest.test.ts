import type { Config } from '../../services/common/config';
import { runWorker, type RunningLogWorker } from '../../services/worker';
import { DIGEST_JOB_PREFIX } from '../../services/worker/report-digest';
import { quietLogger, testConfig } from '../support/config';
import { dropQueue, flagged, until } from '../support/events';
import { reportSettings, startSmtp, type TestSmtp } from '../support/smtp';

/** The digest: a repeatable BullMQ job per brand in the worker, on real Redis, sending to a real SMTP server. */
let smtp: TestSmtp;
let config: Config;
let worker: RunningLogWorker | undefined;

beforeAll(async () => {
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp?.close();
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await dropQueue(config);
});

const withDigest = (digest: Record<string, string>, smtpHost = '127.0.0.1') =>
  testConfig({
    reports: reportSettings(smtp, { smtpHost, digest }),
  });

describe('report digests', () => {
  it('a brand set to daily gets a repeatable job at 06:00 UTC; a run reports the calls of the last day once', async () => {
    config = withDigest({ amazon: 'daily', paypal: 'weekly' });
    worker = await runWorker(config, quietLogger());
    const schedules = await worker.queue.schedules();
    expect(schedules.filter((s) => s.id.startsWith(DIGEST_JOB_PREFIX))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'report-digest:amazon', pattern: '0 6 * * *' }),
        expect.objectContaining({ id: 'report-digest:paypal', pattern: '0 6 * * 1' }),
      ]),
    );
    const now = Date.now();
    await worker.store.upsert([
      flagged('digest-1', { receivedAt: new Date(now - 3_600_000).toISOString() }),
      flagged('digest-2', { receivedAt: new Date(now - 7_200_000).toISOString() }),
      // older than the period: left for a report by hand
      flagged('digest-old', { receivedAt: new Date(now - 3 * 86_400_000).toISOString() }),
    ]);
    smtp.received.length = 0;
    // the scheduled job, run now by hand
    await worker.queue.add({
      jobId: 'digest-by-hand-1',
      name: 'report-digest:amazon',
      data: { brand: 'amazon', period: 'daily' },
    });
    await until(() => smtp.received.length === 1, 15_000, 'the digest mail');
    const mail = smtp.received[0].mail;
    expect(mail.subject).toMatch(/^Spoofed Amazon caller IDs: 2 calls/);
    expect(mail.attachments[0].content.toString()).not.toContain('digest-old');
    await until(async () => (await worker?.store.count({ reported: true })) === 2, 10_000, 'two calls marked');
    const audit = await worker.store.listAudit({ limit: 1 });
    expect(audit[0]).toMatchObject({ action: 'report-sent', actor: 'digest-daily', target: 'amazon', count: 2 });
    // a second run finds nothing new: nothing sent
    await worker.queue.add({
      jobId: 'digest-by-hand-2',
      name: 'report-digest:amazon',
      data: { brand: 'amazon', period: 'daily' },
    });
    await until(
      async () => {
        const c = await worker?.queue.counts();
        return c?.waiting === 0 && c.active === 0;
      },
      10_000,
      'the second run done',
    );
    expect(smtp.received).toHaveLength(1);
  });

  it('a brand set to off, or left out, loses its job', async () => {
    config = withDigest({ amazon: 'daily' });
    worker = await runWorker(config, quietLogger());
    await worker.close();
    worker = await runWorker({ ...config, reports: { ...config.reports, digest: { amazon: 'off' } } }, quietLogger());
    expect((await worker.queue.schedules()).map((s) => s.id)).not.toContain('report-digest:amazon');
    await worker.queue.schedule('report-digest:gone', { pattern: '0 6 * * *' }, { brand: 'gone', period: 'daily' });
    await worker.close();
    worker = await runWorker({ ...config, reports: { ...config.reports, digest: {} } }, quietLogger());
    expect((await worker.queue.schedules()).map((s) => s.id).filter((id) => id.startsWith(DIGEST_JOB_PREFIX))).toEqual(
      [],
    );
  });
});
