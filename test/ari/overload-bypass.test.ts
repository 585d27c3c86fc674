import type { AriConnection } from '../../services/ari/ari-adapter';
import { OverloadBypass } from '../../services/ari/overload-bypass';
import { quietLogger } from '../support/config';

/** The two calls the bypass makes on ARI, answered at once, with what it wrote. */
function globals(): { conn: AriConnection; vars: Map<string, string> } {
  const vars = new Map<string, string>([['SPOOFGUARD_BYPASSED', '0']]);
  const conn = {
    setGlobal: async (name: string, value: string) => void vars.set(name, value),
    getGlobal: async (name: string) => vars.get(name) ?? '',
  } as unknown as AriConnection;
  return { conn, vars };
}

describe('overload bypass share', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_800_000_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('sends all new calls past at once, then gives screening ten points back each calm half second', async () => {
    const { conn, vars } = globals();
    const counted: number[] = [];
    const bypass = new OverloadBypass(conn, { bypassSec: 2 }, (n) => counted.push(n), quietLogger());
    bypass.overloaded();
    await jest.advanceTimersByTimeAsync(0);
    expect(vars.get('SPOOFGUARD_BYPASS_SHARE')).toBe('100');
    expect(Number(vars.get('SPOOFGUARD_BYPASS_UNTIL'))).toBeGreaterThan(Date.now() / 1000);

    vars.set('SPOOFGUARD_BYPASSED', '40'); // the dialplan counted 40 calls sent past
    // the interval that began the episode gives nothing back; the next two give ten points each
    await jest.advanceTimersByTimeAsync(1500);
    expect(counted).toEqual([40]);
    expect(vars.get('SPOOFGUARD_BYPASS_SHARE')).toBe('80');

    // a late call: half as many screened as before (20 → 10 %), at most once an interval
    bypass.pressure();
    expect(bypass.share).toBe(90);
    bypass.pressure();
    bypass.overloaded();
    expect(bypass.share).toBe(90);
    await jest.advanceTimersByTimeAsync(0);
    expect(vars.get('SPOOFGUARD_BYPASS_SHARE')).toBe('90');
    // the interval that saw pressure gives nothing back
    await jest.advanceTimersByTimeAsync(500);
    expect(bypass.share).toBe(90);
    await jest.advanceTimersByTimeAsync(500);
    expect(bypass.share).toBe(80);
    await bypass.stop();
  });

  it('a tick still waiting for Asterisk makes the next skip: never two at once (each would step the share)', async () => {
    const { conn, vars } = globals();
    let slow = false;
    let inFlight = 0;
    let mostAtOnce = 0;
    const read = conn.getGlobal.bind(conn);
    // Asterisk answers the count 1.2 s late (over two intervals) while slow
    conn.getGlobal = async (name: string) => {
      inFlight++;
      mostAtOnce = Math.max(mostAtOnce, inFlight);
      if (slow) await new Promise((r) => setTimeout(r, 1200));
      inFlight--;
      return read(name);
    };
    const counted: number[] = [];
    const bypass = new OverloadBypass(conn, { bypassSec: 2 }, (n) => counted.push(n), quietLogger());
    bypass.overloaded();
    await jest.advanceTimersByTimeAsync(0);
    slow = true;
    vars.set('SPOOFGUARD_BYPASSED', '30');
    await jest.advanceTimersByTimeAsync(3000);
    slow = false;
    await jest.advanceTimersByTimeAsync(1000);
    expect(mostAtOnce).toBe(1);
    expect(counted.reduce((a, b) => a + b, 0)).toBe(30);
    await bypass.stop();
  });

  it('switches the bypass off after five calm seconds at 0, and the next overload starts a new episode', async () => {
    const { conn, vars } = globals();
    const bypass = new OverloadBypass(conn, { bypassSec: 2 }, () => undefined, quietLogger());
    bypass.overloaded();
    await jest.advanceTimersByTimeAsync(5500); // 100 → 0 after the first interval
    expect(bypass.share).toBe(0);
    expect(Number(vars.get('SPOOFGUARD_BYPASS_UNTIL'))).toBeGreaterThan(Date.now() / 1000);
    await jest.advanceTimersByTimeAsync(4500);
    expect(Number(vars.get('SPOOFGUARD_BYPASS_UNTIL'))).toBeGreaterThan(0);
    await jest.advanceTimersByTimeAsync(500);
    expect(vars.get('SPOOFGUARD_BYPASS_UNTIL')).toBe('0');
    expect(bypass.share).toBe(0);
    bypass.pressure(); // no episode: nothing to steer
    expect(vars.get('SPOOFGUARD_BYPASS_UNTIL')).toBe('0');
    bypass.overloaded();
    await jest.advanceTimersByTimeAsync(0);
    expect(bypass.share).toBe(100);
    await bypass.stop();
  });

  it('never bypasses with ari.overloadBypassSec 0', async () => {
    const { conn, vars } = globals();
    const bypass = new OverloadBypass(conn, { bypassSec: 0 }, () => undefined, quietLogger());
    bypass.overloaded();
    await jest.advanceTimersByTimeAsync(1000);
    expect(vars.has('SPOOFGUARD_BYPASS_UNTIL')).toBe(false);
    await bypass.stop();
  });
});
