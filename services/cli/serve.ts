import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { StartupError } from '../common/errors';
import { Shutdown } from '../common/shutdown';
import { openListAdmin } from '../screening';
import { seedEntries } from '../screening/seed';
import { refuseKnownDefaultSecrets } from '../common/default-secrets';
import { processOps, startCallApp, startConsole, startEvents, startScreening, startWorker } from './roles';

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

/**
 * `spoofguard serve`: every role of one box in one process (screening, worker, ARI app, the SIP front when
 * sip.enabled, the Kamailio front when kamailio.enabled); one SIGTERM stops them all.
 */
export async function serve(config: Config, logger: Logger): Promise<void> {
  refuseKnownDefaultSecrets(config, config.sip.enabled ? ['ari', 'sip'] : ['ari']);
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
  const ops = processOps('serve');
  // every role starts, or none stays up: a box that screens calls but cannot log them (or shows no console)
  // must not look healthy
  let starting = 'screening';
  try {
    const screening = await startScreening(config, logger, shutdown, ops);
    starting = 'worker';
    const worker = await startWorker(config, logger, shutdown, ops);
    starting = 'events';
    const producer = startEvents(config, logger, shutdown, 'serve', ops);
    // without an Asterisk the ARI app keeps retrying in the background and says so once
    starting = 'ari';
    startCallApp('ari', config, logger, shutdown, screening, producer, ops);
    starting = 'sip';
    if (config.sip.enabled) startCallApp('sip', config, logger, shutdown, screening, producer, ops);
    starting = 'kamailio';
    if (config.kamailio.enabled) startCallApp('kamailio', config, logger, shutdown, screening, producer, ops);
    // the console serves health and metrics for the whole process
    starting = 'console';
    const console = await startConsole(config, logger, shutdown, ops);
    logger.info(
      { listVersion: screening.store.cachedVersion, log: worker.store.kind, console: console.url },
      'spoofguard ready',
    );
  } catch (err) {
    // the roles already started stop first; the central error handler then prints the one line and exits
    await shutdown.stop();
    throw new StartupError(`could not start the ${starting} role: ${(err as Error).message}; every role stopped`, {
      cause: err,
    });
  }
  await stopped;
}
