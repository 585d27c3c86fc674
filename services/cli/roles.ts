import { runAri } from '../ari';
import type { Config } from '../common/config';
import { refuseKnownDefaultSecrets } from '../common/default-secrets';
import { Health } from '../common/health';
import type { Logger } from '../common/logger';
import { Metrics } from '../common/metrics';
import { startOpsServer } from '../common/ops-server';
import { Shutdown } from '../common/shutdown';
import { runConsole, type RunningConsole } from '../console';
import { type FlaggedCallProducer, openProducer } from '../events';
import { runKamailio } from '../kamailio';
import { runSip } from '../sip';
import { openScreening, type Screening } from '../screening';
import { runWorker, type RunningLogWorker } from '../worker';

/**
 * Starting each role and registering how it stops, shared by its own command and by `serve`. Shutdown runs
 * the steps in reverse: a role stops before what it depends on (the ARI app before events and screening).
 * One Metrics and one Health per process: every role started in it reports there.
 */
export interface ProcessOps {
  metrics: Metrics;
  health: Health;
}

export function processOps(role: string): ProcessOps {
  return { metrics: new Metrics(role), health: new Health() };
}

/** The health and metrics endpoint of a role run alone (the console serves its own). */
export async function startOps(config: Config, logger: Logger, shutdown: Shutdown, ops: ProcessOps): Promise<void> {
  const server = await startOpsServer(config.ops, ops.health, ops.metrics, logger);
  if (server) shutdown.add('ops endpoint', () => server.close());
}

export async function startScreening(
  config: Config,
  logger: Logger,
  shutdown: Shutdown,
  ops: ProcessOps,
): Promise<Screening> {
  const screening = await openScreening(config, logger, ops.metrics.observeVerdict);
  shutdown.add('screening', () => screening.close());
  ops.health.add('redis', () => screening.store.ping());
  return screening;
}

export async function startWorker(
  config: Config,
  logger: Logger,
  shutdown: Shutdown,
  ops: ProcessOps,
): Promise<RunningLogWorker> {
  const worker = await runWorker(config, logger);
  shutdown.add('worker', () => worker.close());
  ops.health.add('redis (queue)', () => worker.pingRedis());
  ops.health.add('log store', () => worker.store.ping());
  ops.metrics.watchQueue(() => worker.queue.counts());
  return worker;
}

/** The FlaggedCall producer of a process role (its own spool file). */
export function startEvents(
  config: Config,
  logger: Logger,
  shutdown: Shutdown,
  role: string,
  ops: ProcessOps,
): FlaggedCallProducer {
  const events = openProducer(config, logger, role, ops.metrics.observeEvent, ops.metrics.observeEmit);
  shutdown.add('events', () => events.close());
  return events.producer;
}

export type CallRole = 'ari' | 'sip' | 'kamailio';

/** A call-path app: the Asterisk Stasis app (ari), the drachtio SIP front (sip) or the Kamailio front (kamailio). */
export function startCallApp(
  kind: CallRole,
  config: Config,
  logger: Logger,
  shutdown: Shutdown,
  screening: Screening,
  producer: FlaggedCallProducer,
  ops: ProcessOps,
): void {
  const app =
    kind === 'ari'
      ? runAri(config, logger, screening, producer, ops.metrics)
      : kind === 'sip'
        ? runSip(config, logger, screening, producer, ops.metrics)
        : runKamailio(config, logger, screening, producer, ops.metrics);
  shutdown.add(kind, () => app.close());
}

/** `spoofguard ari`, `sip` and `kamailio`: screening, a producer and the app, with their ops endpoint, until SIGTERM. */
export async function runCallRole(kind: CallRole, config: Config, logger: Logger): Promise<void> {
  refuseKnownDefaultSecrets(config, [kind]);
  const shutdown = new Shutdown(logger);
  const stopped = shutdown.listen();
  const ops = processOps(kind);
  const screening = await startScreening(config, logger, shutdown, ops);
  startCallApp(kind, config, logger, shutdown, screening, startEvents(config, logger, shutdown, kind, ops), ops);
  await startOps(config, logger, shutdown, ops);
  await stopped;
}

export async function startConsole(
  config: Config,
  logger: Logger,
  shutdown: Shutdown,
  ops: ProcessOps,
): Promise<RunningConsole> {
  const console = await runConsole(config, logger, ops);
  shutdown.add('console', () => console.close());
  return console;
}
