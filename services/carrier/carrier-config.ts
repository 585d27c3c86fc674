import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { callerKey, signVerdict } from '../common/verdict-header';
import { verdictKeys } from '../common/verdict-keys';
import type { Verdict } from '../screening/verdict';
import type { CarrierRouting } from './verdict-action';

/** Where both carrier fronts send calls (sip.*): one reading of the config for the drachtio and the Kamailio front. */
export function carrierRouting(config: Config): CarrierRouting {
  const { sip } = config;
  return {
    nextHop: sip.nextHop,
    warningIvrUri: sip.warningIvrUri,
    blockStatus: sip.blockStatus,
    blockCallInfo: sip.blockCallInfo,
  };
}

export type VerdictSigner = (
  verdict: Verdict,
  logId: string,
  binding: { to: string; callId?: string },
) => string | undefined;

/**
 * The signed X-Spoofguard-Verdict value both carrier fronts put on warned calls, bound to the caller, the called
 * number and (where the Call-ID reaches the IVR) the Call-ID; undefined without a key (said once at start).
 */
export function verdictSigner(config: Config, log: Logger): VerdictSigner {
  const [signing] = verdictKeys(config);
  if (config.sip.warningIvrUri && !signing)
    log.warn('verdictHeader.key is empty: warned calls reach the IVR without a verdict header and are screened again');
  return (verdict, logId, binding) =>
    signing
      ? signVerdict(
          {
            verdict: verdict.verdict,
            score: verdict.score,
            reasons: verdict.reasons.filter((r) => !r.suppressed).map((r) => r.code),
            call: logId,
            ...(verdict.brand ? { brand: verdict.brand } : {}),
          },
          { from: callerKey(verdict.caller), ...binding },
          signing,
        )
      : undefined;
}
