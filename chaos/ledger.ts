import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerLine } from './producer';

/** The poison event: a payload no worker can store. It must end in the failed set, alone, with its reason. */
export const POISON_JOB = 'flagged.chaos-poison-schema';

/** What the producers' ledgers say, read incrementally. */
export class Ledger {
  private readonly offsets = new Map<string, number>();
  readonly calls = new Map<
    string,
    { flagged?: LedgerLine['r']; outcome?: LedgerLine['r']; s?: string; raw?: string; o?: string }
  >();
  readonly counts = { emitted: 0, queued: 0, spooled: 0, lost: 0, invalid: 0, unknown: 0 };
  /** Events each producer spooled (the killed one's are replayed by another process). */
  readonly spooledBy = new Map<string, number>();

  constructor(private readonly dir: string) {}

  read(): void {
    for (const file of readdirSync(this.dir).filter((f) => f.endsWith('.ledger'))) {
      const path = join(this.dir, file);
      const data = readFileSync(path);
      const from = this.offsets.get(path) ?? 0;
      // up to the last whole line: a producer may be writing the next one right now
      const to = data.lastIndexOf(0x0a) + 1;
      if (to <= from) continue;
      this.offsets.set(path, to);
      for (const line of data.toString('utf8', from, to).split('\n'))
        if (line) this.add(JSON.parse(line) as LedgerLine);
    }
  }

  private add(line: LedgerLine): void {
    const call = this.calls.get(line.c) ?? {};
    this.calls.set(line.c, call);
    if (line.s) call.s = line.s;
    if (line.raw) call.raw = line.raw;
    if (line.o) call.o = line.o;
    if (line.r === 'emitting') {
      this.counts.emitted++;
      this.counts.unknown++;
    } else {
      this.counts.unknown--;
      this.counts[line.r]++;
      if (line.r === 'spooled') this.spooledBy.set(line.p, (this.spooledBy.get(line.p) ?? 0) + 1);
    }
    call[line.k] = line.r;
  }

  /** Events acknowledged to the call path (queued or spooled), as call id → what the log must show. */
  acknowledged(): { callId: string; flagged: boolean; outcome?: string }[] {
    const acked = (r?: LedgerLine['r']): boolean => r === 'queued' || r === 'spooled';
    return [...this.calls]
      .filter(([, c]) => acked(c.flagged) || acked(c.outcome))
      .map(([callId, c]) => ({ callId, flagged: acked(c.flagged), ...(acked(c.outcome) ? { outcome: c.o } : {}) }));
  }
}
