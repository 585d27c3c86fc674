import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { Config } from '../../services/common/config';
import { openLogStore } from '../../services/flagged-log';
import { envFor } from '../support/child';
import { testConfig } from '../support/config';
import { flagged } from '../support/events';
import { reportSettings, startSmtp, type TestSmtp } from '../support/smtp';
import { runCli } from '../cli/run-cli';

/** `spoofguard report`: the same desk from the command line, against a real SMTP server. */
let smtp: TestSmtp;
let config: Config;
const base = Date.parse('2026-11-21T08:00:00Z');

beforeAll(async () => {
  smtp = await startSmtp();
  config = testConfig({
    reports: reportSettings(smtp),
  });
  const store = await openLogStore(config);
  await store.upsert(
    Array.from({ length: 8 }, (_, i) =>
      flagged(`cli-report-${i}`, { receivedAt: new Date(base + i * 3_600_000).toISOString() }),
    ),
  );
  await store.close();
});
afterAll(() => smtp?.close());

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...envFor(config), ...env } });

describe('spoofguard report', () => {
  it('--preview prints the report and sends nothing', async () => {
    const result = await cli(['report', '--brand', 'amazon', '--preview']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('To: stop-spoofing@amazon.com');
    expect(result.stdout).toContain('Subject: Spoofed Amazon caller IDs: 8 calls, 2026-11-21 (UTC)');
    expect(smtp.received).toHaveLength(0);
  });

  it('sends the calls of a period through the relay, then the rest; none twice', async () => {
    const first = await cli(['report', '--brand', 'amazon', '--until', new Date(base + 4 * 3_600_000).toISOString()]);
    expect(first.stdout).toMatch(/report r\d{8}-[0-9a-f]{8}: 4 calls sent to stop-spoofing@amazon\.com/);
    const second = await cli(['report', '--brand', 'amazon', '--eml', join(tmpdir(), `sg-report-${process.pid}.eml`)]);
    expect(second.stdout).toMatch(/4 calls written to .*\.eml \(send it to stop-spoofing@amazon\.com\)/);
    const again = await cli(['report', '--brand', 'amazon']);
    expect(again.stdout).toContain('no unreported amazon calls match: nothing sent');
    expect(smtp.received).toHaveLength(1);
    const mail = await simpleParser(readFileSync(join(tmpdir(), `sg-report-${process.pid}.eml`)));
    expect(mail.attachments[0].content.toString()).toContain('cli-report-7');
    expect(mail.attachments[0].content.toString()).not.toContain('cli-report-0');
  });

  it('says clearly what is wrong: a relay that refuses (exit 69), a bad filter (exit 65)', async () => {
    const store = await openLogStore(config);
    await store.upsert([flagged('cli-report-late', { receivedAt: new Date(base + 9 * 3_600_000).toISOString() })]);
    const refused = await cli(['report', '--brand', 'amazon'], { SPOOFGUARD_REPORTS_SMTP_PASSWORD: 'wrong' });
    expect(refused.code).toBe(69);
    expect(refused.stderr).toMatch(/spoofguard: the report was not sent: .*(Invalid login|invalid credentials)/i);
    expect((await store.get('cli-report-late'))?.reportedAt).toBeUndefined();
    await store.close();
    const bad = await cli(['report', '--brand', 'amazon', '--since', 'yesterday-ish']);
    expect(bad.code).toBe(65);
    expect(bad.stderr).toContain('is not a time');
  });
});
