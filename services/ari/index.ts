import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { Metrics } from '../common/metrics';
import { bindingProblem, callerKey, verifyVerdict } from '../common/verdict-header';
import { verdictKeys } from '../common/verdict-keys';
import type { FlaggedCallProducer } from '../events';
import type { Screening } from '../screening';
import type { ReasonCode } from '../screening/brand-data';
import { normalizeCaller, normalizeIdentity } from '../screening/normalize';
import type { Verdict } from '../screening/verdict';
import { AriConnection } from './ari-adapter';
import { AriApp } from './ari-app';
import { Prompts } from './prompts';
import { SpentVerdicts } from './spent-verdicts';

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
  const keys = verdictKeys(config);
  const spent = new SpentVerdicts(
    screening.redis,
    config.redis.keyPrefix,
    config.verdictHeader.maxAgeSec,
    config.screening.budgetMs,
  );
  const connection = new AriConnection({ ...config.ari }, log);

  const app = new AriApp(
    connection,
    {
      screen: (request) => screening.engine.screen(request),
      trustedVerdict: async (args, request) => {
        const header = args.verdictHeader;
        if (!header || keys.length === 0) return undefined;
        const distrust = (problem: string): undefined => {
          log.warn({ callId: request.callId, problem }, 'verdict header not trusted: screening again');
          return undefined;
        };
        const checked = verifyVerdict(header, keys, config.verdictHeader.maxAgeSec);
        if (!checked.ok) return distrust(checked.problem);
        const trunk = screening.engine.trunkFor(request.trunk);
        const caller = normalizeCaller(request.from, trunk, request.name);
        const asserted = request.assertedIdentity ? normalizeIdentity(request.assertedIdentity, trunk) : [];
        const problem = bindingProblem(checked.verdict, {
          callers: [caller, ...asserted].map(callerKey),
          called: request.to ?? '',
          ...(args.sipCallId ? { callId: args.sipCallId } : {}),
        });
        if (problem) return distrust(problem);
        try {
          if (!(await spent.spend(checked.verdict.nonce))) return distrust('verdict header used before (a replay)');
        } catch (err) {
          return distrust(`its single use cannot be checked: ${(err as Error).message}`);
        }
        const { verdict, score, brand, reasons, call } = checked.verdict;
        const trusted: Verdict = {
          verdict,
          score,
          reasons: reasons.map((code) => screening.rules.reason(code as ReasonCode, {}, brand)),
          caller,
          trunk: trunk.id,
          degraded: false,
          elapsedMs: 0,
          ...(brand ? { brand, brandName: screening.rules.brandName(brand) } : {}),
          ...(call ? { logId: call } : {}),
        };
        return trusted;
      },
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
