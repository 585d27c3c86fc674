import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { Spool } from '../../services/events/spool';
import { quietLogger } from '../support/config';
import { itWhen } from '../support/skip';

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

  it('replays a large file as it reads it, a chunk at a time, in order, across read boundaries and a torn line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-spool-big-'));
    const spool = new Spool(dir, 'big', logger);
    // a dead process's file of 20,000 events: multi-byte names, so lines straddle the 64 KiB reads mid-character
    const lines = Array.from({ length: 20_000 }, (_, n) =>
      JSON.stringify({ n, name: `Ämäzön ☎ ${'é'.repeat(n % 50)}` }),
    );
    lines.splice(10_000, 0, '{"n": torn');
    writeFileSync(join(dir, 'big.1.dead.ndjson'), `${lines.join('\n')}\n{"n":20000`);
    const seen: number[] = [];
    let largest = 0;
    await spool.drain(async (records) => {
      largest = Math.max(largest, records.length);
      for (const r of records) {
        expect((r as { name: string }).name).toMatch(/^Ämäzön ☎ é*$/);
        seen.push((r as { n: number }).n);
      }
    }, 300);
    expect(largest).toBe(300);
    // every whole line once, in order; the torn lines (one inside, one cut off at the end) skipped
    expect(seen).toEqual(Array.from({ length: 20_000 }, (_, n) => n));
    expect(readdirSync(dir).filter((f) => f.startsWith('big.1.dead'))).toEqual([]);
    await spool.close();
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

  it('two processes of one role keep a file each: one replaying does not lose what the other appends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-spool-'));
    const a = new Spool(dir, 'sip', logger);
    const b = new Spool(dir, 'sip', logger);
    const replayed: unknown[] = [];
    const send = async (records: unknown[]): Promise<void> => void replayed.push(...records);
    for (let n = 0; n < 50; n++) await b.append({ b: n });
    for (let n = 0; n < 10; n++) await a.append({ a: n });
    await a.drain(send); // a's own file; b's is b's while b lives
    for (let n = 50; n < 100; n++) await b.append({ b: n });
    await b.drain(send);
    expect(replayed).toHaveLength(110);
    expect(replayed.filter((r) => 'b' in (r as object))).toEqual(Array.from({ length: 100 }, (_, n) => ({ b: n })));
    await a.close();
    await b.close();
  });

  it('takes over the spool of a process that was killed, once, after its lock went stale', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-spool-'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'spool-child.ts'), dir, '20'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.includes('spooled') && resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    // two live processes of the role (this one restarted, and a second one) both try to replay
    const c = new Spool(dir, 'sip', logger, { staleMs: 2000 });
    const d = new Spool(dir, 'sip', logger, { staleMs: 2000 });
    expect(c.pending).toBe(true);
    const replayed: unknown[] = [];
    const send = async (records: unknown[]): Promise<void> => void replayed.push(...records);
    const deadline = Date.now() + 15_000;
    while ((c.pending || d.pending) && Date.now() < deadline) {
      await Promise.all([c.drain(send), d.drain(send)]);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(replayed).toEqual(Array.from({ length: 20 }, (_, n) => ({ n, from: child.pid })));
    await c.close();
    await d.close();
    // nothing left behind: no file and no lock of the dead process
    expect(readdirSync(dir)).toEqual([]);
  });

  it('still spools when its lock cannot be taken (a full disk at start), and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-spool-'));
    const spy = jest.spyOn(lockfile, 'lockSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, mkdir'), { code: 'ENOSPC' });
    });
    const errors: string[] = [];
    const watching = quietLogger();
    jest.spyOn(watching, 'error').mockImplementation(((obj: unknown, msg?: string) => {
      errors.push(msg ?? String(obj));
    }) as typeof watching.error);
    try {
      const spool = new Spool(dir, 'ari', watching);
      await spool.append({ n: 1 });
      const replayed: unknown[] = [];
      expect(await spool.drain(async (records) => void replayed.push(...records))).toBe(1);
      expect(replayed).toEqual([{ n: 1 }]);
      expect(errors).toEqual([expect.stringMatching(/^spool lock not taken/)]);
      await spool.close();
    } finally {
      spy.mockRestore();
    }
  });

  describe('on a disk that fills up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-spool-full-'));
    // a 64 KiB tmpfs is the full disk: mounting it needs root (CI runs as root, where it must run)
    let mounted = false;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
      mounted = true;
    } catch {
      // itWhen below says so
    }
    afterAll(() => {
      if (mounted) execFileSync('umount', ['-l', dir]);
    });

    itWhen(mounted, 'the spool full-disk test needs to mount a 64 KiB tmpfs (root)')(
      'loses only what it could not write, says so once, cuts torn lines away and recovers',
      async () => {
        const errors: unknown[] = [];
        const warnings: unknown[] = [];
        const watching = quietLogger();
        jest
          .spyOn(watching, 'error')
          .mockImplementation(((obj: unknown) => void errors.push(obj)) as typeof watching.error);
        jest
          .spyOn(watching, 'warn')
          .mockImplementation(((obj: unknown) => void warnings.push(obj)) as typeof watching.warn);
        const spool = new Spool(dir, 'full', watching);
        // leave room for a few dozen events of ~1 KB (tmpfs counts whole 4 KiB pages)
        writeFileSync(join(dir, 'filler'), Buffer.alloc(40 * 1024));
        const pad = 'x'.repeat(1000);
        // one at a time until the disk is full (some write fills it in the middle of a line), then a group
        const results: number[] = [];
        for (let n = 0; n < 60; n++)
          results.push(
            await spool.append({ n, pad }).then(
              () => n,
              () => -1,
            ),
          );
        results.push(
          ...(await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              spool.append({ n: 60 + i, pad }).then(
                () => 60 + i,
                () => -1,
              ),
            ),
          )),
        );
        const kept = results.filter((n) => n >= 0);
        const lost = results.length - kept.length;
        expect(kept.length).toBeGreaterThan(0);
        expect(lost).toBeGreaterThan(0);
        expect(spool.lostEvents).toBe(lost);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ code: 'ENOSPC' });

        rmSync(join(dir, 'filler'));
        await spool.append({ n: 99, pad });
        expect(warnings).toEqual([expect.objectContaining({ lostEvents: lost })]);
        const replayed: number[] = [];
        await spool.drain(async (records) => void replayed.push(...records.map((r) => (r as { n: number }).n)));
        // every acknowledged event, in order, none torn
        expect(replayed).toEqual([...kept, 99]);
        await spool.close();
        expect(errors).toHaveLength(1);
      },
    );
  });
});
