import { BudgetExceededError } from '../common/within-budget';

interface Pending<Q, A> {
  query: Q;
  deadline: number;
  resolve(answer: A): void;
  reject(err: unknown): void;
}

interface Watched<Q, A> {
  deadline: number;
  batch: Pending<Q, A>[];
}

/**
 * Look-ups asked for in one turn of the event loop go out together, at most `maxBatch` to a round trip. Each
 * look-up must be answered within `budgetMs` or it fails with BudgetExceededError (the call fails open). A batch
 * has the deadline of its first look-up (all were asked for in the same turn); the deadlines of every batch in
 * flight are enforced by one timer, armed for the earliest and re-armed when it fires, instead of a timer made
 * and cleared for every batch on the call path's critical path. A promise settles once: whichever of the answer
 * and the deadline comes second does nothing.
 */
export class LookupBatcher<Q, A> {
  private pending: Pending<Q, A>[] = [];
  private flushScheduled = false;
  private readonly inFlight = new Set<Watched<Q, A>>();
  private budgetTimer?: NodeJS.Timeout;

  constructor(
    /** Answers a batch, one answer per query in order; a rejection fails the whole batch. */
    private readonly answer: (queries: Q[]) => Promise<A[]>,
    private readonly maxBatch: number,
    private readonly budgetMs: number,
  ) {}

  ask(query: Q): Promise<A> {
    return new Promise((resolve, reject) => {
      this.pending.push({ query, deadline: Date.now() + this.budgetMs, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.pending.length) void this.send(this.pending.splice(0, this.maxBatch));
  }

  private async send(batch: Pending<Q, A>[]): Promise<void> {
    const watched = { deadline: batch[0].deadline, batch };
    this.watch(watched);
    try {
      const answers = await this.answer(batch.map((p) => p.query));
      batch.forEach((p, i) => p.resolve(answers[i] as A));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight.delete(watched);
    }
  }

  private watch(watched: Watched<Q, A>): void {
    this.inFlight.add(watched);
    if (!this.budgetTimer) this.armBudgetTimer(watched.deadline);
  }

  private armBudgetTimer(at: number): void {
    this.budgetTimer = setTimeout(() => this.expireLate(), Math.max(0, at - Date.now()));
    // a command in flight keeps the process alive by its socket; the timer alone must not
    this.budgetTimer.unref();
  }

  private expireLate(): void {
    this.budgetTimer = undefined;
    const now = Date.now();
    let next = Infinity;
    for (const watched of this.inFlight) {
      if (watched.deadline <= now) {
        this.inFlight.delete(watched);
        const late = new BudgetExceededError(`no answer from Redis within ${this.budgetMs} ms`);
        for (const p of watched.batch) p.reject(late);
      } else next = Math.min(next, watched.deadline);
    }
    if (next !== Infinity) this.armBudgetTimer(next);
  }
}
