import type { CsvChunk } from './calls-format';
import type { Outcome } from '../domain/outcomes';
import type { FlaggedCallEvent } from '../events/flagged-call';

/** One merged record of the flagged-call log. */
export interface FlaggedCallRecord {
  callId: string;
  source: string;
  /** Epoch ms of the earliest event of the call. */
  receivedAt: number;
  callerRaw?: string;
  callerE164?: string;
  callerKind?: string;
  displayName?: string;
  /** Pseudonym (h:…) or the number, as configured. */
  called?: string;
  trunk?: string;
  verdict?: string;
  score?: number;
  reasons: string[];
  brand?: string;
  degraded?: boolean;
  outcome?: Outcome;
  ringMs?: number;
  warningMs?: number;
  talkMs?: number;
  endedAt?: number;
  updatedAt: number;
  /** The caller's SIP Call-ID as received (SIP front): searchable, never the key. */
  sipCallId?: string;
  /** The Asterisk channel (ARI app). */
  channelId?: string;
  /** Our own STIR/SHAKEN check: passed-A … failed-certificate, unverifiable, missing. */
  stir?: string;
  stirDetail?: string;
  stirOrigid?: string;
  /** When a report to the brand's abuse desk took it (epoch ms), and which report. */
  reportedAt?: number;
  reportId?: string;
}

export interface CallFilter {
  since?: number;
  until?: number;
  brand?: string;
  verdict?: string;
  outcome?: string;
  /** E.164 of the caller. */
  caller?: string;
  /** A reason code. */
  reason?: string;
  /** A STIR/SHAKEN result (passed-A … missing). */
  stir?: string;
  /** Whether a report to the brand's abuse desk holds the call. */
  reported?: boolean;
  /** The called number as stored (pseudonymised by the caller of list()). */
  called?: string;
  /** The caller's SIP Call-ID (several records when a caller reused one). */
  sipCallId?: string;
  channelId?: string;
}

export interface Page {
  records: FlaggedCallRecord[];
  /** Pass back to get the next page; absent on the last one. */
  nextCursor?: string;
}

/** Counts for the analysts' charts over one filter. */
export interface CallStats {
  total: number;
  /** Warned and blocked calls per time bucket (start, epoch ms), oldest first. */
  overTime: { bucket: number; warn: number; block: number }[];
  byBrand: { brand: string | null; calls: number }[];
  byReason: { reason: string; calls: number }[];
  byOutcome: { outcome: string | null; calls: number }[];
  /** What subscribers did with warned calls they answered or refused. */
  warningEffect: {
    warned: number;
    accepted: number;
    rejected: number;
    reported: number;
    /** Taken after the warning and reported afterwards by the subscriber (*73). */
    reportedAfter: number;
    /** (rejected + reported) / (taken + rejected + reported), taken = accepted + reportedAfter; null when none decided. */
    rejectedShare: number | null;
    /** Of the warned calls taken, the share reported afterwards; null when none was taken. */
    reportedAfterShare: number | null;
  };
}

export type Bucket = 'hour' | 'day';

/** The flagged-call log: SQLite or PostgreSQL behind one interface. */
/** One admin action: who (the token's name), what, when, on what, and how many entries it touched. */
export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target?: string;
  count?: number;
  detail?: string;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

export interface LogStore {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  /** Stores a batch in one transaction; events of one call merge into one record, in any order, any number of times. */
  upsert(events: readonly FlaggedCallEvent[]): Promise<void>;
  list(filter: CallFilter, page: { limit: number; cursor?: string }): Promise<Page>;
  get(callId: string): Promise<FlaggedCallRecord | undefined>;
  /**
   * Streams matching records, newest first, a page at a time (exports): a page, not a record, per step, so an
   * export of a million rows does not pay an async step per row.
   */
  pages(filter: CallFilter, pageSize?: number): AsyncGenerator<FlaggedCallRecord[]>;
  /**
   * The CSV export of matching records (calls-format.ts), the header row first: SQLite formats it in a thread of
   * its own, off the event loop the call path shares in `serve`.
   */
  csv(filter: CallFilter): AsyncGenerator<CsvChunk>;
  count(filter: CallFilter): Promise<number>;
  stats(filter: CallFilter, bucket: Bucket): Promise<CallStats>;
  /** Adds one admin action to the audit trail. */
  audit(entry: AuditEntry): Promise<void>;
  /** The audit trail, newest first; `before` pages on by id. */
  listAudit(page: { limit: number; before?: number }): Promise<AuditRecord[]>;
  /**
   * Marks calls as reported (report `reportId`, at `at`), each only while no report holds it: the ids it
   * marked. Two reports made at once never take the same call.
   */
  markReported(callIds: readonly string[], reportId: string, at: number): Promise<string[]>;
  /** Gives back the calls of a report that was not delivered; returns how many. */
  unmarkReport(reportId: string): Promise<number>;
  /** Deletes records received before the given time; returns how many. */
  purgeBefore(epochMs: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
