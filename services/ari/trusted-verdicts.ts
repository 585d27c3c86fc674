import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { bindingProblem, callerKey, verifyVerdict } from '../common/verdict-header';
import { verdictKeys } from '../common/verdict-keys';
import type { Screening } from '../screening';
import type { ReasonCode } from '../domain/reason-codes';
import { normalizeCaller, normalizeIdentity } from '../screening/normalize';
import type { Verdict } from '../screening/verdict';
import type { SessionDeps } from './call-session';
import { SpentVerdicts } from './spent-verdicts';

/**
 * The verdict a call brings from the SIP front: its X-Spoofguard-Verdict header, trusted only when it is well
 * formed, signed with a live key, young enough, made for this call (caller, called number, SIP Call-ID) and
 * not used before. Anything else is logged and the call is screened again.
 */
export function trustedVerdicts(config: Config, screening: Screening, log: Logger): SessionDeps['trustedVerdict'] {
  const keys = verdictKeys(config);
  const spent = new SpentVerdicts(
    screening.redis,
    config.redis.keyPrefix,
    config.verdictHeader.maxAgeSec,
    config.screening.budgetMs,
  );
  return async (args, request) => {
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
  };
}
