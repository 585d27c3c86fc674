/**
 * npm run bench:screen-properties: the metamorphic screening properties with 100,000 generated cases each
 * (BENCH_PROPERTY_RUNS), against seeded lists on the local Redis (own key prefix, cleaned up). Prints per
 * property the cases checked, the time it took and the slowest screening against the screening budget.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { openListAdmin, openScreening } from '../services/screening';
import { seedEntries } from '../services/screening/seed';
import { brandNumbers, checkProperties } from '../test/support/screening-properties';
import { dropPrefix } from '../test/support/redis';

const runs = Number(process.env.BENCH_PROPERTY_RUNS ?? 100_000);
const prefix = `benchprop${randomBytes(3).toString('hex')}:`;
const config = loadConfig({ overrides: { log: { level: 'warn' }, redis: { keyPrefix: prefix } } });
const logger = createLogger({ level: 'warn' });

async function main(): Promise<void> {
  const seed = Number(process.env.BENCH_SEED ?? Date.now() % 2 ** 31);
  console.log(`spoofguard bench:screen-properties — ${runs.toLocaleString('en')} cases a property, seed ${seed}`);
  console.log(
    `screening budget ${config.screening.budgetMs} ms (Redis look-up); the slowest screening of each property below`,
  );
  const admin = await openListAdmin(config, logger);
  await admin.admin.import(seedEntries(admin.brands), { replace: { origin: 'seed' } });
  await admin.close();
  const screening = await openScreening(config, logger);
  let started = performance.now();
  try {
    await checkProperties(screening, { brandNumbers: brandNumbers(config), runs, seed, maxPadding: 20_000 }, (run) => {
      const seconds = (performance.now() - started) / 1000;
      started = performance.now();
      const within = run.slowestMs <= config.screening.budgetMs ? 'within budget' : 'OVER BUDGET';
      console.log(
        `  ✓ ${run.name.padEnd(50)} ${run.runs.toLocaleString('en')} cases  ${seconds.toFixed(1)} s  slowest ${run.slowestMs.toFixed(2)} ms (${within}), ${run.degraded} degraded and screened again`,
      );
    });
  } finally {
    await screening.close();
    await dropPrefix(prefix);
  }
}

main().catch((err: Error) => {
  console.error(`property failed: ${err.message}`);
  process.exitCode = 1;
});
