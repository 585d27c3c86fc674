/**
 * One measured run of a real-server SIP benchmark: a sipp caller at a fixed rate against one contestant, its
 * INVITE→final times read off the wire (bench/sip-capture.ts, else sipp's own), the CPU every process of the
 * contestant used per call, the sipps' own, and the host's steal over the run (bench/host-steal.ts).
 */
import { cpus } from 'node:os';
import { type RealServerEnv } from '../test/real/support/asterisk';
import { uacScenario } from '../test/real/support/sip-scenarios';
import { startSipp } from '../test/real/support/sipp';
import { freePort } from '../test/support/redis';
import { disturbance, HostSteal, STEAL_RULE, type StealFigures } from './host-steal';
import { CallerCapture } from './sip-capture';
import { callCounts, callerArgs, cpuMs, sippResponseTimes, sippTrouble } from './sipp-figures';

export interface CallerRunOptions {
  /** host:port the caller sends its INVITEs to. */
  target: string;
  rate: number;
  seconds: number;
  /** sipp's -inf file of calling numbers. */
  callers: string;
  called: string;
  /** The next hop's sipp (its CPU counts with the caller's). */
  nextHopPid: number;
  /** The contestant's processes, by the name its CPU is printed under. */
  groups: Record<string, number[]>;
  /** Read INVITE→final off a capture (false: sipp's response times, in its 4 ms steps). */
  capture: boolean;
}

export interface CallerRunFigures {
  calls: number;
  ok: number;
  failed: number;
  /** INVITE→final of each answered call, ms. */
  latency: number[];
  /** CPU ms per call, by group. */
  cpu: Record<string, number>;
  /** CPU ms per call of both sipps, and of the caller alone. */
  sipp: number;
  sippCaller: number;
  /** sipp's lines with trouble when calls failed. */
  trouble: string;
  steal: StealFigures;
}

const sum = (pids: number[]): number => pids.reduce((a, pid) => a + cpuMs(pid), 0);

export async function callerRun(env: RealServerEnv, o: CallerRunOptions): Promise<CallerRunFigures> {
  const calls = Math.round(o.rate * o.seconds);
  const callerPort = await freePort();
  const capture = o.capture ? new CallerCapture(callerPort) : undefined;
  await capture?.start();
  const before = Object.fromEntries(Object.entries(o.groups).map(([name, pids]) => [name, sum(pids)]));
  const hopBefore = cpuMs(o.nextHopPid);
  const hostSteal = new HostSteal(cpus().length);
  const uac = await startSipp(
    env,
    uacScenario({ number: '[field0]', called: o.called, measure: true, end: { kind: 'bye', afterMs: 0 } }),
    { remote: o.target, port: callerPort, calls, rate: o.rate, extra: callerArgs(o.callers, o.rate) },
  );
  // sipp's caller is gone when it ends: its CPU is read while it runs
  let callerCpu = 0;
  const sampler = setInterval(() => (callerCpu = cpuMs(uac.process.pid) || callerCpu), 200);
  await uac.done;
  clearInterval(sampler);
  const steal = hostSteal.stop();
  const per = (ms: number): number => ms / Math.max(1, calls);
  const cpu = Object.fromEntries(
    Object.entries(o.groups).map(([name, pids]) => [name, per(sum(pids) - (before[name] ?? 0))]),
  );
  const out = uac.output();
  const { ok, failed } = callCounts(out, calls);
  const latency = capture ? await capture.latencies() : sippResponseTimes(uac.dir);
  // the last calls' BYEs drain before the next run
  await new Promise((r) => setTimeout(r, 1500));
  return {
    calls,
    ok,
    failed,
    latency,
    cpu,
    sipp: per(callerCpu + cpuMs(o.nextHopPid) - hopBefore),
    sippCaller: per(callerCpu),
    trouble: failed ? sippTrouble(out) : '',
    steal,
  };
}

/** Runs `run` until the hypervisor left it alone (STEAL_RULE, the same for every contestant), printing each try. */
export async function undisturbed<T extends { steal: StealFigures }>(
  run: () => Promise<T>,
  line: (r: T) => string,
  label = '',
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const r = await run();
    const why = disturbance(r.steal);
    if (!why || attempt >= STEAL_RULE.retries) {
      console.log(`  ${line(r)}${label}${why ? ' (kept: disturbed as often as allowed)' : ''}`);
      return r;
    }
    console.log(`  ${line(r)}${label} — run again (${why})`);
  }
}
