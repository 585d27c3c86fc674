import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { Metrics } from '../common/metrics';
import type { FlaggedCallProducer } from '../events';
import { outcomeEvent } from '../events/flagged-call';
import type { Screening } from '../screening';
import { openListAdmin } from '../screening';
import { listEntryInputSchema } from '../screening/list-entry';
import type { Allowances } from './self-service';
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
  const allowances = subscriberAllowances(config, log);

  const app = new AriApp(
    connection,
    {
      screen: (request) => screening.engine.screen(request),
      trustedVerdict: trustedVerdicts(config, screening, log),
      emit: (event) => void producer.emit(event),
      report: (caller, brand, subscriber) => screening.reports.record(caller, brand, subscriber),
      rememberTaken: (subscriber, call) => screening.reports.rememberTaken(subscriber, call),
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
    {
      allowances,
      afterwards: {
        lastTaken: (subscriber) => screening.reports.lastTaken(subscriber.replace(/^\+/, '')),
        // the call's record gets the outcome reported-after; the caller's report counts as a key-3 report
        report: async (subscriber, callId) => {
          const digits = subscriber.replace(/^\+/, '');
          const taken = await screening.reports.forgetTaken(digits, callId);
          if (!taken) return false;
          void producer.emit(outcomeEvent({ callId, source: 'ari', receivedAt: taken.at }, 'reported-after', {}));
          await screening.reports.count(taken.callerE164, taken.brand, digits);
          return true;
        },
      },
      prompts: new Prompts(),
      settings: { ...config.selfService, defaultLanguage: config.ari.defaultLanguage },
      logger: log,
    },
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
      await allowances.close();
    },
  };
}

/**
 * The subscriber records *71 and *72 change: the same per-subscriber allowance (`brand:<id>` until a time) as
 * `spoofguard list allow-for`, through the list admin (its change notices reach every screening process). The
 * connection is opened on the first feature code.
 */
function subscriberAllowances(config: Config, log: Logger): Allowances & { close(): Promise<void> } {
  let lists: ReturnType<typeof openListAdmin> | undefined;
  const admin = async () => (await (lists ??= openListAdmin(config, log))).admin;
  // the subscriber's key: the number's digits, as the screening engine looks the called subscriber up
  const key = (subscriber: string): string =>
    listEntryInputSchema.safeParse({ kind: 'allow', value: subscriber }).data?.value ?? subscriber;
  return {
    expect: async (subscriber, brand, until) =>
      (await admin()).allowForSubscriber(key(subscriber), `brand:${brand}`, until),
    end: async (subscriber, brand) =>
      void (await (await admin()).disallowForSubscriber(key(subscriber), `brand:${brand}`)),
    language: async (subscriber) => (await (await admin()).subscriber(key(subscriber))).language,
    close: async () => {
      if (lists) await (await lists).close();
    },
  };
}
