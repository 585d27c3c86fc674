import type { Config } from '../../services/common/config';
import type { Screening } from '../../services/screening';
import { testConfig } from '../support/config';
import { PrivateRedis } from '../support/redis';
import { seededScreening } from '../support/screening';

/** Redis stopped or paused: the engine allows within its budget (fail open) and recovers when Redis returns. */
let redis: PrivateRedis;
let config: Config;
let screening: Screening;
const amazon = { from: '"Amazon" <sip:+18882804331@x>', trunk: 'de-national' };

beforeAll(async () => {
  redis = await PrivateRedis.start();
  // every screening asks Redis here: how the cached answers and the local index ride out an outage (for at
  // most their max age) is tested in local-index.test.ts
  config = testConfig({
    redis: { url: redis.url, connectTimeoutMs: 500 },
    screening: { budgetMs: 50, localIndexMaxAgeMs: 0 },
  });
  screening = await seededScreening(config);
});
afterAll(async () => {
  await screening.close();
  await redis.stop();
});

async function eventually(check: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('not recovered in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('warns while Redis answers', async () => {
  const v = await screening.engine.screen(amazon);
  expect(v).toMatchObject({ verdict: 'warn', degraded: false });
});

it('paused Redis: degraded allow within the budget, recovery after resume', async () => {
  redis.pause();
  try {
    const started = Date.now();
    const v = await screening.engine.screen(amazon);
    const took = Date.now() - started;
    expect(v).toMatchObject({ verdict: 'allow', degraded: true });
    expect(v.reasons[0].code).toBe('degraded');
    // the name pattern cache still explains what was seen, for the analysts
    expect(v.reasons.map((r) => r.code)).toContain('brand-name');
    expect(took).toBeLessThan(config.screening.budgetMs * 10); // the budget, not a hang: generous for a loaded CI box
  } finally {
    redis.resume();
  }
  await eventually(async () => !(await screening.engine.screen(amazon)).degraded);
  expect((await screening.engine.screen(amazon)).verdict).toBe('warn');
});

it('paused Redis: look-ups asked for at different moments each end degraded, none hangs', async () => {
  redis.pause();
  try {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      // a guess the full reading corrects costs a second look-up: that one too ends within its budget
      pending.push(screening.engine.screen(i % 2 ? amazon : { from: '498003638469', trunk: 'de-national' }));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const verdicts = await Promise.all(pending);
    expect(verdicts).toEqual(Array(4).fill(expect.objectContaining({ verdict: 'allow', degraded: true })));
  } finally {
    redis.resume();
  }
  await eventually(async () => !(await screening.engine.screen(amazon)).degraded);
});

it('stopped Redis: degraded allow at once, recovery when it is back', async () => {
  await redis.stop();
  const v = await screening.engine.screen(amazon);
  expect(v).toMatchObject({ verdict: 'allow', degraded: true });
  // many calls while down: none waits
  const all = await Promise.all(Array.from({ length: 200 }, () => screening.engine.screen(amazon)));
  expect(all.every((x) => x.degraded && x.verdict === 'allow')).toBe(true);
  await redis.start(); // an empty Redis: the lists were not persisted, so seed them again
  await eventually(async () => !(await screening.engine.screen(amazon)).degraded);
});
