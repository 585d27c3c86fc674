import IORedis from 'ioredis';
import { ListKeys } from '../../services/screening/list-keys';
import { ReportCounter } from '../../services/screening/reports';
import { quietLogger, REDIS_URL } from '../support/config';
import { dropPrefix } from '../support/redis';

describe('subscribers’ reports', () => {
  const prefix = `sg-reports-${process.pid}-`;
  const redis = new IORedis(REDIS_URL);
  const keys = new ListKeys(prefix);
  const reports = new ReportCounter(redis, keys, quietLogger(), 30);
  afterAll(async () => {
    await dropPrefix(prefix);
    redis.disconnect();
  });

  it('count once per subscriber and caller: pressing 3 on every call of one caller is one report', async () => {
    const caller = '+18882804331';
    expect(await reports.count(caller, 'amazon', '+4930901820')).toBe(true);
    expect(await reports.count(caller, 'amazon', '+4930901820')).toBe(false);
    expect(await reports.count(caller, 'amazon', '+4930901820')).toBe(false);
    expect(await reports.count(caller, 'amazon', '+4930901821')).toBe(true);
    expect(await reports.get(caller)).toMatchObject({ count: 2, brand: 'amazon' });
    expect((await reports.top(10)).find((r) => r.number === caller)?.count).toBe(2);
    // the subscribers are kept only as digests
    const fields = Object.keys(await redis.hgetall(keys.reports('18882804331')));
    expect(fields.filter((f) => f.startsWith('by:'))).toHaveLength(2);
    expect(fields.join(' ')).not.toContain('4930901820');
  });

  it('are forgotten keepDays after the last report, and leave the index with them', async () => {
    const caller = '+18005550100';
    await reports.count(caller, 'amazon', '+4930901820');
    const ttl = await redis.ttl(keys.reports('18005550100'));
    expect(ttl).toBeGreaterThan(29 * 86_400);
    expect(ttl).toBeLessThanOrEqual(30 * 86_400);
    // Redis expires the key (here at once): the index no longer lists the caller
    await redis.del(keys.reports('18005550100'));
    expect((await reports.top(100)).map((r) => r.number)).not.toContain(caller);
    expect(await redis.zscore(keys.reportIndex(), '18005550100')).toBeNull();
  });
});
