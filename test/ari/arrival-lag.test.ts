import { ArrivalLag } from '../../services/common/arrival-lag';

const created = (ms: number): string => new Date(ms).toISOString().replace('Z', '+0000');

describe('arrival lag', () => {
  it('cancels a clock difference: calls as late as usual have no lag', () => {
    const lag = new ArrivalLag();
    const t0 = 1_800_000_000_000;
    // Asterisk's clock 3 s behind ours: every delay reads 3 s plus the real few milliseconds
    for (let i = 0; i < 100; i++) expect(lag.observe(created(t0 + i * 10 - 3000 - 5), t0 + i * 10)).toBeLessThan(10);
  });

  it('keeps seeing a backlog that delays every call, however many calls it holds', () => {
    const lag = new ArrivalLag();
    const t0 = 1_800_000_000_000;
    expect(lag.observe(created(t0 - 5), t0)).toBe(0);
    // Asterisk falls 2 s behind and stays behind for 3,000 calls (15 s at 200 calls/s)
    const lags = Array.from({ length: 3000 }, (_, i) => {
      const now = t0 + 100 + i * 5;
      return lag.observe(created(now - 2005), now);
    });
    expect(Math.min(...lags)).toBeGreaterThanOrEqual(1990);
  });

  it('forgets a minute-old baseline, and says 0 when Asterisk gave no creation time', () => {
    const lag = new ArrivalLag();
    const t0 = 1_800_000_000_000;
    lag.observe(created(t0 - 5), t0);
    const later = t0 + 70_000;
    expect(lag.observe(created(later - 800), later)).toBe(0);
    expect(lag.observe(undefined, later)).toBe(0);
    expect(lag.observe('not a date', later)).toBe(0);
  });
});
