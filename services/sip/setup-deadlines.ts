/**
 * Waits for the final answers of calls in setup, each up to its deadline, with one shared timer that looks at
 * all of them once a second (a second more or less on a timeout of minutes changes nothing). A timer, a
 * timeout promise and a Promise.race for every INVITE cost the SIP front more than all of this.
 */
export class SetupDeadlines {
  private readonly waits = new Set<{ deadline: number; giveUp: () => void }>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly sweepMs = 1000) {}

  /** The answer, or undefined when it did not come within `ms` (the answer is then ignored). */
  within<T>(answer: Promise<T>, ms: number): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      const wait = { deadline: Date.now() + ms, giveUp: () => resolve(undefined) };
      this.waits.add(wait);
      if (!this.timer) {
        this.timer = setInterval(() => this.sweep(), this.sweepMs);
        this.timer.unref();
      }
      answer.then(
        (value) => {
          this.waits.delete(wait);
          resolve(value);
        },
        (err: unknown) => {
          this.waits.delete(wait);
          reject(err);
        },
      );
    });
  }

  get pending(): number {
    return this.waits.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const wait of this.waits) {
      if (wait.deadline > now) continue;
      this.waits.delete(wait);
      wait.giveUp();
    }
    if (this.waits.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
