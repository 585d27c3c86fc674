/**
 * CPU time the hypervisor gave to other guests while a run was measured ("steal" in /proc/stat): on a shared
 * virtual machine it comes in bursts, and a burst of it stalls drachtio-server, sipp and the app alike, which
 * shows up as a p99 no code of ours caused. Sampled every 100 ms, so the worst burst is visible next to the
 * run's total.
 */
import { readFileSync } from 'node:fs';

const TICK_MS = 1000 / 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux

/** The machine's steal time so far, in ms summed over its CPUs (0 where /proc/stat has no steal column). */
function stealMs(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/) ?? [];
    return Number(cpu[8] ?? 0) * TICK_MS;
  } catch {
    return 0;
  }
}

export interface StealFigures {
  /** Steal over the run, as a share of the run's CPU time (wall time × CPUs). */
  share: number;
  /** The most steal in one 100 ms sample, in ms summed over the CPUs (200 = both CPUs for the whole sample). */
  worstMs: number;
}

export class HostSteal {
  private readonly startedAt = Date.now();
  private readonly first = stealMs();
  private last = this.first;
  private worst = 0;
  private readonly timer = setInterval(() => {
    const now = stealMs();
    this.worst = Math.max(this.worst, now - this.last);
    this.last = now;
  }, 100);

  constructor(private readonly cpus: number) {
    this.timer.unref();
  }

  stop(): StealFigures {
    clearInterval(this.timer);
    const total = stealMs() - this.first;
    const wallMs = Math.max(1, Date.now() - this.startedAt);
    return { share: total / (wallMs * this.cpus), worstMs: this.worst };
  }
}

/**
 * The rule every real-server bench measures by: a run with this much steal is run again, up to `retries` times
 * (BENCH_STEAL_WORST_MS, BENCH_STEAL_SHARE, BENCH_STEAL_RETRIES): its p99 measures the host, not the contestant.
 */
export const STEAL_RULE = {
  worstMs: Number(process.env.BENCH_STEAL_WORST_MS ?? 100),
  share: Number(process.env.BENCH_STEAL_SHARE ?? 0.15),
  retries: Number(process.env.BENCH_STEAL_RETRIES ?? 3),
};

/** Why a run counts as disturbed under STEAL_RULE, or undefined when it does not. */
export const disturbance = (s: StealFigures): string | undefined =>
  s.worstMs >= STEAL_RULE.worstMs || s.share >= STEAL_RULE.share
    ? `host steal ${(s.share * 100).toFixed(1)}%, worst 100 ms ${s.worstMs.toFixed(0)} ms`
    : undefined;
