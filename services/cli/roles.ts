import { runAri } from '../ari';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { Shutdown } from '../common/shutdown';
import { type FlaggedCallProducer, openProducer } from '../events';
import { runSip } from '../sip';
import { openScreening, type Screening } from '../screening';
import { runWorker, type RunningLogWorker } from '../worker';

/**
 * Starting each role and registering how it stops, shared by its own command and by `serve`. Shutdown runs
 * the steps in reverse: a role stops before what it depends on (the ARI app before events and screening).
 */
export async function startScreening(config: Config, logger: Logger, shutdown: Shutdown): Promise<Screening> {
  const screening = await openScreening(config, logger);
  shutdown.add('screening', () => screening.close());
  return screening;
}

export async function startWorker(config: Config, logger: Logger, shutdown: Shutdown): Promise<RunningLogWorker> {
  const worker = await runWorker(config, logger);
  shutdown.add('worker', () => worker.close());
  return worker;
}

/** The FlaggedCall producer of a process role (its own spool file). */
export function startEvents(config: Config, logger: Logger, shutdown: Shutdown, role: string): FlaggedCallProducer {
  const events = openProducer(config, logger, role);
  shutdown.add('events', () => events.close());
  return events.producer;
}

export function startAri(
  config: Config,
  logger: Logger,
  shutdown: Shutdown,
  screening: Screening,
  producer: FlaggedCallProducer,
): void {
  const ari = runAri(config, logger, screening, producer);
  shutdown.add('ari', () => ari.close());
}

export function startSip(
  config: Config,
  logger: Logger,
  shutdown: Shutdown,
  screening: Screening,
  producer: FlaggedCallProducer,
): void {
  const sip = runSip(config, logger, screening, producer);
  shutdown.add('sip', () => sip.close());
}
