import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from '../../services/events/spool';
import { quietLogger } from '../support/config';

const logger = quietLogger();

describe('spool', () => {
  it('replays while events keep arriving, ends when they pause, loses nothing and keeps the order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-spool-'));
    const spool = new Spool(dir, 'busy', logger);
    let appended = 0;
    let appending = true;
    // eight writers that never pause: there is always a group write in progress or queued
    const writers = Array.from({ length: 8 }, async () => {
      while (appending) await spool.append({ n: appended++ });
    });
    await new Promise((r) => setTimeout(r, 100));
    const replayed: number[] = [];
    const send = async (records: unknown[]): Promise<void> => {
      replayed.push(...records.map((r) => (r as { n: number }).n));
    };
    // events are replayed while the writers go on (a drain that first waited for them to go quiet sent nothing)
    const draining = spool.drain(send);
    const deadline = Date.now() + 5000;
    while (replayed.length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(replayed.length).toBeGreaterThanOrEqual(100);
    appending = false;
    await Promise.all(writers);
    await draining;
    expect(spool.pending).toBe(false);
    expect(replayed).toEqual(Array.from({ length: appended }, (_, i) => i));
    await spool.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is pending from the first append on, also while that append is being written', async () => {
    const spool = new Spool(mkdtempSync(join(tmpdir(), 'sg-spool-')), 'first', logger);
    expect(spool.pending).toBe(false);
    let written = false;
    const appended = spool.append({ n: 0 }).then(() => (written = true));
    const seen: boolean[] = [];
    // sample between every step of the write (open, write, fsync): an emit that saw false would overtake it
    while (!written) {
      seen.push(spool.pending);
      await new Promise((r) => setImmediate(r));
    }
    await appended;
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every(Boolean)).toBe(true);
    expect(spool.pending).toBe(true);
    await spool.drain(async () => undefined);
    expect(spool.pending).toBe(false);
    await spool.close();
  });

  it('keeps events spooled when sending fails, and sends them on the next drain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-spool-'));
    const spool = new Spool(dir, 'retry', logger);
    for (let n = 0; n < 5; n++) await spool.append({ n });
    await expect(
      spool.drain(async () => {
        throw new Error('Redis went away');
      }),
    ).rejects.toThrow('Redis went away');
    expect(spool.pending).toBe(true);
    await spool.append({ n: 5 });
    const replayed: unknown[] = [];
    expect(await spool.drain(async (records) => void replayed.push(...records))).toBe(6);
    expect(replayed).toEqual([0, 1, 2, 3, 4, 5].map((n) => ({ n })));
    // a new spool over the same directory (a restarted process) finds nothing left
    expect(new Spool(dir, 'retry', logger).pending).toBe(false);
    await spool.close();
  });
});
