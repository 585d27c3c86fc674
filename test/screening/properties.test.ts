import { brandNumbers, checkProperties } from '../support/screening-properties';
import { seededScreeningPerFile } from '../support/screening';

/**
 * Metamorphic properties on seeded lists and a real Redis, a fixed seed and a few hundred cases each; the
 * benchmark run (`npm run bench:screen-properties`) checks 100,000 cases per property.
 */
const file = seededScreeningPerFile();

it('no change a scammer can make turns a warning into allow; no input makes screening throw', async () => {
  const runs = await checkProperties(file.screening, {
    brandNumbers: brandNumbers(file.config),
    runs: 300,
    seed: 20261202,
    maxPadding: 3000,
  });
  expect(runs.map((r) => r.name)).toHaveLength(11);
}, 120_000);
