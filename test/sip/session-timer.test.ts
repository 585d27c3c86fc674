import { calleeOffer, callerTimer, refreshAnswerHeaders, termsHeaders } from '../../services/sip/session-timer';

const msg = (headers: Record<string, string>) => ({
  header: (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1],
});

describe('RFC 4028 terms', () => {
  it('the caller: its interval lowered to ours, refresher as it asked, none when it neither supports nor asks', () => {
    expect(callerTimer(msg({}), 1800)).toEqual({});
    expect(callerTimer(msg({ Supported: 'timer' }), 0)).toEqual({});
    expect(callerTimer(msg({ Supported: '100rel, timer', 'Session-Expires': '3600;refresher=uac' }), 1800)).toEqual({
      terms: { intervalSec: 1800, refresher: 'peer', peerSupports: true },
    });
    // it left the choice to us and supports timers: it refreshes
    expect(callerTimer(msg({ Supported: 'timer', 'Session-Expires': '600' }), 1800)).toEqual({
      terms: { intervalSec: 600, refresher: 'peer', peerSupports: true },
    });
    expect(callerTimer(msg({ Supported: 'timer', 'Session-Expires': '600;refresher=uas' }), 1800)).toMatchObject({
      terms: { refresher: 'us' },
    });
    // a proxy asked for a timer the caller does not support: we refresh
    expect(callerTimer(msg({ 'Session-Expires': '900' }), 1800)).toEqual({
      terms: { intervalSec: 900, refresher: 'us', peerSupports: false },
    });
    // the compact form
    expect(callerTimer(msg({ k: 'timer', x: '1200;refresher=uac' }), 1800)).toMatchObject({
      terms: { intervalSec: 1200 },
    });
    // never below the caller's Min-SE
    expect(callerTimer(msg({ Supported: 'timer', 'Min-SE': '2400' }), 1800)).toMatchObject({
      terms: { intervalSec: 2400 },
    });
    expect(callerTimer(msg({ Supported: 'timer', 'Session-Expires': '30' }), 1800)).toEqual({
      tooSmall: true,
      minSe: 90,
    });
  });

  it('the callee: offered ours, with timer added to Supported once', () => {
    expect(calleeOffer(1800, '100rel')).toEqual({
      Supported: '100rel, timer',
      'Session-Expires': '1800',
      'Min-SE': '90',
    });
    expect(calleeOffer(1800, 'Timer').Supported).toBe('Timer');
    expect(calleeOffer(0, '100rel')).toEqual({});
  });

  it('states the terms from our side of each dialog', () => {
    const peerRefreshes = { intervalSec: 90, refresher: 'peer' as const, peerSupports: true };
    expect(termsHeaders(peerRefreshes, 'uas')).toEqual({ 'Session-Expires': '90;refresher=uac', Require: 'timer' });
    expect(termsHeaders({ ...peerRefreshes, refresher: 'us', peerSupports: false }, 'uac')).toEqual({
      'Session-Expires': '90;refresher=uac',
    });
  });

  it("answers a peer's refresh with the terms it asked for, or none", () => {
    expect(refreshAnswerHeaders(msg({ Supported: 'timer', 'Session-Expires': '90;refresher=uac' }))).toEqual({
      'Session-Expires': '90;refresher=uac',
      Require: 'timer',
    });
    expect(refreshAnswerHeaders(msg({ 'Session-Expires': '600' }))).toEqual({ 'Session-Expires': '600;refresher=uac' });
    expect(refreshAnswerHeaders(msg({}))).toEqual({});
  });
});
