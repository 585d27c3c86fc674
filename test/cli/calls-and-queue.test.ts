import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../services/common/config';
import { openQueue } from '../../services/events';
import { openLogStore } from '../../services/flagged-log';
import { envFor } from '../support/child';
import { testConfig } from '../support/config';
import { dropQueue, flagged, outcome } from '../support/events';
import { runCli } from './run-cli';

let config: Config;
beforeAll(async () => {
  config = testConfig();
  const store = await openLogStore(config);
  const base = Date.parse('2026-11-20T08:00:00Z');
  await store.upsert(
    Array.from({ length: 30 }, (_, i) => [
      flagged(`cli-${i}`, {
        receivedAt: new Date(base + i * 3600_000).toISOString(),
        brand: i % 3 ? 'amazon' : 'paypal',
        caller: { raw: `+4930${i}`, e164: `+4930${i}`, kind: 'number' },
      }),
      outcome(`cli-${i}`, i % 2 ? 'rejected' : 'accepted'),
    ]).flat(),
  );
  await store.close();
});
afterAll(() => dropQueue(config));

const cli = (args: string[]) => runCli(args, { env: envFor(config) });

describe('spoofguard calls', () => {
  it('lists with filters, newest first', async () => {
    const result = await cli([
      'calls',
      'list',
      '--brand',
      'amazon',
      '--outcome',
      'rejected',
      '--format',
      'json',
      '--limit',
      '100',
    ]);
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.every((r) => r.brand === 'amazon' && r.outcome === 'rejected')).toBe(true);
    expect(rows.length).toBe(10);
    expect(rows[0].receivedAt).toBeGreaterThan(rows[rows.length - 1].receivedAt);
  });

  it('exports CSV for a time range to a file', async () => {
    const out = join(config.queue.spoolDir, '..', 'calls.csv');
    const result = await cli([
      'calls',
      'export',
      '--since',
      '2026-11-20T10:00:00Z',
      '--until',
      '2026-11-20T20:00:00Z',
      '--out',
      out,
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('exported 10 calls');
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(
      'callId,source,receivedAt,callerE164,callerRaw,displayName,called,trunk,verdict,score,reasons,brand,degraded,outcome,ringMs,warningMs,talkMs,endedAt,sipCallId,channelId,stir,stirDetail,stirOrigid,reportedAt',
    );
    expect(lines).toHaveLength(11);
    expect(lines[1]).toMatch(/^cli-11,ari,2026-11-20T19:00:00.000Z,\+493011,/);
  });

  it('an export whose file cannot be written fails with the reason and a non-zero exit, not a hang', async () => {
    const out = join(config.queue.spoolDir, '..', 'no-such-folder', 'calls.csv');
    const result = await cli(['calls', 'export', '--out', out]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/ENOENT|no such file/i);
    expect(result.stderr).not.toContain('exported');
  });

  it('rejects bad filters with a clear message', async () => {
    const result = await cli(['calls', 'list', '--since', 'yesterday-ish']);
    expect(result.code).toBe(65);
    expect(result.stderr).toContain('"yesterday-ish" is not a time');
    const caller = await cli(['calls', 'list', '--caller', '0301234']);
    expect(caller.stderr).toContain('an E.164 number');
  });
});

describe('spoofguard queue', () => {
  it('shows counts, lists failed jobs with their reasons, and retries them', async () => {
    const { queue, close } = openQueue(config);
    await queue.add({ jobId: 'broken-1', name: 'flagged', data: { v: 1, kind: 'flagged' } });
    await close();
    // a worker fails the job for good (invalid payload), in its own process
    const { spawnSpoofguard, exited } = await import('../support/child');
    const worker = spawnSpoofguard(['worker'], config);
    const deadline = Date.now() + 15000;
    let failed: string[] = [];
    while (Date.now() < deadline) {
      failed = (await cli(['queue', 'failed'])).stdout.trim().split('\n').filter(Boolean);
      if (failed.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    worker.kill('SIGTERM');
    await exited(worker);
    expect(JSON.parse(failed[0])).toMatchObject({ id: 'broken-1', name: 'flagged' });
    expect(JSON.parse(failed[0]).reason).toMatch(/invalid FlaggedCall event/);
    const status = JSON.parse((await cli(['queue', 'status'])).stdout);
    expect(status.failed).toBe(1);
    expect((await cli(['queue', 'retry', 'broken-1'])).stdout).toBe('retried 1 jobs\n');
    expect(JSON.parse((await cli(['queue', 'status'])).stdout).failed).toBe(0);
  });
});
