import { runAri } from '../ari';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { Shutdown } from '../common/shutdown';
import { openProducer } from '../events';
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

export function startAri(config: Config, logger: Logger, shutdown: Shutdown, screening: Screening, role: string): void {
  const events = openProducer(config, logger, role);
  shutdown.add('events', () => events.close());
  const ari = runAri(config, logger, screening, events.producer);
  shutdown.add('ari', () => ari.close());
}
