import { logErrorKindsOnce } from '../common/error-kinds';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from '../common/logger';
import type { Redis } from '../common/redis';
import { InvalidEventError } from './errors';
import { ReplicaAck } from './replica-ack';

/** The only module that imports bullmq: the event queue, its worker, and what the CLI asks of them. */

export interface QueueSettings {
  name: string;
  prefix: string;
  attempts: number;
  backoffMs: number;
  failedKeep: number;
  /** Replicas that must confirm an add (WAIT) before it resolves; 0: none. */
  replicasToAck?: number;
  /** How long such a WAIT may take. */
  emitBudgetMs?: number;
}

export interface QueuedEvent {
  jobId: string;
  name: string;
  data: unknown;
}

export interface FailedJob {
  id: string;
  name: string;
  reason: string;
  attemptsMade: number;
  failedAt?: string;
  data: unknown;
}

export type JobCounts = Record<'waiting' | 'active' | 'delayed' | 'failed' | 'completed' | 'prioritized', number>;

export class EventQueue {
  private readonly queue: Queue;
  private readonly replicaAck?: ReplicaAck;

  constructor(connection: Redis, settings: QueueSettings, logger?: Logger) {
    // the WAIT goes on the connection the adds went on (BullMQ's Queue uses the one it is given)
    if (settings.replicasToAck)
      this.replicaAck = new ReplicaAck(
        (replicas, timeoutMs) => connection.wait(replicas, timeoutMs),
        settings.replicasToAck,
        settings.emitBudgetMs ?? 100,
      );
    this.queue = new Queue(settings.name, {
      connection,
      prefix: settings.prefix,
      // nothing reads the queue's event stream; trimming a long one was half of an add's p99
      streams: { events: { maxLen: 100 } },
      defaultJobOptions: {
        attempts: settings.attempts,
        backoff: { type: 'exponential', delay: settings.backoffMs },
        // completed jobs are in the log already: Redis keeps none, so it cannot grow without bound
        removeOnComplete: true,
        removeOnFail: { count: settings.failedKeep },
      },
    });
    this.queue.on('error', logger ? logErrorKindsOnce(logger, 'BullMQ queue') : () => undefined);
  }

  /** Resolves once Redis holds the event (and queue.replicasToAck replicas do). */
  async add(event: QueuedEvent): Promise<void> {
    await this.queue.add(event.name, event.data, { jobId: event.jobId });
    await this.replicaAck?.confirm();
  }

  async addBulk(events: readonly QueuedEvent[]): Promise<void> {
    if (!events.length) return;
    await this.queue.addBulk(events.map((e) => ({ name: e.name, data: e.data, opts: { jobId: e.jobId } })));
    await this.replicaAck?.confirm();
  }

  async counts(): Promise<JobCounts> {
    return (await this.queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'failed',
      'completed',
      'prioritized',
    )) as JobCounts;
  }

  async failed(start = 0, end = 99): Promise<FailedJob[]> {
    const jobs = await this.queue.getFailed(start, end);
    return jobs
      .filter((j): j is Job => Boolean(j))
      .map((job) => ({
        id: String(job.id),
        name: job.name,
        reason: job.failedReason,
        attemptsMade: job.attemptsMade,
        failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : undefined,
        data: job.data,
      }));
  }

  /** Moves failed jobs back to waiting: the given ones, or all. Returns how many. */
  async retryFailed(ids?: readonly string[]): Promise<number> {
    if (!ids) {
      const count = (await this.counts()).failed;
      await this.queue.retryJobs({ state: 'failed', count: 1000 });
      return count;
    }
    let retried = 0;
    for (const id of ids) {
      const job = await this.queue.getJob(id);
      if (job && (await job.isFailed())) {
        await job.retry('failed');
        retried++;
      }
    }
    return retried;
  }

  /**
   * Events still on their way to the log: waiting, being stored, or delayed for a retry. The next run of a
   * scheduled maintenance job (delayed too) is not an event.
   */
  async eventsInFlight(): Promise<number> {
    // each job scheduler keeps its next run as one delayed job
    const [c, schedulers] = await Promise.all([this.counts(), this.queue.getJobSchedulersCount()]);
    return c.waiting + c.active + c.prioritized + Math.max(0, c.delayed - schedulers);
  }

  /**
   * A repeatable job (one per id however many processes schedule it): every so many ms, or at the times of a
   * cron pattern (UTC).
   */
  async schedule(id: string, repeat: number | { pattern: string }, data: object = {}): Promise<void> {
    await this.queue.upsertJobScheduler(
      id,
      typeof repeat === 'number' ? { every: repeat } : { pattern: repeat.pattern, tz: 'UTC' },
      { name: id, data, opts: { attempts: 3, removeOnComplete: true, removeOnFail: { count: 100 } } },
    );
  }

  /** Stops a repeatable job (nothing when there is none). */
  async unschedule(id: string): Promise<void> {
    await this.queue.removeJobScheduler(id);
  }

  /** The repeatable jobs: id, cron pattern or interval, next run. */
  async schedules(): Promise<{ id: string; pattern?: string; everyMs?: number; next?: number }[]> {
    const schedulers = await this.queue.getJobSchedulers();
    return schedulers.map((s) => ({
      id: s.key,
      ...(s.pattern ? { pattern: s.pattern } : {}),
      ...(s.every ? { everyMs: Number(s.every) } : {}),
      ...(s.next ? { next: s.next } : {}),
    }));
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface WorkerSettings {
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

export interface JobContext {
  id: string;
  name: string;
  attemptsMade: number;
}

/** Handles one job. Throw InvalidEventError for a payload that can never succeed; anything else is retried. */
export type JobHandler = (data: unknown, job: JobContext) => Promise<void>;

export interface RunningWorker {
  /** Stops taking jobs and waits for the ones in hand (their batch is written first). */
  close(): Promise<void>;
}

export function startWorker(
  connection: Redis,
  settings: QueueSettings & WorkerSettings,
  handler: JobHandler,
  logger: Logger,
): RunningWorker {
  const worker = new Worker(
    settings.name,
    async (job: Job) => {
      try {
        await handler(job.data, { id: String(job.id), name: job.name, attemptsMade: job.attemptsMade });
      } catch (err) {
        if (err instanceof InvalidEventError) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    {
      connection,
      prefix: settings.prefix,
      concurrency: settings.concurrency,
      lockDuration: settings.lockDurationMs,
      stalledInterval: settings.stalledIntervalMs,
      maxStalledCount: 5,
    },
  );
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    logger[final ? 'error' : 'warn'](
      { jobId: job.id, attempt: job.attemptsMade, err: err.message },
      final ? 'job failed for good: moved to the failed set' : 'job failed: will retry',
    );
  });
  worker.on('stalled', (jobId) => logger.warn({ jobId }, 'job of a stopped worker taken over'));
  worker.on('error', logErrorKindsOnce(logger, 'BullMQ worker'));
  return { close: () => worker.close() };
}
