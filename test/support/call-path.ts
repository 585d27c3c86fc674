import type { Config } from '../../services/common/config';
import type { Logger } from '../../services/common/logger';
import { type FlaggedCallProducer, openProducer } from '../../services/events';
import type { CallFilter, LogStore } from '../../services/flagged-log';
import type { Screening } from '../../services/screening';
import { runWorker, type RunningLogWorker } from '../../services/worker';
import { dropQueue, until } from './events';
import { dropPrefix } from './redis';
import { seededScreening } from './screening';

/** What a telephony app under test runs beside it: seeded screening, a producer, a worker writing the log. */
export interface CallPath {
  screening: Screening;
  producer: FlaggedCallProducer;
  worker: RunningLogWorker;
  /** Closes them (after the app) and removes the test's queue and keys. */
  close(): Promise<void>;
}

export async function startCallPath(config: Config, logger: Logger, role: string): Promise<CallPath> {
  const screening = await seededScreening(config);
  const events = openProducer(config, logger, `${role}-${config.queue.name}`);
  const worker = await runWorker(config, logger);
  return {
    screening,
    producer: events.producer,
    worker,
    close: async () => {
      await events.close();
      await worker.close();
      await screening.close();
      await dropQueue(config);
      await dropPrefix(config.redis.keyPrefix);
    },
  };
}

/** Waits until the log holds the call and `has` says the record is complete enough; returns it. */
/** Waits for a record found by a filter (the SIP Call-ID, the channel) that passes `has`. */
export async function storedRecordWhere(
  store: LogStore,
  filter: CallFilter,
  has: (row: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await until(
    async () => {
      const page = await store.list(filter, { limit: 10 });
      found = (page.records as unknown as Record<string, unknown>[]).find(has);
      return found !== undefined;
    },
    10000,
    `row of ${JSON.stringify(filter)} stored`,
  );
  return found as Record<string, unknown>;
}

export async function storedRecord(
  store: LogStore,
  callId: string,
  has: (row: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const read = async () => (await store.get(callId)) as unknown as Record<string, unknown> | undefined;
  await until(
    async () => {
      const row = await read();
      return row !== undefined && has(row);
    },
    10000,
    `row ${callId} stored`,
  );
  return (await read()) as Record<string, unknown>;
}

/**
 * Waits until nothing emitted is still on its way to the log: no emit under way, nothing spooled, nothing
 * queued, delayed or being stored. Only then does "nothing was logged" mean something.
 */
export async function pipelineIdle(path: { producer: FlaggedCallProducer; worker: RunningLogWorker }): Promise<void> {
  await until(
    async () => {
      return path.producer.idle && (await path.worker.queue.eventsInFlight()) === 0;
    },
    15000,
    'flagged-call pipeline idle (nothing emitted still on its way)',
  );
}
