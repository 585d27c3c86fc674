import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { Metrics } from '../common/metrics';
import { carrierRouting, verdictSigner } from '../carrier/carrier-config';
import type { FlaggedCallProducer } from '../events';
import type { Screening } from '../screening';
import { inviteMiddleware } from './invite-middleware';
import { SipApp } from './sip-app';
import { SrfConnection } from './srf-adapter';
import { TrunkMatcher } from '../carrier/trunks';

export interface RunningSip {
  app: SipApp;
  connection: SrfConnection;
  /** Stops taking calls, lets those in hand end (up to sip.drainTimeoutMs), then disconnects. */
  close(): Promise<void>;
}

/** `spoofguard sip`: the drachtio-srf app. Connects in the background and keeps retrying while drachtio is away. */
export function runSip(
  config: Config,
  logger: Logger,
  screening: Screening,
  producer: FlaggedCallProducer,
  metrics?: Pick<Metrics, 'observeSipUnscreened' | 'observeRefused' | 'watchSipCalls'>,
): RunningSip {
  const log = logger.child({ role: 'sip' });
  const { sip } = config;
  const connection = new SrfConnection(
    { host: sip.drachtioHost, port: sip.drachtioPort, secret: sip.drachtioSecret },
    log,
    { sessionExpiresSec: sip.sessionExpiresSec },
  );
  const app = new SipApp(
    connection,
    inviteMiddleware({
      trunks: new TrunkMatcher(config.trunks, config.screening.defaultTrunk),
      screen: (request) => screening.engine.screen(request),
      maxMessageBytes: sip.maxMessageBytes,
      refused: (reason) => metrics?.observeRefused('sip', reason),
    }),
    {
      emit: (event) => void producer.emit(event),
      sign: verdictSigner(config, log),
      routing: {
        ...carrierRouting(config),
        setupTimeoutMs: sip.setupTimeoutSec * 1000,
        maxCallMs: sip.maxCallSec * 1000,
      },
      logger: log,
    },
    log,
    sip.maxCallsInSetup,
  );
  metrics?.watchSipCalls(() => app.activeCalls);
  connection.onUnreadable = () => metrics?.observeSipUnscreened('unreadable');
  app.onUnscreened = (reason) => metrics?.observeSipUnscreened(reason);
  connection.start();
  return {
    app,
    connection,
    close: async () => {
      await app.drain(sip.drainTimeoutMs);
      connection.stop();
    },
  };
}
