import type { Logger } from '../common/logger';
import { withinBudget } from '../common/within-budget';
import { EventRefusedError, InvalidEventError, StoreUnavailableError } from '../events/errors';
import type { FlaggedCallEvent } from '../events/flagged-call';
import { type LogStore, permanentRefusal } from '../flagged-log';

interface Waiting {
  event: FlaggedCallEvent;
  done: () => void;
  failed: (err: Error) => void;
}

/**
 * Collects the events of the jobs in hand and writes them in one transaction: when `batchSize` are waiting,
 * or `batchWaitMs` after the first. Each job's promise settles with its event's write. When the transaction
 * fails, the store decides what failed: if it does not answer, the whole batch is retried with backoff
 * (StoreUnavailableError); if it does, the events are written one by one, so an event the store refuses
 * (PostgreSQL takes no NUL character in text, for instance) fails alone with its reason and the rest are stored.
 */
export class BatchWriter {
  private waiting: Waiting[] = [];
  private timer?: NodeJS.Timeout;
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly store: LogStore,
    private readonly options: { batchSize: number; batchWaitMs: number; writeTimeoutMs: number },
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

  /** One write, bounded: a store that hangs silently must not hold the worker's slots. */
  private upsert(events: FlaggedCallEvent[]): Promise<void> {
    return withinBudget(this.store.upsert(events), this.options.writeTimeoutMs, 'the log store did not answer');
  }

  private async writeBatch(batch: Waiting[]): Promise<void> {
    try {
      await this.upsert(batch.map((w) => w.event));
      for (const w of batch) w.done();
      return;
    } catch (err) {
      const answers = await withinBudget(this.store.ping(), this.options.writeTimeoutMs).then(
        () => true,
        () => false,
      );
      if (answers) return this.writeOneByOne(batch, err as Error);
      this.logger.warn(
        { events: batch.length, err: (err as Error).message },
        'log store did not take the batch and does not answer; the jobs will retry',
      );
      const failure = new StoreUnavailableError(`log store: ${(err as Error).message}`);
      for (const w of batch) w.failed(failure);
    }
  }

  /** The store answers but refused the batch: each event on its own, so one bad event cannot sink the others. */
  private async writeOneByOne(batch: Waiting[], batchError: Error): Promise<void> {
    const refused: { callId: string; err: string }[] = [];
    for (const w of batch) {
      try {
        await this.upsert([w.event]);
        w.done();
      } catch (err) {
        refused.push({ callId: w.event.callId, err: (err as Error).message });
        // refused for what it holds: no retry can succeed, so it goes to the failed set at once, with the reason
        const reason = `log store refused the event: ${(err as Error).message}`;
        w.failed(permanentRefusal(err) ? new InvalidEventError(reason) : new EventRefusedError(reason));
      }
    }
    this.logger.warn(
      { events: batch.length, refused: refused.slice(0, 10), batchErr: batchError.message },
      `log store refused ${refused.length} of ${batch.length} events of a batch; the others are stored, the refused ones retry alone`,
    );
  }

  /** Writes the rest and waits for every write in progress. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.all(this.writes);
  }
}
