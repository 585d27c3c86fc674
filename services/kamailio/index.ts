import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { Metrics } from '../common/metrics';
import { carrierRouting, verdictSigner } from '../carrier/carrier-config';
import { TrunkMatcher } from '../carrier/trunks';
import type { FlaggedCallProducer } from '../events';
import type { Screening } from '../screening';
import { EvapiLink } from './evapi-link';
import { KamailioFront } from './kamailio-front';

export interface RunningKamailio {
  front: KamailioFront;
  links: EvapiLink[];
  /** Lets screenings in hand be answered (up to sip.drainTimeoutMs), then closes the links. */
  close(): Promise<void>;
}

/**
 * `spoofguard kamailio`: the screening brain of the carrier's own Kamailio (kamailio/kamailio.cfg). Connects
 * to every kamailio.endpoints address, keeps each link up, and answers each INVITE a Kamailio asks about.
 * Routing, trunks, the signed header and the block reply are the drachtio front's (sip.*, trunks.*).
 */
export function runKamailio(
  config: Config,
  logger: Logger,
  screening: Screening,
  producer: FlaggedCallProducer,
  metrics?: Pick<Metrics, 'observeKamailioAnswer' | 'observeKamailioFault' | 'watchKamailio' | 'observeRefused'>,
): RunningKamailio {
  const log = logger.child({ role: 'kamailio' });
  const { sip, kamailio } = config;
  const front = new KamailioFront({
    trunks: new TrunkMatcher(config.trunks, config.screening.defaultTrunk),
    screen: (request) => screening.engine.screen(request),
    routing: carrierRouting(config),
    sign: verdictSigner(config, log),
    emit: (event) => void producer.emit(event),
    budgetMs: kamailio.budgetMs,
    setupTimeoutMs: sip.setupTimeoutSec * 1000,
    logger: log,
    answered: metrics?.observeKamailioAnswer,
    refused: (reason) => metrics?.observeRefused('kamailio', reason),
    fault: metrics?.observeKamailioFault,
  });
  const links = kamailio.endpoints.map(
    (endpoint) =>
      new EvapiLink(
        endpoint,
        { reconnectMs: kamailio.reconnectMs, maxMessageBytes: kamailio.maxMessageBytes },
        { frame: (data, link) => front.handle(data, link), fault: (kind) => metrics?.observeKamailioFault(kind) },
        log,
      ),
  );
  metrics?.watchKamailio(
    () => front.activeCalls,
    () => links.filter((l) => l.connected).length,
  );
  for (const link of links) link.start();
  return {
    front,
    links,
    close: async () => {
      // the links stay up while screenings in hand are answered; Kamailio fails open for anything after
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, sip.drainTimeoutMs)));
      await Promise.race([front.whenIdle(), timeout]);
      clearTimeout(timer);
      await Promise.all(links.map((l) => l.stop()));
      front.close();
    },
  };
}
