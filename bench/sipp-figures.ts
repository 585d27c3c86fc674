/** Figures the real-server benchmarks read off sipp and /proc. */
import { randomInt } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The lines of sipp's final message table with trouble: "200 <- timeout 12" (no answer in time), "BYE -> retrans 40",
 * "unexpected 3" (a message the scenario did not expect there).
 */
export function sippTrouble(screen: string): string {
  const table = screen.slice(screen.lastIndexOf('Messages  Retrans'));
  const trouble: string[] = [];
  for (const m of table.matchAll(
    /^\s*(\S+)\s+(<-+|-+>)\s+(?:[A-Z][\w-]*\s+)?(\d+)\s+(\d+)(?:\s+(\d+))?(?:\s+(\d+))?\s*$/gm,
  )) {
    const [, what, arrow, , retrans, timeout, unexpected] = m;
    const parts = [
      Number(retrans) ? `retrans ${retrans}` : '',
      Number(timeout) ? `timeout ${timeout}` : '',
      Number(unexpected) ? `unexpected ${unexpected}` : '',
    ].filter(Boolean);
    if (parts.length) trouble.push(`${what} ${arrow?.startsWith('<') ? '<-' : '->'} ${parts.join(' ')}`);
  }
  return trouble.join(', ');
}

/** CPU time (user + system, ms) a process (all its threads) has used so far; 0 for a process that is gone. */
export const cpuMs = (pid: number | undefined): number => {
  if (!pid) return 0;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  const fields = stat.split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
};

/** A process and its children (Kamailio forks its workers at start): their pids, from /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.split(') ')[1]?.split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const visit = (pid: number): void => {
    out.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return out;
}

/** The benchmark caller's sipp options: callers from a file, response times traced, a 5 s answer timeout. */
export const callerArgs = (callersFile: string, rate: number): string[] => [
  '-inf',
  callersFile,
  '-trace_rtt',
  '-rtt_freq',
  '1',
  '-recv_timeout',
  '5000',
  '-max_socket',
  '100000',
  '-l',
  String(rate * 10),
];

/** Successful and failed calls off sipp's final statistics screen (a call never counted is a failed one). */
export function callCounts(screen: string, calls: number): { ok: number; failed: number } {
  const count = (label: string): number =>
    Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(screen)?.[1] ?? 0);
  const ok = count('Successful call');
  return { ok, failed: Math.max(count('Failed call'), calls - ok) };
}

/** sipp's own response times (ms, in its main loop's steps) from the run's -trace_rtt file; [] without one. */
export function sippResponseTimes(dir: string): number[] {
  const file = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  if (!file) return [];
  return readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => Number(l.split(';')[1]))
    .filter((n) => Number.isFinite(n) && n >= 0);
}

/** A German landline or mobile number, the benches' everyday caller. */
export const germanNumber = (): string =>
  randomInt(2) ? `+4930${randomInt(1_000_000, 9_999_999)}` : `+49151${randomInt(10_000_000, 99_999_999)}`;

/** Writes sipp's -inf file of calling numbers, used in turn; returns its path. */
export function writeCallers(file: string, numbers: readonly string[]): string {
  writeFileSync(file, `SEQUENTIAL\n${numbers.map((n) => `${n};`).join('\n')}\n`);
  return file;
}
