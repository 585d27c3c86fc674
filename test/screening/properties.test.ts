import type { Config } from '../../services/common/config';
import type { Screening } from '../../services/screening';
import { testConfig } from '../support/config';
import { dropPrefix } from '../support/redis';
import { brandNumbers, checkProperties } from '../support/screening-properties';
import { seededScreening } from '../support/screening';

/**
 * Metamorphic properties on seeded lists and a real Redis, a fixed seed and a few hundred cases each; the
 * benchmark run (`npm run bench:screen-properties`) checks 100,000 cases per property.
 */
let config: Config;
let screening: Screening;
beforeAll(async () => {
  config = testConfig();
  screening = await seededScreening(config);
});
afterAll(async () => {
  await screening.close();
  await dropPrefix(config.redis.keyPrefix);
});

it('no change a scammer can make turns a warning into allow; no input makes screening throw', async () => {
  const runs = await checkProperties(screening, {
    brandNumbers: brandNumbers(config),
    runs: 300,
    seed: 20261202,
    maxPadding: 3000,
  });
  expect(runs.map((r) => r.name)).toHaveLength(11);
}, 120_000);
