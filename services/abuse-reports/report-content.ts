import { csvRow, csvRows } from '../common/csv';
import type { FlaggedCallRecord } from '../flagged-log';

/**
 * What a brand's abuse desk gets: a short plain-text summary and a CSV of the calls. Only what the caller sent
 * and what spoofguard and the subscriber made of it: never the called number, the channel, the SIP Call-ID or
 * anything else that identifies a subscriber.
 */
export interface ReportContent {
  subject: string;
  text: string;
  csv: string;
  /** The attachment's file name. */
  filename: string;
  calls: number;
  /** The first and last call's time (epoch ms). */
  from: number;
  to: number;
}

export interface ReportSender {
  /** Who reports (the network or company), as the desk should read it. */
  networkName: string;
}

/** The CSV columns, in order: the caller's side of each call only. */
export const REPORT_COLUMNS = [
  'reference',
  'timeUtc',
  'callerIdAsReceived',
  'callerNumber',
  'displayName',
  'receivingTrunk',
  'verdict',
  'score',
  'reasons',
  'stirShaken',
  'outcome',
  'reportedBySubscriber',
] as const;

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

const row = (r: FlaggedCallRecord): unknown[] => [
  r.callId,
  iso(r.receivedAt),
  r.callerRaw ?? '',
  r.callerE164 ?? '',
  r.displayName ?? '',
  r.trunk ?? '',
  r.verdict ?? '',
  r.score ?? '',
  r.reasons.join(' '),
  r.stir ?? '',
  r.outcome ?? '',
  r.outcome === 'reported' ? 'yes' : 'no',
];

/** The n most frequent values, most frequent first, with their counts. */
function top(values: readonly (string | undefined)[], n: number): [string, number][] {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
}

const listed = (pairs: [string, number][]): string => pairs.map(([v, n]) => `    ${v} (${n})`).join('\n');

/** The report of `records` (one brand's flagged calls, not reported before) for the brand named `brandName`. */
export function reportContent(
  brandName: string,
  brandId: string,
  records: readonly FlaggedCallRecord[],
  sender: ReportSender,
): ReportContent {
  if (records.length === 0) throw new Error('a report needs at least one call');
  const times = records.map((r) => r.receivedAt);
  const from = Math.min(...times);
  const to = Math.max(...times);
  const sorted = [...records].sort((a, b) => a.receivedAt - b.receivedAt || a.callId.localeCompare(b.callId));
  const count = (test: (r: FlaggedCallRecord) => boolean) => records.filter(test).length;
  const warned = count((r) => r.verdict === 'warn');
  const blocked = count((r) => r.verdict === 'block');
  const outcomes = top(
    records.map((r) => r.outcome ?? 'pending'),
    10,
  );
  const day = (ms: number) => iso(ms).slice(0, 10);
  const period = day(from) === day(to) ? day(from) : `${day(from)} to ${day(to)}`;
  const subject = `Spoofed ${brandName} caller IDs: ${records.length} call${records.length === 1 ? '' : 's'}, ${period} (UTC)`;
  const text = [
    `Hello ${brandName} abuse team,`,
    '',
    `${sender.networkName} runs spoofguard, a service that warns telephone subscribers before they take a call`,
    `whose caller ID or name poses as a brand. Between ${iso(from)} and ${iso(to)} (UTC) it flagged`,
    `${records.length} call${records.length === 1 ? '' : 's'} posing as ${brandName}: ${warned} warned about, ${blocked} blocked.`,
    '',
    'Caller IDs as received (most frequent first):',
    listed(
      top(
        records.map((r) => r.callerE164 ?? r.callerRaw),
        10,
      ),
    ),
    '',
    'Display names shown:',
    listed(
      top(
        records.map((r) => r.displayName),
        10,
      ),
    ) || '    (none)',
    '',
    'Receiving network / trunk:',
    listed(
      top(
        records.map((r) => r.trunk),
        10,
      ),
    ) || '    (unknown)',
    '',
    'What the subscribers did (outcome):',
    listed(outcomes),
    `    ${count((r) => r.outcome === 'reported')} subscriber(s) reported the call as fraud.`,
    '',
    'The attached CSV lists each call: time (UTC), the caller ID as received, the caller number, the display',
    "name, the receiving trunk, spoofguard's verdict, score and reasons, the STIR/SHAKEN result, and the outcome.",
    "It holds no called numbers and nothing else that identifies our subscribers. Each call's reference is ours:",
    'quote it if you need more on a call.',
    '',
    `-- ${sender.networkName} (spoofguard)`,
  ].join('\n');
  return {
    subject,
    text,
    csv: csvRow(REPORT_COLUMNS) + csvRows(sorted.map(row)),
    filename: `spoofguard-${brandId}-${day(from)}-${day(to)}.csv`,
    calls: records.length,
    from,
    to,
  };
}
