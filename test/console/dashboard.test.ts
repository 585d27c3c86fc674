import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from '../support/child';
import { flagged, outcome, until } from '../support/events';
import { itWhen } from '../support/skip';
import { reportSettings, startSmtp } from '../support/smtp';
import { type ConsoleHarness, seedEvents, startConsoleHarness, TOKENS } from './harness';

/**
 * The dashboard in a real headless Chromium (Debian's package, driven by playwright-core). Where no Chromium is
 * installed the test says SKIPPED loudly; under CI (or REQUIRE_BROWSER=1) that is a failure.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const maybe = itWhen(
  existsSync(CHROMIUM),
  `the dashboard test needs Chromium at ${CHROMIUM} (apt-get install chromium, or CHROMIUM_PATH)`,
  'REQUIRE_BROWSER',
);

/** Headless: no sandbox as root, and no background traffic to a closed network. */
const launch = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });

let h: ConsoleHarness | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  await h?.close();
});

maybe('loads with a token, shows charts and rows, filters, shows a call, and adds its caller to a list', async () => {
  h = await startConsoleHarness();
  await h.store.upsert(seedEvents());
  browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(h.url);
  await page.getByTestId('message').filter({ hasText: 'Enter an API token' }).waitFor();

  await page.fill('#token', TOKENS.admin);
  await page.click('#token-form button[type=submit]');
  await page.getByTestId('whoami').filter({ hasText: 'ad.min (admin)' }).waitFor();
  await until(async () => (await page.locator('#rows tr').count()) === 50, 10000, '50 rows');
  expect(await page.locator('#more').isVisible()).toBe(true);
  expect(await page.locator('[data-testid=chart-time] rect.warn').count()).toBeGreaterThan(0);
  expect(await page.locator('[data-testid=chart-brand] rect.bar').count()).toBe(3);
  expect(await page.getByTestId('effect').textContent()).toMatch(/69 %/);
  await page.click('#more');
  await until(async () => (await page.locator('#rows tr').count()) === 60, 10000, 'all 60 rows');

  await page.fill('#filters input[name=brand]', 'paypal');
  await page.click('#filters button[type=submit]');
  await until(async () => (await page.locator('#rows tr').count()) === 18, 10000, 'paypal rows');
  const brands = await page.locator('#rows tr td:nth-child(4)').allTextContents();
  expect(new Set(brands)).toEqual(new Set(['paypal']));

  await page.locator('#rows tr').first().click();
  await page.getByTestId('detail').waitFor({ state: 'visible' });
  expect(await page.locator('#detail-reasons li').first().textContent()).toContain('brand-number');
  await page.getByTestId('add-to-list').click();
  await page.getByTestId('message').filter({ hasText: 'is now on the brand-number list' }).waitFor();
  const caller = (await page.locator('#detail-fields dd').nth(1).textContent()) ?? '';
  const found = (await (
    await h.call(`/api/lists/entries?q=${encodeURIComponent(caller.replace('+', ''))}`, { as: 'admin' })
  ).json()) as { entries: { value: string; brand: string }[] };
  expect(found.entries).toEqual([expect.objectContaining({ value: caller, brand: 'paypal' })]);

  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard.png'), fullPage: true });
  expect(errors).toEqual([]);
});

maybe('an analyst token sees the log but no admin action', async () => {
  h = await startConsoleHarness();
  await h.store.upsert(seedEvents());
  browser = await launch();
  const page = await browser.newPage();
  await page.goto(h.url);
  await page.fill('#token', TOKENS.analyst);
  await page.click('#token-form button[type=submit]');
  await page.getByTestId('whoami').filter({ hasText: '(analyst)' }).waitFor();
  await until(async () => (await page.locator('#rows tr').count()) > 0, 10000, 'rows');
  await page.locator('#rows tr').first().click();
  await page.getByTestId('detail').waitFor({ state: 'visible' });
  expect(await page.getByTestId('add-to-list').isVisible()).toBe(false);
  await page.fill('#token', 'wrong-token-123');
  await page.click('#token-form button[type=submit]');
  await page.getByTestId('message').filter({ hasText: '401' }).waitFor();
});

maybe('shows the STIR/SHAKEN result of each call, filters by it, and says why a check failed', async () => {
  h = await startConsoleHarness();
  const at = Date.parse('2026-11-20T00:00:00Z');
  await h.store.upsert([
    flagged('stir-failed', {
      source: 'sip',
      receivedAt: new Date(at).toISOString(),
      stir: { result: 'failed-certificate', detail: 'certificate expired', origid: '5f1d7a39' },
    }),
    flagged('stir-passed', {
      source: 'sip',
      receivedAt: new Date(at + 1000).toISOString(),
      stir: { result: 'passed-B' },
    }),
    flagged('no-stir', { receivedAt: new Date(at + 2000).toISOString() }),
  ]);
  browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(h.url);
  await page.fill('#token', TOKENS.analyst);
  await page.click('#token-form button[type=submit]');
  await until(async () => (await page.locator('#rows tr').count()) === 3, 10000, '3 rows');
  const column = await page.locator('#rows tr td:nth-child(8)').allTextContents();
  expect(column).toEqual(['', 'passed-B', 'failed-certificate']);
  await page.getByTestId('filter-stir').selectOption('failed-certificate');
  await page.click('#filters button[type=submit]');
  await until(async () => (await page.locator('#rows tr').count()) === 1, 10000, 'the failed call');
  await page.locator('#rows tr').first().click();
  await page.getByTestId('detail').waitFor({ state: 'visible' });
  expect(await page.locator('#detail-fields').textContent()).toContain(
    'STIR/SHAKENfailed-certificate · certificate expired · origid 5f1d7a39',
  );
});

maybe(
  "reports the selected calls to the brand's abuse desk: preview, send through the relay, then the rest as .eml",
  async () => {
    const smtp = await startSmtp();
    try {
      h = await startConsoleHarness('sqlite', {
        reports: reportSettings(smtp),
      });
      await h.store.upsert(seedEvents());
      browser = await launch();
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(h.url);
      await page.fill('#token', TOKENS.analyst);
      await page.click('#token-form button[type=submit]');
      await until(async () => (await page.locator('#rows tr').count()) > 0, 10000, 'rows');
      expect(await page.getByTestId('report-open').isDisabled()).toBe(true);

      // the analyst narrows to Amazon's calls of the first day
      await page.fill('#filters input[name=brand]', 'amazon');
      await page.fill('#filters input[name=until]', '2026-11-21T00:00');
      await page.click('#filters button[type=submit]');
      await until(async () => !(await page.getByTestId('report-open').isDisabled()), 10000, 'report button');
      await page.getByTestId('report-open').click();
      await page.getByTestId('report').waitFor({ state: 'visible' });
      const text = (await page.getByTestId('report-text').textContent()) ?? '';
      // the CSV the brand gets, to read before sending
      expect(await page.getByTestId('report-csv').textContent()).toMatch(/^reference,timeUtc,callerIdAsReceived,/);
      expect(text).toMatch(/flagged\s+\d+ calls? posing as Amazon/);
      expect(await page.locator('#report-to').textContent()).toBe('stop-spoofing@amazon.com');
      await page.getByTestId('report-send').click();
      await page.getByTestId('message').filter({ hasText: 'sent to stop-spoofing@amazon.com' }).waitFor();
      expect(smtp.received).toHaveLength(1);
      const sent = Number(/(\d+) calls\./.exec((await page.getByTestId('message').textContent()) ?? '')?.[1]);
      expect(smtp.received[0].mail.attachments[0].content.toString().trim().split('\n')).toHaveLength(sent + 1);
      // the list shows them reported; "not yet" shows none of that day
      await until(
        async () => (await page.locator('#rows tr td:nth-child(9)').allTextContents()).every((t) => t !== ''),
        10000,
        'reported dates in the list',
      );
      await page.getByTestId('filter-reported').selectOption('no');
      await page.click('#filters button[type=submit]');
      await until(
        async () => (await page.locator('#rows tr').count()) === 0,
        10000,
        'no unreported call left that day',
      );

      // the rest of Amazon's calls, downloaded as .eml
      await page.fill('#filters input[name=until]', '');
      await page.click('#filters button[type=submit]');
      await until(async () => (await page.locator('#rows tr').count()) > 0, 10000, 'the later calls');
      await page.getByTestId('report-open').click();
      await page.getByTestId('report').waitFor({ state: 'visible' });
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('report-eml').click()]);
      expect(download.suggestedFilename()).toMatch(/^spoofguard-amazon-2026-11-2\d-2026-11-2\d\.eml$/);
      const file = join(ROOT, 'test-artifacts', 'report.eml');
      mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
      await download.saveAs(file);
      const mail = await simpleParser(readFileSync(file));
      expect(mail.to).toMatchObject({ text: 'stop-spoofing@amazon.com' });
      expect(smtp.received).toHaveLength(1);
      expect(await h.store.count({ brand: 'amazon', reported: false })).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await smtp.close();
    }
  },
);

maybe(
  'shows beside the warning’s effect the share of warned calls taken that were reported afterwards (*73)',
  async () => {
    h = await startConsoleHarness();
    const at = Date.parse('2026-11-20T00:00:00Z');
    await h.store.upsert(
      ['accepted', 'accepted', 'accepted', 'reported-after', 'rejected'].flatMap((result, i) => [
        flagged(`after-${i}`, { receivedAt: new Date(at + i * 60_000).toISOString() }),
        outcome(`after-${i}`, result as 'accepted'),
      ]),
    );
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(h.url);
    await page.fill('#token', TOKENS.analyst);
    await page.click('#token-form button[type=submit]');
    await page.getByTestId('effect').filter({ hasText: 'reported afterwards' }).waitFor();
    expect(await page.getByTestId('effect').textContent()).toContain(
      '25 % of the warned calls taken were reported afterwards (1, *73)',
    );
  },
);
