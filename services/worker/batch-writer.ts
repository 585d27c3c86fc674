import type { Logger } from '../common/logger';
import { StoreUnavailableError } from '../events/errors';
import type { FlaggedCallEvent } from '../events/flagged-call';
import type { LogStore } from '../flagged-log';

interface Waiting {
  event: FlaggedCallEvent;
  done: () => void;
  failed: (err: Error) => void;
}

/**
 * Collects the events of the jobs in hand and writes them in one transaction: when `batchSize` are waiting,
 * or `batchWaitMs` after the first. Each job's promise settles with its batch, so a failed batch fails every
 * job in it, and BullMQ retries them with backoff.
 */
export class BatchWriter {
  private waiting: Waiting[] = [];
  private timer?: NodeJS.Timeout;
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly store: LogStore,
    private readonly options: { batchSize: number; batchWaitMs: number },
    private readonly logger: Logger,
  ) {}

  write(event: FlaggedCallEvent): Promise<void> {
    return new Promise((done, failed) => {
      this.waiting.push({ event, done, failed });
      if (this.waiting.length >= this.options.batchSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.batchWaitMs);
    });
  }

  /** Writes what waits now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    const write = this.writeBatch(batch);
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  private async writeBatch(batch: Waiting[]): Promise<void> {
    try {
      await this.store.upsert(batch.map((w) => w.event));
      for (const w of batch) w.done();
    } catch (err) {
      this.logger.warn(
        { events: batch.length, err: (err as Error).message },
        'log store did not take the batch; the jobs will retry',
      );
      const failure = new StoreUnavailableError(`log store: ${(err as Error).message}`);
      for (const w of batch) w.failed(failure);
    }
  }

  /** Writes the rest and waits for every write in progress. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.all(this.writes);
  }
}
