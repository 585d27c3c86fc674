import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { type FileHandle, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import type { Logger } from '../common/logger';

const SPOOL = '.ndjson';
const REPLAYING = '.replaying.ndjson';
const LOCK = `${SPOOL}.lock`;

/**
 * An append-only file of events that could not reach Redis, one per process: `<name>.<pid>.<random>.ndjson`,
 * held under a lock (proper-lockfile: a lock directory whose time the owner renews). Lines are written and
 * fsync'ed in groups (one fsync for all lines that arrived meanwhile). Replay renames the file first, so events
 * spooled during a replay land in a fresh file and are replayed after it: the order is kept, nothing is lost on
 * a crash. Spool files of processes that ended (lock released) or died (lock not renewed for `staleMs`) are
 * taken over by whichever process replays next, under their lock: each is replayed by one process, once.
 */
export class Spool {
  private readonly dir: string;
  private readonly base: string;
  private readonly file: string;
  private readonly replayFile: string;
  private release?: () => void;
  private readonly staleMs: number;
  private handle?: FileHandle;
  /** Bytes in the open spool file (appends go to its end). */
  private size = 0;
  private queued: { line: string; done: () => void; failed: (err: unknown) => void }[] = [];
  /** A group write is scheduled on `fileOps` and has not started yet. */
  private groupScheduled = false;
  /** A group write is under way (its lines are not on disk yet). */
  private groupWriting = false;
  /** Group writes and file rotations run one after another: a rotation falls between two groups. */
  private fileOps: Promise<unknown> = Promise.resolve();
  private draining?: Promise<number>;

  constructor(
    dir: string,
    name: string,
    private readonly logger: Logger,
    options: { staleMs?: number } = {},
  ) {
    mkdirSync(dir, { recursive: true });
    this.dir = dir;
    this.staleMs = Math.max(2000, options.staleMs ?? 10_000);
    this.base = `${name}.${process.pid}.${randomBytes(3).toString('hex')}`;
    this.file = join(dir, `${this.base}${SPOOL}`);
    this.replayFile = join(dir, `${this.base}${REPLAYING}`);
    // the lock first: a file without one would look like a dead process's to the others
    try {
      this.release = lockfile.lockSync(this.file, {
        realpath: false,
        stale: this.staleMs,
        onCompromised: (err) =>
          this.logger.error(
            { err: err.message, file: this.file },
            'spool lock lost (this process stalled longer than the lock stays fresh): another process may replay this file too; the job ids keep each event once in the queue',
          ),
      });
    } catch (err) {
      // a full or read-only disk must not keep a call-handling role from starting: it spools as it can
      this.logger.error(
        { err: (err as Error).message, file: this.file },
        'spool lock not taken: events are still spooled, but another process may take this file over',
      );
    }
    this.onDisk = false;
    // once, at start: whether dead processes left events (later drains look again, without blocking)
    this.orphans = orphansIn(readdirSync(this.dir), this.base).some((o) => o.hasFiles);
  }

  /** Whether this process's files hold events: kept up to date here (no syscalls per emit). */
  private onDisk: boolean;
  /** Whether other processes' spool files were seen: looked for again at every drain. */
  private orphans: boolean;

  /** True while spooled events wait for replay (or are being written), this process's or a dead one's. */
  get pending(): boolean {
    return this.onDisk || this.orphans || this.queued.length > 0 || this.groupScheduled || this.groupWriting;
  }

  /** Other processes' spools in the folder (read without blocking the event loop). */
  private async findOrphans(): Promise<{ base: string; hasFiles: boolean }[]> {
    return orphansIn(await readdir(this.dir), this.base);
  }

  append(record: unknown): Promise<void> {
    return new Promise((done, failed) => {
      this.queued.push({ line: `${JSON.stringify(record)}\n`, done, failed });
      if (!this.groupScheduled) {
        this.groupScheduled = true;
        void this.exclusive(() => this.writeGroup());
      }
    });
  }

  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.fileOps.then(op);
    this.fileOps = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes every line that arrived meanwhile with one fsync. A write can take only part of the lines (a disk
   * that fills up mid-write): the rest is written on, and when the disk refuses, the file is cut back to where
   * the group began, so no torn line is left to spoil the next group's first line.
   */
  private async writeGroup(): Promise<void> {
    this.groupScheduled = false;
    this.groupWriting = true;
    const group = this.queued;
    this.queued = [];
    let start: number | undefined;
    try {
      if (!this.handle) {
        this.handle = await open(this.file, 'a', 0o600);
        this.size = (await this.handle.stat()).size;
      }
      start = this.size;
      const bytes = Buffer.from(group.map((g) => g.line).join(''));
      for (let at = 0; at < bytes.length;) at += (await this.handle.write(bytes, at, bytes.length - at)).bytesWritten;
      await this.handle.datasync();
      this.size = start + bytes.length;
      this.onDisk = true;
      for (const g of group) g.done();
      this.noteWritable();
    } catch (err) {
      if (start !== undefined) await this.handle?.truncate(start).catch(() => undefined);
      this.noteLost(group.length, err as NodeJS.ErrnoException);
      for (const g of group) g.failed(err);
    } finally {
      this.groupWriting = false;
    }
  }

  /** Events lost since spool writes began to fail (a full or read-only disk); undefined while they succeed. */
  private lostSince?: { at: number; events: number };
  /** Events lost to failed spool writes since this spool was opened. */
  lostEvents = 0;

  /** One error line when writes begin to fail, not one per event or group: a full disk fails them all. */
  private noteLost(events: number, err: NodeJS.ErrnoException): void {
    this.lostEvents += events;
    if (this.lostSince) {
      this.lostSince.events += events;
      return;
    }
    this.lostSince = { at: Date.now(), events };
    this.logger.error(
      { err: err.message, code: err.code, file: this.file, events },
      'spool write failed (full or read-only disk?): events that Redis did not take are lost until a spool write succeeds again; calls go on',
    );
  }

  /** Says once how many events were lost, when writes succeed again. */
  private noteWritable(): void {
    if (!this.lostSince) return;
    this.logger.warn(
      { lostEvents: this.lostSince.events, forMs: Date.now() - this.lostSince.at, file: this.file },
      'spool writes succeed again',
    );
    this.lostSince = undefined;
  }

  /** Sends spooled events in order, in chunks; on failure they stay spooled for the next try. */
  drain(send: (records: unknown[]) => Promise<void>, chunk = 500): Promise<number> {
    this.draining ??= this.drainAll(send, chunk).finally(() => (this.draining = undefined));
    return this.draining;
  }

  /**
   * Moves the spool file aside for replay, between two group writes (not after every write: while events keep
   * arriving, writes never pause). False when there is nothing to replay.
   */
  private rotate(): Promise<boolean> {
    return this.exclusive(async () => {
      if (!(await nonEmpty(this.file))) {
        // nothing arrived while the last file was replayed: the spool is empty (unless a write is queued)
        this.onDisk = this.queued.length > 0 || this.groupScheduled;
        return false;
      }
      await this.handle?.close();
      this.handle = undefined;
      await rename(this.file, this.replayFile);
      return true;
    });
  }

  private async drainAll(send: (records: unknown[]) => Promise<void>, chunk: number): Promise<number> {
    let sent = 0;
    for (;;) {
      if (!(await nonEmpty(this.replayFile)) && !(await this.rotate())) break;
      sent += await this.sendFile(this.replayFile, send, chunk);
    }
    return sent + (await this.adoptOrphans(send, chunk));
  }

  /**
   * Sends one file's events in order, `chunk` at a time as they are read, then deletes it: a spool of any size
   * is replayed in the memory of one chunk and one read buffer, without blocking the event loop.
   */
  private async sendFile(file: string, send: (records: unknown[]) => Promise<void>, chunk: number): Promise<number> {
    const handle = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!handle) return 0;
    let sent = 0;
    try {
      const buffer = Buffer.alloc(READ_BYTES);
      const decoder = new StringDecoder('utf8');
      let rest = '';
      let records: unknown[] = [];
      const take = (line: string): void => {
        if (!line) return;
        try {
          records.push(JSON.parse(line));
        } catch {
          // a line torn by a crash mid-write: it was never acknowledged to the caller
          this.logger.warn({ file }, 'skipping a torn spool line');
        }
      };
      const flush = async (): Promise<void> => {
        if (!records.length) return;
        const batch = records;
        records = [];
        await send(batch);
        sent += batch.length;
      };
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        const lines = (rest + decoder.write(buffer.subarray(0, bytesRead))).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          take(line);
          if (records.length >= chunk) await flush();
        }
      }
      take(rest + decoder.end());
      await flush();
    } finally {
      await handle.close();
    }
    await unlink(file);
    if (sent) this.logger.info({ events: sent, file }, 'spooled events replayed');
    return sent;
  }

  /**
   * Replays the spool files of processes that ended or died: each under its lock, so that one process replays
   * it, once. A file whose owner still renews its lock is left to its owner.
   */
  private async adoptOrphans(send: (records: unknown[]) => Promise<void>, chunk: number): Promise<number> {
    let sent = 0;
    let left = false;
    for (const { base, hasFiles } of await this.findOrphans()) {
      const file = join(this.dir, `${base}${SPOOL}`);
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(file, { realpath: false, stale: this.staleMs, retries: 0 });
      } catch {
        // its owner is alive (or another process is replaying it right now)
        if (hasFiles) left = true;
        continue;
      }
      try {
        const events =
          (await this.sendFile(join(this.dir, `${base}${REPLAYING}`), send, chunk)) +
          (await this.sendFile(file, send, chunk));
        if (events) this.logger.info({ events, spool: base }, 'took over the spool of a process that ended');
        sent += events;
      } finally {
        await release().catch(() => undefined);
      }
    }
    this.orphans = left;
    return sent;
  }

  /** Closes the file and gives up the lock: what is left in the file is taken over by the next replay. */
  async close(): Promise<void> {
    await this.exclusive(async () => {
      await this.handle?.close();
      this.handle = undefined;
      if (this.lostSince)
        this.logger.error(
          { lostEvents: this.lostSince.events, forMs: Date.now() - this.lostSince.at, file: this.file },
          'spool closed while its writes failed: these events were lost',
        );
      this.lostSince = undefined;
      if (!(await nonEmpty(this.file))) await rm(this.file, { force: true }).catch(() => undefined);
      this.release?.();
      this.release = undefined;
    });
  }
}

/** How much of a spool file a replay reads at a time. */
const READ_BYTES = 64 * 1024;

async function nonEmpty(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}

/**
 * Other processes' spools among a folder's entries: their files, or only the lock a dead process left (taken
 * over to be removed). Their owners may be alive: the lock decides.
 */
function orphansIn(entries: readonly string[], ownBase: string): { base: string; hasFiles: boolean }[] {
  const bases = new Map<string, boolean>();
  for (const entry of entries) {
    if (entry.endsWith(REPLAYING)) bases.set(entry.slice(0, -REPLAYING.length), true);
    else if (entry.endsWith(SPOOL)) bases.set(entry.slice(0, -SPOOL.length), true);
    else if (entry.endsWith(LOCK)) {
      const base = entry.slice(0, -LOCK.length);
      if (!bases.has(base)) bases.set(base, false);
    }
  }
  bases.delete(ownBase);
  return [...bases].map(([base, hasFiles]) => ({ base, hasFiles }));
}
