import { SetupDeadlines } from '../../services/sip/setup-deadlines';

describe('setup deadlines', () => {
  it('gives the answer that comes in time, undefined for one that does not, and passes rejections on', async () => {
    const deadlines = new SetupDeadlines(20);
    const never = new Promise<number>(() => undefined);
    const started = Date.now();
    const [late, soon, failed] = await Promise.allSettled([
      deadlines.within(never, 100),
      deadlines.within(new Promise<number>((r) => setTimeout(() => r(7), 30)), 1000),
      deadlines.within(Promise.reject(new Error('B leg gone')), 1000),
    ]);
    expect(late).toEqual({ status: 'fulfilled', value: undefined });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(soon).toEqual({ status: 'fulfilled', value: 7 });
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'B leg gone' } });
    // nothing left waiting: the shared timer stops with the last wait
    expect(deadlines.pending).toBe(0);
  });
});
