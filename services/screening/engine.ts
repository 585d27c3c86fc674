import { performance } from 'node:perf_hooks';
import type { TrunkConfig } from '../common/config-schema';
import type { Logger } from '../common/logger';
import type { ListLookup, ListStore } from './list-store';
import { normalizeCaller, normalizeNumber } from './normalize';
import type { RuleSet } from './rules';
import { type ScreeningRequest, type Verdict } from './verdict';

export interface EngineOptions {
  budgetMs: number;
  trunks: Readonly<Record<string, TrunkConfig>>;
  defaultTrunk: string;
}

/** Called after every screening (metrics). */
export type ScreeningObserver = (verdict: Verdict) => void;

class BudgetExceeded extends Error {}

/**
 * The screening engine: normalise, look up the lists in one round trip within the budget, apply the
 * rules. It fails open: when Redis is down or slow, the verdict is allow and marked degraded.
 */
export class ScreeningEngine {
  private degradedSince?: number;
  private degradedCount = 0;
  private readonly observers: ScreeningObserver[] = [];

  constructor(
    private readonly store: ListStore,
    private readonly rules: RuleSet,
    private readonly options: EngineOptions,
    private readonly logger: Logger,
  ) {}

  onScreening(observer: ScreeningObserver): void {
    this.observers.push(observer);
  }

  private trunkFor(id: string | undefined): { id: string } & TrunkConfig {
    const trunk = id ? this.options.trunks[id] : undefined;
    if (trunk && id) return { id, ...trunk };
    return { id: this.options.defaultTrunk, ...this.options.trunks[this.options.defaultTrunk] };
  }

  private lookupWithinBudget(digits: string | undefined, subscriberKey: string | undefined): Promise<ListLookup> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new BudgetExceeded(`no answer from Redis within ${this.options.budgetMs} ms`)),
        this.options.budgetMs,
      );
      this.store.lookup(digits, subscriberKey).then(
        (lookup) => {
          clearTimeout(timer);
          resolve(lookup);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  async screen(request: ScreeningRequest): Promise<Verdict> {
    const started = performance.now();
    const trunk = this.trunkFor(request.trunk);
    const caller = normalizeCaller(request.from, trunk, request.name);
    const calledNumber = request.to ? normalizeNumber(request.to, trunk) : undefined;
    const called = calledNumber?.e164 ?? (request.to?.trim() || undefined);
    const calledKey = calledNumber?.digits ?? (request.to ? request.to.trim().slice(0, 64) : undefined);

    let lookup: ListLookup | undefined;
    try {
      lookup = await this.lookupWithinBudget(caller.digits, calledKey);
      if (this.degradedSince !== undefined) {
        this.logger.info(
          { degradedMs: Date.now() - this.degradedSince, screenings: this.degradedCount },
          'Redis answers again: screening no longer degraded',
        );
        this.degradedSince = undefined;
        this.degradedCount = 0;
      }
    } catch (err) {
      this.noteDegraded(err as Error, request.callId);
    }

    const evaluation = this.rules.evaluate({
      caller,
      calledDigits: calledKey,
      displayName: caller.displayName,
      trunk,
      verstat: request.verstat ?? caller.params?.verstat,
      lookup,
      names: lookup?.names ?? this.store.cachedNames,
    });
    const degraded = lookup === undefined;
    const { params: _params, ...callerOut } = caller;
    const verdict: Verdict = {
      ...evaluation,
      verdict: degraded ? 'allow' : evaluation.verdict,
      reasons: degraded ? [this.rules.reason('degraded'), ...evaluation.reasons] : evaluation.reasons,
      caller: callerOut,
      ...(called ? { called } : {}),
      trunk: trunk.id,
      degraded,
      ...(lookup?.subscriber?.language ? { language: lookup.subscriber.language } : {}),
      ...(lookup ? { listVersion: lookup.version } : {}),
      elapsedMs: Math.round((performance.now() - started) * 1000) / 1000,
    };
    for (const observer of this.observers) observer(verdict);
    return verdict;
  }

  /** One warning when screening turns degraded, then one line a minute while it stays so: no flood. */
  private noteDegraded(err: Error, callId: string | undefined): void {
    this.degradedCount++;
    const now = Date.now();
    if (this.degradedSince === undefined) {
      this.degradedSince = now;
      this.lastDegradedLog = now;
      this.logger.warn(
        { err: err.message, callId },
        'screening degraded: Redis did not answer in time; calls are allowed (fail open)',
      );
    } else if (now - this.lastDegradedLog >= 60000) {
      this.lastDegradedLog = now;
      this.logger.warn(
        { screenings: this.degradedCount, sinceMs: now - this.degradedSince },
        'screening still degraded',
      );
    }
  }
  private lastDegradedLog = 0;
}
