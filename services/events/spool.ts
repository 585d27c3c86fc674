import { existsSync, mkdirSync, statSync } from 'node:fs';
import { type FileHandle, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/logger';

/**
 * An append-only file of events that could not reach Redis. Lines are written and fsync'ed in groups (one
 * fsync for all lines that arrived meanwhile). Replay renames the file first, so events spooled during a
 * replay land in a fresh file and are replayed after it: the order is kept, nothing is lost on a crash.
 */
export class Spool {
  private readonly file: string;
  private readonly replayFile: string;
  private handle?: FileHandle;
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
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${name}.ndjson`);
    this.replayFile = join(dir, `${name}.replaying.ndjson`);
    this.onDisk = nonEmpty(this.file) || nonEmpty(this.replayFile);
  }

  /** Whether the files hold events: checked on disk once, then kept up to date here (no syscalls per emit). */
  private onDisk: boolean;

  /** True while spooled events wait for replay (or are being written). */
  get pending(): boolean {
    return this.onDisk || this.queued.length > 0 || this.groupScheduled || this.groupWriting;
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

  /** Writes every line that arrived meanwhile with one fsync. */
  private async writeGroup(): Promise<void> {
    this.groupScheduled = false;
    this.groupWriting = true;
    const group = this.queued;
    this.queued = [];
    try {
      this.handle ??= await open(this.file, 'a', 0o600);
      await this.handle.write(group.map((g) => g.line).join(''));
      await this.handle.datasync();
      this.onDisk = true;
      for (const g of group) g.done();
    } catch (err) {
      this.logger.error({ err, file: this.file }, 'spool write failed: events lost');
      for (const g of group) g.failed(err);
    } finally {
      this.groupWriting = false;
    }
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
      if (!nonEmpty(this.file)) {
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
      if (!nonEmpty(this.replayFile) && !(await this.rotate())) return sent;
      const records: unknown[] = [];
      for (const line of (await readFile(this.replayFile, 'utf8')).split('\n')) {
        if (!line) continue;
        try {
          records.push(JSON.parse(line));
        } catch {
          // a line torn by a crash mid-write: it was never acknowledged to the caller
          this.logger.warn({ file: this.replayFile }, 'skipping a torn spool line');
        }
      }
      for (let i = 0; i < records.length; i += chunk) await send(records.slice(i, i + chunk));
      await unlink(this.replayFile);
      sent += records.length;
      this.logger.info({ events: records.length }, 'spooled events replayed');
    }
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      await this.handle?.close();
      this.handle = undefined;
    });
  }
}

function nonEmpty(file: string): boolean {
  try {
    return existsSync(file) && statSync(file).size > 0;
  } catch {
    return false;
  }
}
