import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { fromPackageRoot } from '../common/package-root';
import { createRedis } from '../common/redis';
import { withinBudget } from '../common/within-budget';
import { type EmitResult, FlaggedCallProducer } from './producer';
import { EventQueue } from './queue-adapter';
import { Spool } from './spool';
import type { FlaggedCallEvent } from './flagged-call';

export type { FlaggedCallEvent } from './flagged-call';
export type { Outcome } from '../domain/outcomes';
export type { EmitResult } from './producer';
export { FlaggedCallProducer } from './producer';

/**
 * A producer for one process role ("ari", "sip", "serve"): its own fail-fast Redis connection and its own
 * spool file, so a restarted process replays what its predecessor spooled.
 */
export function openProducer(
  config: Config,
  logger: Logger,
  role: string,
  observe?: (event: FlaggedCallEvent) => void,
  observeResult?: (result: EmitResult) => void,
): { producer: FlaggedCallProducer; close(): Promise<void> } {
  const connection = createRedis(config.redis, 'call-path', `spoofguard-${role}-events`, logger);
  const queue = new EventQueue(connection, config.queue, logger);
  const spool = new Spool(fromPackageRoot(config.queue.spoolDir), role, logger);
  const producer = new FlaggedCallProducer(
    queue,
    connection,
    spool,
    config.queue.emitBudgetMs,
    logger.child({ role, part: 'events' }),
    observe,
    observeResult,
  );
  producer.start();
  return {
    producer,
    close: async () => {
      await producer.close();
      // BullMQ's close waits for Redis; when Redis is gone, the spool already holds what was not sent
      await withinBudget(queue.close(), 2000, 'queue close').catch(() => undefined);
      connection.disconnect();
    },
  };
}

export function openQueue(config: Config): { queue: EventQueue; close(): Promise<void> } {
  const connection = createRedis(config.redis, 'admin', 'spoofguard-cli-queue');
  const queue = new EventQueue(connection, config.queue);
  return {
    queue,
    close: async () => {
      await queue.close();
      connection.disconnect();
    },
  };
}
