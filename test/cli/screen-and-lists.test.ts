import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { REDIS_URL } from '../support/config';
import { dropPrefix } from '../support/redis';
import { runCli } from './run-cli';

const prefix = `t${randomBytes(5).toString('hex')}:`;
const env = { REDIS_URL, SPOOFGUARD_REDIS_KEY_PREFIX: prefix };
const dir = mkdtempSync(join(tmpdir(), 'sg-cli-'));

afterAll(() => dropPrefix(prefix));

describe('spoofguard CLI', () => {
  it('seeds the brand lists, idempotently', async () => {
    const first = await runCli(['seed'], { env });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^seeded \d+ entries from 1 brand file\(s\)/);
    const again = await runCli(['seed'], { env });
    expect(again.code).toBe(0);
    const shown = await runCli(['list', 'show', '--json', '--limit', '1000'], { env });
    const lines = shown.stdout.trim().split('\n');
    expect(lines.length).toBe(Number(/seeded (\d+)/.exec(first.stdout)?.[1]));
  });

  it('screens one caller as JSON and as a readable line', async () => {
    const json = await runCli(
      [
        'screen',
        '--json',
        '--from',
        '"Amazon" <sip:+18882804331@sbc.example.net>',
        '--to',
        '+4930901820',
        '--trunk',
        'de-national',
      ],
      { env },
    );
    expect(json.code).toBe(0);
    const verdict = JSON.parse(json.stdout);
    expect(verdict).toMatchObject({ verdict: 'warn', brand: 'amazon', degraded: false, called: '+4930901820' });
    expect(verdict.reasons.map((r: { code: string }) => r.code)).toEqual(['brand-number', 'brand-name']);

    const readable = await runCli(['screen', '--from', '110', '--trunk', 'de-national'], { env });
    expect(readable.stdout).toMatch(/^BLOCK score=99/);
    expect(readable.stdout).toContain('emergency-caller-id');
  });

  it('screens JSON lines from stdin, one verdict a line, errors in place', async () => {
    const input = [
      JSON.stringify({ from: '+498003638469', trunk: 'de-national' }),
      'not json',
      JSON.stringify({ from: '+4930901820', name: 'AMAZ0N Prime', to: '+4930901821' }),
      JSON.stringify({ form: 'typo' }),
      JSON.stringify({ from: '\u0000' }),
    ].join('\n');
    const result = await runCli(['screen'], { env, input });
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatchObject({ verdict: 'warn', brand: 'amazon' });
    expect(lines[1]).toEqual({ line: 2, error: 'not JSON' });
    expect(lines[2]).toMatchObject({ verdict: 'warn', brand: 'amazon' });
    expect(lines[3].line).toBe(4);
    expect(lines[3].error).toMatch(/form/);
    expect(lines[4].reasons[0].code).toBe('unparseable');
  });

  it('imports CSV, reports bad rows by line and imports the rest; exports what it holds', async () => {
    const csv = [
      'kind,value,brand,reason,label,source,country,match,expiresAt',
      'number,+4930901830,paypal,,fake support,analyst report,,,',
      'number,030 901831,paypal,,fake support,analyst report,DE,,',
      'number,not-a-number,paypal,,,,,,',
      'prefix,+49900,premium,,,,,,',
      'name,"Pay, Pal",paypal,,,,,contains,',
      'bogus,+4930901832,,,,,,,',
      'number,+4930901833,,,,,,,2020-01-01T00:00:00Z',
      'number,+4930901834,paypal',
    ].join('\n');
    const file = join(dir, 'import.csv');
    writeFileSync(file, csv);
    const result = await runCli(['list', 'import', file], { env });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/imported 5 entries .* 3 bad rows skipped/);
    expect(result.stderr).toContain(`${file}:4: value: a telephone number`);
    expect(result.stderr).toContain(`${file}:7: kind:`);
    expect(result.stderr).toContain(`${file}:9: expected 9 fields, got 3`);

    const check = await runCli(['screen', '--json', '--from', '+4930901831', '--trunk', 'de-national'], { env });
    expect(JSON.parse(check.stdout)).toMatchObject({ verdict: 'warn', brand: 'paypal' });
    const expired = await runCli(['screen', '--json', '--from', '+4930901833', '--trunk', 'de-national'], { env });
    expect(JSON.parse(expired.stdout).verdict).toBe('allow');

    const out = join(dir, 'export.csv');
    const exported = await runCli(['list', 'export', '--kind', 'number,prefix', '--out', out], { env });
    expect(exported.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toBe('kind,value,brand,reason,label,source,country,match,expiresAt');
    expect(text).toContain('number,+4930901830,paypal,,fake support,analyst report');
    expect(text).toContain('prefix,+49900,premium');
    expect(text).toContain('number,+18882804331,amazon');
    // the export imports again unchanged
    const reimport = await runCli(['list', 'import', out], { env });
    expect(reimport.code).toBe(0);
  });

  it('exports a JSON array that imports again unchanged', async () => {
    const out = join(dir, 'export.json');
    const exported = await runCli(['list', 'export', '--format', 'json', '--out', out], { env });
    expect(exported.code).toBe(0);
    const entries = JSON.parse(readFileSync(out, 'utf8')) as { kind: string; value: string }[];
    expect(entries.length).toBe(Number(/exported (\d+) entries/.exec(exported.stderr)?.[1]));
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'number', value: '+18882804331', brand: 'amazon' }));
    const reimport = await runCli(['list', 'import', out], { env });
    expect(reimport.code).toBe(0);
    expect(reimport.stdout).toMatch(new RegExp(`imported ${entries.length} entries`));
  });

  it('imports JSON and reports bad entries by position', async () => {
    const file = join(dir, 'import.json');
    writeFileSync(
      file,
      JSON.stringify([{ kind: 'allow', value: '+18882804331', source: 'confirmed' }, { kind: 'number' }]),
    );
    const result = await runCli(['list', 'import', file], { env });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`${file}:2: value:`);
    const check = await runCli(['screen', '--json', '--from', '+18882804331'], { env });
    expect(JSON.parse(check.stdout).verdict).toBe('allow');
    expect((await runCli(['list', 'remove', 'allow', '+18882804331'], { env })).stdout).toContain('removed');
  });

  it('adds and removes single entries, and allows a brand for one subscriber', async () => {
    expect(
      (await runCli(['list', 'add', 'number', '+4930901840', '--brand', 'amazon', '--label', 'spoofed'], { env })).code,
    ).toBe(0);
    const flagged = await runCli(
      ['screen', '--json', '--from', '+4930901840', '--to', '+4930901820', '--trunk', 'de-national'],
      { env },
    );
    expect(JSON.parse(flagged.stdout).verdict).toBe('warn');
    expect(
      (
        await runCli(
          [
            'list',
            'allow-for',
            '+4930901820',
            'brand:amazon',
            '--expires',
            new Date(Date.now() + 3600e3).toISOString(),
          ],
          { env },
        )
      ).code,
    ).toBe(0);
    const allowed = await runCli(
      ['screen', '--json', '--from', '+4930901840', '--to', '+4930901820', '--trunk', 'de-national'],
      { env },
    );
    expect(JSON.parse(allowed.stdout).verdict).toBe('allow');
    const bad = await runCli(['list', 'add', 'number', 'twelve'], { env });
    expect(bad.code).toBe(65);
    expect(bad.stderr).toContain('telephone number');
  });

  it('stops with a clear message on invalid config', async () => {
    const result = await runCli(['screen', '--from', '+4930901820'], {
      env: { ...env, SPOOFGUARD_SCREENING_BUDGET_MS: 'fast' },
    });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('screening.budgetMs (env SPOOFGUARD_SCREENING_BUDGET_MS)');
  });
});
