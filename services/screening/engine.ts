import { performance } from 'node:perf_hooks';
import type { TrunkConfig } from '../common/config-schema';
import type { Logger } from '../common/logger';
import { stirLabel, type StirResult, type StirVerifier } from '../stir';
import type { ListLookup, ListStore } from './list-store';
import { type CallerIdentity, guessCallerDigits, readCallerIdentity } from './caller-identity';
import { guessDigits, type NormalizedCaller, readNumber } from './normalize';
import type { Evaluation, RuleSet, TrunkContext } from './rules';
import { type ScreeningRequest, type Verdict } from './verdict';

/** The key of the called subscriber's record: the called number's digits, or the text as sent. */
const subscriberKey = (to: string | undefined, digits: string | undefined): string | undefined =>
  to ? (digits ?? to.trim().slice(0, 64)) : undefined;

export interface EngineOptions {
  trunks: Readonly<Record<string, TrunkConfig>>;
  defaultTrunk: string;
  /** Sees every verdict (metrics); must not throw. */
  observe?: (verdict: Verdict) => void;
  /** Verifies Identity headers on trunks with `stir: verify`. */
  stir?: StirVerifier;
  clock?: () => number;
}

/**
 * The screening engine: normalise, look up the lists in one round trip (the store enforces the budget), apply the
 * rules. It fails open: when Redis is down or slow, the verdict is allow and marked degraded.
 */
export class ScreeningEngine {
  private degradedSince?: number;
  private lastDegradedLog = 0;
  private degradedCount = 0;
  /** Screenings decided in process, without a Redis round trip. */
  localScreenings = 0;

  constructor(
    private readonly store: ListStore,
    private readonly rules: RuleSet,
    private readonly options: EngineOptions,
    private readonly logger: Logger,
  ) {
    this.trunks = new Map(Object.entries(options.trunks).map(([id, trunk]) => [id, { id, ...trunk }]));
  }

  private readonly trunks: ReadonlyMap<string, TrunkContext & TrunkConfig>;

  /** The trunk a call names, or the default (most cautious) one. */
  trunkFor(id: string | undefined): TrunkContext & TrunkConfig {
    return (id && this.trunks.get(id)) || (this.trunks.get(this.options.defaultTrunk) as TrunkContext & TrunkConfig);
  }

  async screen(request: ScreeningRequest): Promise<Verdict> {
    const started = performance.now();
    const trunk = this.trunkFor(request.trunk);
    // While the store's lists are current, the parsed caller is looked up in process (below). Otherwise the
    // look-up goes out first, for the number a quick reading gives, and the full parse (libphonenumber, most
    // of a screening's CPU) runs while Redis answers. Only a guess the parse proves wrong costs a second trip.
    let guessed: string | undefined;
    let guessedCalled: string | undefined;
    let early: Promise<ListLookup> | undefined;
    if (!this.store.localIndexCurrent()) {
      guessedCalled = subscriberKey(request.to, request.to ? guessDigits(request.to, trunk) : undefined);
      guessed = guessCallerDigits(request, trunk);
      early = this.store.lookup(guessed, guessedCalled);
      early.catch(() => undefined); // awaited below unless the guess was wrong
      await Promise.resolve(); // the store sends in a microtask queued before this one
    }
    const identity = readCallerIdentity(request, trunk);
    const calledNumber = request.to ? readNumber(request.to, trunk) : undefined;
    const called = calledNumber?.e164 ?? (request.to?.trim() || undefined);
    const calledKey = subscriberKey(request.to, calledNumber?.digits);
    // names are folded (their costly part, kept in a cache) while Redis answers, too
    for (const name of identity.names) this.store.cachedNames.match(name);

    // Answered in process, a call the rules allow stays allowed: what the index does not hold (the called
    // subscriber's record) can lower a verdict, never raise it. Any other verdict is decided with the full
    // look-up (from memory when the records it needs are at hand, else from Redis).
    const local = early ? undefined : this.store.localLookup(identity.callers.map((c) => c.digits));
    // every value of the screened header is looked up: asked for in one turn, they share one round trip
    const ask = (): Promise<(ListLookup | undefined)[] | Error> => {
      const lookup = (digits: string | undefined): Promise<ListLookup> =>
        early && digits === guessed && calledKey === guessedCalled ? early : this.store.lookup(digits, calledKey);
      try {
        const all =
          identity.callers.length === 1
            ? lookup(identity.callers[0].digits).then((one) => [one])
            : Promise.all(identity.callers.map((c) => lookup(c.digits)));
        return all.catch((err: Error) => err);
      } catch (err) {
        return Promise.resolve(err as Error);
      }
    };
    // a call that needs the full look-up asks for it before its signature is checked: the check (CPU) runs
    // while Redis answers
    const verifies = this.verifiesStir(trunk);
    let asked: ReturnType<typeof ask> | undefined;
    if (verifies && !local) {
      asked = ask();
      await Promise.resolve(); // the store sends in a microtask queued before this one
    }
    const stirStarted = verifies ? performance.now() : 0;
    const stir = verifies ? await this.verifyStir(request, identity, calledNumber?.digits) : undefined;
    const stirMs = verifies ? Math.round((performance.now() - stirStarted) * 1000) / 1000 : undefined;

    let worst = local && this.worstOf(identity, calledKey, trunk, request, () => local, stir);
    if (!worst || worst.evaluation.verdict !== 'allow') {
      let lookups: (ListLookup | undefined)[] = identity.callers.map(() => undefined);
      const answered = await (asked ?? ask());
      if (answered instanceof Error) this.noteDegraded(answered, request.callId);
      else {
        lookups = answered;
        if (this.degradedSince !== undefined) {
          this.logger.info(
            { degradedMs: Date.now() - this.degradedSince, screenings: this.degradedCount },
            'Redis answers again: screening no longer degraded',
          );
          this.degradedSince = undefined;
          this.degradedCount = 0;
        }
      }
      worst = this.worstOf(identity, calledKey, trunk, request, (i) => lookups[i], stir);
    } else this.localScreenings++;
    const { caller, evaluation, lookup } = worst;
    const degraded = lookup === undefined;
    // identity-header parameters were signals for the rules; they are not part of the verdict
    const { params: _params, ...callerOut } = caller;
    const verdict: Verdict = {
      verdict: degraded ? 'allow' : evaluation.verdict,
      score: evaluation.score,
      reasons: degraded ? [this.rules.reason('degraded'), ...evaluation.reasons] : evaluation.reasons,
      caller: callerOut,
      trunk: trunk.id,
      identity: identity.header,
      degraded,
      elapsedMs: 0,
    };
    if (evaluation.brand) {
      verdict.brand = evaluation.brand;
      verdict.brandName = this.rules.brandName(evaluation.brand);
    }
    if (evaluation.warningsOff) verdict.warningsOff = true;
    if (called) verdict.called = called;
    if (lookup?.subscriber?.language) verdict.language = lookup.subscriber.language;
    if (lookup) verdict.listVersion = lookup.version;
    if (stirMs !== undefined) verdict.stirMs = stirMs;
    if (stir)
      verdict.stir = {
        result: stirLabel(stir),
        ...('detail' in stir ? { detail: stir.detail.slice(0, 200) } : {}),
        ...(stir.status === 'passed' && stir.origid ? { origid: stir.origid } : {}),
      };
    verdict.elapsedMs = Math.round((performance.now() - started) * 1000) / 1000;
    this.options.observe?.(verdict);
    return verdict;
  }

  /** The value that looks worst decides: a harmless second value cannot hide the one that poses as a brand. */
  private worstOf(
    identity: CallerIdentity,
    calledKey: string | undefined,
    trunk: TrunkContext & TrunkConfig,
    request: ScreeningRequest,
    lookupOf: (i: number) => ListLookup | undefined,
    stir: StirResult | undefined,
  ): { caller: NormalizedCaller; evaluation: Evaluation; lookup?: ListLookup } {
    let worst: { caller: NormalizedCaller; evaluation: Evaluation; lookup?: ListLookup } | undefined;
    identity.callers.forEach((caller, i) => {
      const lookup = lookupOf(i);
      const verified = identity.verified;
      const evaluation = this.rules.evaluate({
        caller,
        calledDigits: calledKey,
        displayNames: identity.names,
        trunk,
        ...(verified && (verified.digits === undefined || verified.digits === caller.digits)
          ? { verstat: verified.verstat }
          : {}),
        ignoredVerstat: identity.ignoredVerstat,
        // a pass vouches for the number it signed, not for another value of the header
        ...(stir && (stir.status !== 'passed' || stir.orig === caller.digits) ? { stir } : {}),
        unreadable: identity.unreadable,
        ...(request.identityHeader !== undefined ? { identityHeader: request.identityHeader } : {}),
        lookup,
        names: lookup?.names ?? this.store.cachedNames,
      });
      if (!worst || evaluation.score > worst.evaluation.score) worst = { caller, evaluation, lookup };
    });
    return worst as NonNullable<typeof worst>;
  }

  /** Whether this trunk's calls get our own STIR/SHAKEN check. */
  private verifiesStir(trunk: TrunkConfig): boolean {
    return trunk.stir === 'verify' && this.options.stir !== undefined;
  }

  /** Our own STIR/SHAKEN check of the call (it never throws, and keeps to its budget). */
  private verifyStir(
    request: ScreeningRequest,
    identity: CallerIdentity,
    calledDigits: string | undefined,
  ): Promise<StirResult> {
    return (this.options.stir as StirVerifier).verify({
      identity: request.identityValues ?? [],
      callerDigits: identity.callers.flatMap((c) => (c.digits ? [c.digits] : [])),
      ...(calledDigits ? { calledDigits } : {}),
      at: (this.options.clock ?? Date.now)(),
    });
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
}
