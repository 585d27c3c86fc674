/**
 * npm run chaos: the fault-injection run of the flagged-call pipeline (see chaos/harness.ts), a few minutes
 * long. Options (env): CHAOS_RATE=40 calls/s per producer, CHAOS_STEADY_SEC=30, CHAOS_REDIS_DOWN_SEC=10.
 * Needs redis-server and PostgreSQL's server binaries (Debian: /usr/lib/postgresql/<major>/bin, or PG_BIN);
 * the spool-disk-full fault needs root (a small tmpfs). Exit code 1 when anything was lost, duplicated or merged.
 */
import { describeReport, runChaos } from './harness';

async function main(): Promise<void> {
  const started = Date.now();
  const stamp = (): string => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]`;
  const report = await runChaos({
    rate: Number(process.env.CHAOS_RATE ?? 40),
    steadySec: Number(process.env.CHAOS_STEADY_SEC ?? 30),
    redisDownSec: Number(process.env.CHAOS_REDIS_DOWN_SEC ?? 10),
    healTimeoutSec: Number(process.env.CHAOS_HEAL_TIMEOUT_SEC ?? 180),
    log: (line) => process.stdout.write(`${stamp()} ${line}\n`),
  });
  const { lines, ok } = describeReport(report);
  process.stdout.write(
    `\nchaos run (${((Date.now() - started) / 1000).toFixed(0)} s):\n${lines.map((l) => `  ${l}`).join('\n')}\n`,
  );
  process.stdout.write(ok ? 'chaos: 0 lost, 0 duplicated, 0 merged\n' : 'chaos: FAILED (see above)\n');
  process.exit(ok ? 0 : 1);
}

main().catch((err: Error) => {
  process.stderr.write(`chaos run failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
