import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { unhandledRejections } from './process-policy';

/**
 * The only module that imports prom-client: one registry per process with what operators alert on —
 * screenings by verdict and their latency, degraded screenings, calls by outcome, queue depth and failed
 * jobs — plus Node's process metrics. Roles feed it through small observer functions.
 */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface VerdictSample {
  verdict: string;
  degraded: boolean;
  elapsedMs: number;
  /** Our own STIR/SHAKEN check, on trunks with stir: verify. */
  stir?: { result: string };
  stirMs?: number;
}

export interface EventSample {
  kind: string;
  verdict?: string;
  outcome?: string;
  source: string;
}

/**
 * The event-loop delay monitor's sampling interval. Its timer wakes the process 1000/interval times a second,
 * idle or busy: at prom-client's 10 ms that cost half a percent of a core, a few percent of the SIP front's
 * CPU at a few hundred calls a second. A stall long enough to matter for call setup still shows. The
 * spoofguard_nodejs_eventloop_lag_{min,max,mean,p50,p90,p99}_seconds figures are the time between samples
 * (as Node's monitor records it): an idle process reads 0.05, a stall of 20 ms 0.07.
 */
export const EVENT_LOOP_SAMPLE_MS = 50;

/**
 * Screening latency, kept in a typed array and read by the registry like any metric (prom-client calls get()).
 * prom-client's Histogram turns the bucket bound into a property key and hashes the labels on every
 * observation: on the SIP front, where every INVITE is one observation, that was a percent of its CPU.
 */
class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    this.sum += seconds;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= (bounds[i] as number)) {
        (this.counts[i] as number)++;
        return;
      }
    }
  }

  get() {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    this.bounds.forEach((le, i) => {
      cumulative += this.counts[i] as number;
      values.push({ metricName: bucket, labels: { le }, value: cumulative });
    });
    values.push({ metricName: bucket, labels: { le: '+Inf' }, value: this.count });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: this.count });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

const VERDICTS = ['allow', 'warn', 'block'] as const;

export class Metrics {
  readonly registry = new Registry();
  private readonly screenings: Counter<'verdict'>;
  private readonly degraded: Counter;
  private readonly latency: LatencyHistogram;
  private readonly stirLatency: LatencyHistogram;
  private readonly stirResults: Counter<'result'>;
  /** Screenings by verdict since the last scrape: added to the counter when it is read (collect). */
  private readonly pendingScreenings = new Map<string, number>();
  private readonly calls: Counter<'source' | 'outcome'>;
  private readonly flagged: Counter<'source' | 'verdict'>;
  private readonly handedBack: Counter<'reason'>;
  private readonly handBackDelay: Histogram<'reason'>;
  private readonly sipUnscreened: Counter<'reason'>;
  private readonly emitted: Counter<'result'>;
  private readonly refused: Counter<'source' | 'reason'>;
  private queueCounts?: () => Promise<QueueCounts>;
  private sessionCount?: () => number;
  private sipCallCount?: () => number;
  private readonly kamailioAnswers: Counter<'action'>;
  private readonly kamailioFaults: Counter<'kind'>;
  private kamailioCallCount?: () => number;
  private kamailioLinkCount?: () => number;

  constructor(role: string) {
    this.registry.setDefaultLabels({ role });
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'spoofguard_',
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });
    const registers = [this.registry];
    const pendingScreenings = this.pendingScreenings;
    this.screenings = new Counter({
      name: 'spoofguard_screenings_total',
      help: 'Screenings by verdict (allow, warn, block).',
      labelNames: ['verdict'],
      registers,
      // counted in a plain map per screening, added here when scraped (prom-client hashes labels per inc)
      collect() {
        for (const [verdict, n] of pendingScreenings) if (n > 0) this.inc({ verdict }, n);
        pendingScreenings.clear();
      },
    });
    for (const verdict of VERDICTS) this.screenings.inc({ verdict }, 0);
    this.degraded = new Counter({
      name: 'spoofguard_screenings_degraded_total',
      help: 'Screenings that failed open because Redis did not answer within the budget.',
      registers,
    });
    this.latency = new LatencyHistogram(
      'spoofguard_screening_duration_seconds',
      'Time of one screening (normalise, look up, rules).',
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
    );
    this.registry.registerMetric(this.latency as unknown as Histogram);
    this.stirLatency = new LatencyHistogram(
      'spoofguard_stir_verify_seconds',
      'Time of our own STIR/SHAKEN check within a screening (certificate fetch included when it was not cached).',
      [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.05, 0.25, 1],
    );
    this.registry.registerMetric(this.stirLatency as unknown as Histogram);
    this.stirResults = new Counter({
      name: 'spoofguard_stir_results_total',
      help: 'Our own STIR/SHAKEN checks by result (passed-A/B/C, failed-signature/certificate/time/number/format, unverifiable, missing).',
      labelNames: ['result'],
      registers,
    });
    this.flagged = new Counter({
      name: 'spoofguard_flagged_calls_total',
      help: 'Warned and blocked calls reported to the log, by source and verdict.',
      labelNames: ['source', 'verdict'],
      registers,
    });
    this.calls = new Counter({
      name: 'spoofguard_call_outcomes_total',
      help: 'Outcomes of flagged calls (accepted, rejected, reported, caller-hung-up, unanswered, blocked, failed, expected-by-subscriber, reported-after).',
      labelNames: ['source', 'outcome'],
      registers,
    });
    this.handedBack = new Counter({
      name: 'spoofguard_ari_handed_back_total',
      help: 'Calls the ARI app handed back to the dialplan, by reason: clean (screened, nothing found), overload and draining (unscreened), bypassed (sent past the app by the dialplan while it was overloaded, unscreened), failure and deadline (fail open).',
      labelNames: ['reason'],
      registers,
    });
    this.handBackDelay = new Histogram({
      name: 'spoofguard_ari_hand_back_seconds',
      help: 'How long after Asterisk created it a call went back to the dialplan unscreened (overload, draining): its arrival lag plus the continue request. Calls the dialplan sent past the app (bypassed) never wait.',
      labelNames: ['reason'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    });
    this.sipUnscreened = new Counter({
      name: 'spoofguard_sip_unscreened_total',
      help: 'INVITEs the SIP front answered or passed on without a screening, by reason: unreadable (answered 400), overload (proxied unscreened), failure (fail open after an error).',
      labelNames: ['reason'],
      registers,
    });
    this.kamailioAnswers = new Counter({
      name: 'spoofguard_kamailio_answers_total',
      help: 'Answers the Kamailio front gave, by action: relay (clean: the next hop), relay-ivr (warned: the warning IVR), relay-tag (warned, tag mode), relay-warned (warned, no IVR configured), reply (blocked, or 484), unscreened (it could not decide: Kamailio passes the call on).',
      labelNames: ['action'],
      registers,
    });
    this.kamailioFaults = new Counter({
      name: 'spoofguard_kamailio_faults_total',
      help: 'What went wrong on the Kamailio front, by kind: unparseable (a message that is not the JSON of kamailio.cfg), oversized (larger than kamailio.maxMessageBytes, skipped), garbage (bytes that are no netstring), half-frame (a link closed mid-frame), unreadable-sip (an INVITE that does not read: answered unscreened), stale (waited past half of kamailio.budgetMs before its screening: not screened, Kamailio passes it on when its budget ends), late (answered after kamailio.budgetMs), unknown-track (a final status for no call of ours), unsent (an answer whose link had gone).',
      labelNames: ['kind'],
      registers,
    });
    this.emitted = new Counter({
      name: 'spoofguard_events_emitted_total',
      help: 'Flagged-call events by what became of them on emit: queued (Redis took it), spooled (on the local disk, replayed later), lost (Redis away and the spool write failed: a full or read-only disk), invalid (never emitted).',
      labelNames: ['result'],
      registers,
    });
    this.refused = new Counter({
      name: 'spoofguard_calls_refused_total',
      help: 'Calls refused for what the caller sent, by front (ari, sip, kamailio) and reason: called-number (not digits with an optional leading +, at most 32: 484 Address Incomplete).',
      labelNames: ['source', 'reason'],
      registers,
    });
    new Counter({
      name: 'spoofguard_unhandled_rejections_total',
      help: 'Promise rejections no code handled (a bug): each is logged with what went wrong, and the process keeps serving.',
      registers,
      collect() {
        this.reset();
        this.inc(unhandledRejections());
      },
    });
    /** A gauge read, when scraped, from a count the running app hands over (watchSipCalls, watchSessions). */
    const countGauge = (name: string, help: string, source: () => (() => number) | undefined): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const count = source();
          if (count) this.set(count());
        },
      });
    };
    countGauge(
      'spoofguard_sip_calls_in_progress',
      'INVITEs the SIP front is handling now (screening, proxied until final answer, or bridged until both legs end).',
      () => this.sipCallCount,
    );
    countGauge(
      'spoofguard_kamailio_calls_in_progress',
      'INVITEs the Kamailio front is screening now, plus relayed flagged calls whose final status it waits for.',
      () => this.kamailioCallCount,
    );
    countGauge(
      'spoofguard_kamailio_links_up',
      'Kamailio evapi links (kamailio.endpoints) connected now.',
      () => this.kamailioLinkCount,
    );
    countGauge(
      'spoofguard_ari_calls_in_progress',
      'Calls the ARI app is handling now (screening, ringing, warning or bridged).',
      () => this.sessionCount,
    );
    const source = (): (() => Promise<QueueCounts>) | undefined => this.queueCounts;
    const queueGauge = (name: string, help: string, pick: (c: QueueCounts) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const counts = source();
          if (!counts) return;
          try {
            this.set(pick(await counts()));
          } catch {
            // Redis away: the gauge keeps its last value; readiness says so
          }
        },
      });
    };
    queueGauge('spoofguard_queue_waiting', 'Flagged-call events waiting for the worker.', (c) => c.waiting + c.delayed);
    queueGauge('spoofguard_queue_active', 'Flagged-call events being written now.', (c) => c.active);
    queueGauge(
      'spoofguard_queue_failed',
      'Events in the failed set (spoofguard queue failed / retry).',
      (c) => c.failed,
    );
  }

  readonly observeVerdict = (v: VerdictSample): void => {
    this.pendingScreenings.set(v.verdict, (this.pendingScreenings.get(v.verdict) ?? 0) + 1);
    if (v.degraded) this.degraded.inc();
    this.latency.observe(v.elapsedMs / 1000);
    if (v.stir) {
      this.stirResults.inc({ result: v.stir.result });
      if (v.stirMs !== undefined) this.stirLatency.observe(v.stirMs / 1000);
    }
  };

  readonly observeEvent = (e: EventSample): void => {
    if (e.kind === 'flagged' && e.verdict) this.flagged.inc({ source: e.source, verdict: e.verdict });
    if (e.kind === 'outcome' && e.outcome) this.calls.inc({ source: e.source, outcome: e.outcome });
  };

  readonly observeEmit = (result: string): void => {
    this.emitted.inc({ result });
  };

  readonly observeHandBack = (reason: string, calls = 1): void => {
    this.handedBack.inc({ reason }, calls);
  };

  readonly observeHandBackDelay = (reason: string, seconds: number): void => {
    this.handBackDelay.observe({ reason }, seconds);
  };

  readonly observeSipUnscreened = (reason: string): void => {
    this.sipUnscreened.inc({ reason });
  };

  readonly observeRefused = (source: string, reason: string): void => {
    this.refused.inc({ source, reason });
  };

  /** Where the SIP calls-in-progress gauge reads from (processes that run the SIP front). */
  watchSipCalls(count: () => number): void {
    this.sipCallCount = count;
  }

  readonly observeKamailioAnswer = (action: string): void => {
    this.kamailioAnswers.inc({ action });
  };

  readonly observeKamailioFault = (kind: string): void => {
    this.kamailioFaults.inc({ kind });
  };

  /** Where the Kamailio front's gauges read from (processes that run it). */
  watchKamailio(calls: () => number, links: () => number): void {
    this.kamailioCallCount = calls;
    this.kamailioLinkCount = links;
  }

  /** Where the calls-in-progress gauge reads from (processes that run the ARI app). */
  watchSessions(count: () => number): void {
    this.sessionCount = count;
  }

  /** Where the queue gauges read from (processes that hold a queue handle). */
  watchQueue(counts: () => Promise<QueueCounts>): void {
    this.queueCounts = counts;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
