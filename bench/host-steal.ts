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
