import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { Shutdown } from '../common/shutdown';
import { openListAdmin, openScreening } from '../screening';
import { seedEntries } from '../screening/seed';
import { runAri } from '../ari';
import { openProducer } from '../events';
import { runWorker } from '../worker';

/** Seeds the brand lists when Redis holds none yet (first start), so a new box screens at once. */
export async function seedIfEmpty(config: Config, logger: Logger): Promise<void> {
  const lists = await openListAdmin(config, logger);
  try {
    if ((await lists.admin.state()).gen === 0) {
      const result = await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
      logger.info({ version: result.version, entries: result.imported }, 'first start: brand lists seeded');
    }
  } finally {
    await lists.close();
  }
}

/** `spoofguard serve`: every role of one box in one process (screening, worker, ARI app); one SIGTERM stops them all. */
export async function serve(config: Config, logger: Logger): Promise<void> {
  const shutdown = new Shutdown(logger);
  const stopped = shutdown.listen();
  try {
    await seedIfEmpty(config, logger);
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      'could not seed the lists (Redis down?); screening fails open until it can',
    );
  }
  const screening = await openScreening(config, logger);
  shutdown.add('screening', () => screening.close());
  const worker = await runWorker(config, logger);
  shutdown.add('worker', () => worker.close());
  const events = openProducer(config, logger, 'serve');
  shutdown.add('events', () => events.close());
  // without an Asterisk the ARI app keeps retrying in the background and says so once
  const ari = runAri(config, logger, screening, events.producer);
  shutdown.add('ari', () => ari.close());
  logger.info({ listVersion: screening.store.cachedVersion, log: worker.store.kind }, 'spoofguard ready');
  await stopped;
}
