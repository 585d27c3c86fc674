import { POISON_JOB } from './ledger';

/** What a chaos run (harness.ts) is told, what it reports, and the report as a person reads it. */
export interface ChaosOptions {
  /** Calls per second per producer (two producers). */
  rate: number;
  /** Steady running before the first fault and between faults. */
  steadySec: number;
  /** How long Redis stays down. */
  redisDownSec: number;
  /** How long a fault may take to heal before the run gives up on it. */
  healTimeoutSec: number;
  log: (line: string) => void;
}

export interface FaultReport {
  fault: string;
  /** From the end of the fault until every event acknowledged before that end was in the log. */
  healMs: number;
  /** Events that went to a spool during the fault and its healing. */
  spooled: number;
  /** Events lost, counted and logged, because the spool could not be written. */
  lost: number;
}

export interface ChaosReport {
  faults: FaultReport[];
  calls: number;
  events: { emitted: number; queued: number; spooled: number; lost: number; invalid: number; unknown: number };
  /** Acknowledged (queued or spooled) but not in the log. */
  missing: string[];
  /** More than one record for one call id. */
  duplicated: string[];
  /** Records holding another call's data, or records of no call emitted. */
  merged: string[];
  /** Records for calls that reused one SIP Call-ID, and how many such calls were logged. */
  reusedSipCallId: { records: number; calls: number };
  /** The valid event with a NUL in its display name was stored (as U+FFFD). */
  nulStored: boolean;
  /** Jobs in the failed set at the end: the poison event, with its reason. */
  failed: { id: string; reason: string }[];
  /**
   * Calls that sat in the warning on a real Asterisk when it was restarted (undefined when no Asterisk is set):
   * each must keep one record, with an outcome.
   */
  asteriskRestart?: { calls: number; records: number; withOutcome: number };
  /** The producers' own counters and metric of emit results, per producer. */
  producers: { name: string; results: Record<string, number>; metric: Record<string, number> }[];
  /** Error lines "spool write failed" written by the producers (one per producer per full-disk episode). */
  spoolFullErrorLines: number;
  skipped: string[];
}

/** The report as lines, and whether it shows 0 lost, 0 duplicated, 0 merged and the poison in the failed set. */
export function describeReport(report: ChaosReport): { lines: string[]; ok: boolean } {
  const e = report.events;
  const lines = [
    ...report.faults.map(
      (f) =>
        `${f.fault}: healed in ${(f.healMs / 1000).toFixed(1)} s, ${f.spooled} events through the spool, ${f.lost} lost (counted)`,
    ),
    `calls flagged: ${report.calls}; events emitted ${e.emitted}: ${e.queued} queued, ${e.spooled} spooled, ${e.lost} lost (spool disk full, counted and logged), ${e.invalid} invalid, ${e.unknown} unknown (emit under way when its producer was killed)`,
    `lost (acknowledged, not in the log): ${report.missing.length}`,
    `duplicated (more than one record for a call id): ${report.duplicated.length}`,
    `merged across calls: ${report.merged.length}${report.merged.length ? ` (${report.merged.slice(0, 5).join('; ')})` : ''}`,
    `reused SIP Call-ID: ${report.reusedSipCallId.records} records for ${report.reusedSipCallId.calls} calls that carried it`,
    `event with a NUL in its display name: ${report.nulStored ? 'stored' : 'NOT stored'}`,
    `failed set: ${report.failed.map((f) => `${f.id} (${f.reason.slice(0, 120)})`).join('; ') || 'empty'}`,
    `"spool write failed" error lines: ${report.spoolFullErrorLines}`,
    ...(report.asteriskRestart
      ? [
          `calls in the warning when Asterisk restarted: ${report.asteriskRestart.calls}, records ${report.asteriskRestart.records}, with an outcome ${report.asteriskRestart.withOutcome}`,
        ]
      : []),
    ...report.producers.map(
      (p) => `producer ${p.name}: results ${JSON.stringify(p.results)}, metric ${JSON.stringify(p.metric)}`,
    ),
    ...report.skipped.map((s) => `skipped: ${s}`),
  ];
  const poisoned = report.failed.length === 1 && report.failed[0].id === POISON_JOB;
  const metricsAgree = report.producers.every((p) =>
    Object.entries(p.results).every(([result, n]) => n === 0 || p.metric[result] === n),
  );
  const ok =
    report.missing.length === 0 &&
    report.duplicated.length === 0 &&
    report.merged.length === 0 &&
    poisoned &&
    report.nulStored &&
    metricsAgree &&
    report.events.invalid === 0 &&
    (!report.asteriskRestart ||
      (report.asteriskRestart.records === report.asteriskRestart.calls &&
        report.asteriskRestart.withOutcome === report.asteriskRestart.calls));
  return { lines, ok };
}
