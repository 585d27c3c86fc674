/**
 * Confirms that the writes made so far on one Redis connection reached `replicas` replicas (Redis WAIT). Redis
 * answers a write before it replicates it: a failover to a replica that had not got it loses a write already
 * answered. One WAIT covers every earlier write of its connection, so everyone waiting at once shares one; a
 * caller whose write may have come after the WAIT under way was sent joins the next one.
 */
export class ReplicaAck {
  private inFlight?: Promise<number>;
  private following?: Promise<number>;

  constructor(
    private readonly wait: (replicas: number, timeoutMs: number) => Promise<number>,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {
    // WAIT with a timeout of 0 blocks until the replicas answer, however long that is
    if (timeoutMs < 1) throw new RangeError('ReplicaAck needs a timeout of at least 1 ms');
  }

  /** Resolves once a WAIT sent after this call saw enough replicas; throws, saying how many, when it did not. */
  async confirm(): Promise<void> {
    const acked = await this.nextWait();
    if (acked < this.replicas)
      throw new Error(
        `${acked} of ${this.replicas} Redis replica(s) confirmed the write within ${this.timeoutMs} ms (WAIT)`,
      );
  }

  private nextWait(): Promise<number> {
    if (!this.inFlight) return this.send();
    this.following ??= this.inFlight
      .catch(() => 0)
      .then(() => {
        this.following = undefined;
        return this.send();
      });
    return this.following;
  }

  private send(): Promise<number> {
    const sent: Promise<number> = this.wait(this.replicas, this.timeoutMs).finally(() => {
      if (this.inFlight === sent) this.inFlight = undefined;
    });
    this.inFlight = sent;
    return sent;
  }
}
