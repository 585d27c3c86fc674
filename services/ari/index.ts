import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { Metrics } from '../common/metrics';
import type { FlaggedCallProducer } from '../events';
import type { Screening } from '../screening';
import { AriConnection } from './ari-adapter';
import { AriApp } from './ari-app';
import { Prompts } from './prompts';
import { trustedVerdicts } from './trusted-verdicts';

export interface RunningAri {
  app: AriApp;
  connection: AriConnection;
  /** Stops taking calls, lets those in progress end, then disconnects. */
  close(): Promise<void>;
}

/** `spoofguard ari`: the Stasis app. Connects in the background and keeps retrying while Asterisk is away. */
export function runAri(
  config: Config,
  logger: Logger,
  screening: Screening,
  producer: FlaggedCallProducer,
  metrics?: Pick<Metrics, 'observeHandBack' | 'observeHandBackDelay' | 'observeRefused' | 'watchSessions'>,
): RunningAri {
  const log = logger.child({ role: 'ari' });
  const connection = new AriConnection({ ...config.ari }, log);

  const app = new AriApp(
    connection,
    {
      screen: (request) => screening.engine.screen(request),
      trustedVerdict: trustedVerdicts(config, screening, log),
      emit: (event) => void producer.emit(event),
      report: (caller, brand, subscriber) => screening.reports.record(caller, brand, subscriber),
      handedBack: (reason, calls) => metrics?.observeHandBack(reason, calls),
      refused: (reason) => metrics?.observeRefused('ari', reason),
      handBackDelay: (reason, seconds) => metrics?.observeHandBackDelay(reason, seconds),
      prompts: new Prompts(),
      settings: config.ari,
      // channel ids are <epoch>.<seq> on every Asterisk without a systemname: the node id keeps boxes apart
      callIdPrefix: () => `ari:${config.ari.nodeId || connection.entityId || new URL(config.ari.url).host}:`,
      logger: log,
    },
    // as many requests may wait as run: beyond that Asterisk is not keeping up, and new calls go on unscreened
    {
      app: config.ari.app,
      maxCallsInSetup: config.ari.maxCallsInSetup,
      maxQueuedRequests: config.ari.maxInFlight,
      maxLagMs: config.ari.maxLagMs,
      reconcileEveryMs: config.ari.reconcileEverySec * 1000,
      overloadBypassSec: config.ari.overloadBypassSec,
    },
    log,
  );
  metrics?.watchSessions(() => app.callsInProgress);
  void connection.start();
  return {
    app,
    connection,
    close: async () => {
      await app.stop();
      await app.drain(config.ari.drainTimeoutMs);
      await connection.stop();
    },
  };
}
