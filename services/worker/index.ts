import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { createRedis } from '../common/redis';
import { InvalidEventError } from '../events/errors';
import { describeInvalid, flaggedCallEventSchema } from '../events/flagged-call';
import { EventQueue, type JobHandler, startWorker } from '../events/queue-adapter';
import { openLogStore, type LogStore } from '../flagged-log';
import { BatchWriter } from './batch-writer';
import { DIGEST_JOB_PREFIX, ReportDigest } from './report-digest';

export const RETENTION_JOB = 'retention';

export interface RunningLogWorker {
  store: LogStore;
  queue: EventQueue;
  /** Redis answers (readiness). */
  pingRedis(): Promise<unknown>;
  close(): Promise<void>;
}

/** The job handler: validates each payload at the boundary, stores events in batches, runs the retention purge. */
export function logJobHandler(
  store: LogStore,
  writer: BatchWriter,
  config: Config,
  logger: Logger,
  digest?: ReportDigest,
): JobHandler {
  return async (data, job) => {
    if (job.name.startsWith(DIGEST_JOB_PREFIX)) {
      if (digest) await digest.run(data);
      return;
    }
    if (job.name === RETENTION_JOB) {
      const before = Date.now() - config.flaggedLog.retentionDays * 86_400_000;
      const purged = await store.purgeBefore(before);
      logger.info({ purged, before: new Date(before).toISOString() }, 'retention purge');
      return;
    }
    const parsed = flaggedCallEventSchema.safeParse(data);
    if (!parsed.success) throw new InvalidEventError(`invalid FlaggedCall event: ${describeInvalid(parsed.error)}`);
    await writer.write(parsed.data);
  };
}

/** `spoofguard worker`: BullMQ worker that writes flagged-call events to the log. */
export async function runWorker(config: Config, logger: Logger): Promise<RunningLogWorker> {
  const log = logger.child({ role: 'worker' });
  const store = await openLogStore(config, logger);
  const writer = new BatchWriter(store, config.worker, log);
  const connection = createRedis(config.redis, 'queue', 'spoofguard-worker', logger);
  const queueConnection = createRedis(config.redis, 'admin', 'spoofguard-worker-scheduler', logger);
  const queue = new EventQueue(queueConnection, config.queue);
  await queue
    .schedule(RETENTION_JOB, config.flaggedLog.retentionEveryMs)
    .catch((err: Error) => log.warn({ err: err.message }, 'could not schedule the retention purge yet'));
  const digest = new ReportDigest(config, store, queue, log);
  await digest
    .schedule()
    .catch((err: Error) => log.warn({ err: err.message }, 'could not schedule the report digests yet'));
  const worker = startWorker(
    connection,
    { ...config.queue, ...config.worker },
    logJobHandler(store, writer, config, log, digest),
    log,
  );
  log.info({ store: store.kind, queue: config.queue.name, concurrency: config.worker.concurrency }, 'worker started');
  return {
    store,
    queue,
    pingRedis: () => queueConnection.ping(),
    close: async () => {
      // worker.close waits for the jobs in hand, whose promises settle when their batch is written
      const closing = worker.close();
      await writer.drain();
      await closing;
      await writer.drain();
      await queue.close();
      digest.close();
      connection.disconnect();
      queueConnection.disconnect();
      await store.close();
    },
  };
}
