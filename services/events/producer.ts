import type { Logger } from '../common/logger';
import { withinBudget } from '../common/within-budget';
import type { Redis } from '../common/redis';
import { describeInvalid, type FlaggedCallEvent, flaggedCallEventSchema, jobIdOf } from './flagged-call';
import type { EventQueue, QueuedEvent } from './queue-adapter';
import type { Spool } from './spool';

export type EmitResult = 'queued' | 'spooled' | 'invalid' | 'lost';

const toJob = (event: FlaggedCallEvent): QueuedEvent => ({ jobId: jobIdOf(event), name: event.kind, data: event });

/** After a spooled event, the replay is tried this soon: a slow moment of a connected Redis is brief. */
const PROMPT_REPLAY_MS = 100;

/**
 * Emits FlaggedCall events without ever holding up a call: the queue gets `budgetMs`, after which (or at
 * once, while Redis is unreachable) the event is appended to the local spool, which is replayed in order once
 * Redis answers again. The job id makes a replay harmless. New events go straight to a connected Redis even
 * while older ones wait in the spool: the log merges a call's events in any order (flagged and outcome fill
 * different columns), and under load one slow add would otherwise send every later event through the disk.
 */
export class FlaggedCallProducer {
  private timer?: NodeJS.Timeout;
  private promptReplay?: NodeJS.Timeout;
  private readonly onReady = (): void => void this.replay();

  constructor(
    private readonly queue: EventQueue,
    private readonly connection: Redis,
    private readonly spool: Spool,
    private readonly budgetMs: number,
    private readonly logger: Logger,
    /** Sees every valid event (metrics); must not throw. */
    private readonly observe?: (event: FlaggedCallEvent) => void,
    /** Sees what became of every emit (metrics); must not throw. */
    private readonly observeResult?: (result: EmitResult) => void,
  ) {}

  /** What became of this producer's emits so far. */
  readonly results: Record<EmitResult, number> = { queued: 0, spooled: 0, invalid: 0, lost: 0 };

  private lastSlowLog = 0;
  private slowSinceLog = 0;

  start(replayEveryMs = 5000): void {
    this.connection.on('ready', this.onReady);
    this.timer = setInterval(() => void this.replay(), replayEveryMs);
    this.timer.unref();
    void this.replay();
  }

  /** Emits under way (not yet queued, spooled or given up). */
  private emitting = 0;

  /** Nothing of this producer's is on its way: no emit under way, nothing waiting in the spool. */
  get idle(): boolean {
    return this.emitting === 0 && !this.spool.pending;
  }

  async emit(event: FlaggedCallEvent): Promise<EmitResult> {
    this.emitting++;
    try {
      const result = await this.emitOnce(event);
      this.results[result]++;
      this.observeResult?.(result);
      return result;
    } finally {
      this.emitting--;
    }
  }

  private async emitOnce(event: FlaggedCallEvent): Promise<EmitResult> {
    const parsed = flaggedCallEventSchema.safeParse(event);
    if (!parsed.success) {
      this.logger.error(
        { callId: (event as { callId?: unknown })?.callId, problem: describeInvalid(parsed.error) },
        'invalid FlaggedCall event not emitted',
      );
      return 'invalid';
    }
    this.observe?.(parsed.data);
    const job = toJob(parsed.data);
    if (this.connection.status === 'ready') {
      try {
        await withinBudget(this.queue.add(job), this.budgetMs);
        return 'queued';
      } catch (err) {
        this.noteSlowQueue(event.callId, err as Error);
      }
    }
    try {
      await this.spool.append(parsed.data);
      this.replaySoon();
      return 'spooled';
    } catch {
      return 'lost';
    }
  }

  /** While Redis is connected, spooled events are replayed within PROMPT_REPLAY_MS, not at the periodic replay. */
  private replaySoon(): void {
    if (this.promptReplay || this.connection.status !== 'ready') return;
    this.promptReplay = setTimeout(() => {
      this.promptReplay = undefined;
      void this.replay();
    }, PROMPT_REPLAY_MS);
    this.promptReplay.unref();
  }

  /** One line a second at most: events emitted together all time out together. */
  private noteSlowQueue(callId: string, err: Error): void {
    const now = Date.now();
    if (now - this.lastSlowLog < 1000) {
      this.slowSinceLog++;
      return;
    }
    this.logger.warn(
      { callId, err: err.message, alsoSpooled: this.slowSinceLog },
      'queue did not take the event in time: spooling it',
    );
    this.lastSlowLog = now;
    this.slowSinceLog = 0;
  }

  /** Sends spooled events to the queue when Redis answers. */
  async replay(): Promise<number> {
    if (this.connection.status !== 'ready' || !this.spool.pending) return 0;
    try {
      const replayed = await this.spool.drain(async (records) => {
        const parsed = records.map((r) => flaggedCallEventSchema.safeParse(r));
        const jobs = parsed.flatMap((p) => (p.success ? [toJob(p.data)] : []));
        // events were validated before they were spooled: only a damaged file gets here
        if (jobs.length < records.length)
          this.logger.error({ dropped: records.length - jobs.length }, 'spooled events no longer valid: not replayed');
        await this.queue.addBulk(jobs);
      });
      // an event spooled just as the drain found the files empty would otherwise wait for the periodic replay
      if (this.spool.pending) this.replaySoon();
      return replayed;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'spool replay interrupted; will try again');
      return 0;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.promptReplay);
    this.connection.off('ready', this.onReady);
    await this.replay();
    await this.spool.close();
  }
}
