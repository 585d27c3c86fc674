import { randomUUID } from 'node:crypto';
import type { AppResponse, ProxyRecord } from '../support/drachtio-server/server';
import { until } from '../support/events';
import { scenarioMessage, withHeader } from '../support/sipp/scenario';
import { SOURCES, startSipHarness, type SipHarness } from './harness';

/**
 * Dialogs as the real drachtio-server runs them (test/real/sip.real.test.ts showed each of these): what it
 * does with in-dialog requests of proxied calls, and the order in which a caller's ACK and BYE reach the app.
 */
let h: SipHarness;
afterEach(async () => {
  await h?.close();
});

const SUBSCRIBER = '+4930901820';
const invite = (scenario: string, callId = randomUUID()) => ({
  callId,
  raw: scenarioMessage(scenario, { service: SUBSCRIBER, callId }),
});

/** An INVITE without SDP (the offer comes in the 200, the answer in the ACK). */
const lateOffer = (raw: string): string => {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  const lines = head.split('\r\n').filter((l) => !/^content-type\s*:/i.test(l));
  return `${lines.map((l) => (/^content-length\s*:/i.test(l) ? 'Content-Length: 0' : l)).join('\r\n')}\r\n\r\n`;
};

describe('proxied calls stay in the dialog', () => {
  it('a clean call is record-routed: a BYE along the route set passes on, one without it gets 481', async () => {
    h = await startSipHarness();
    const call = invite('clean-call.xml');
    const proxied = (await h.server.deliver(call.raw, SOURCES.national)) as ProxyRecord;
    expect(proxied.kind).toBe('proxy');
    expect(h.server.proxiedDialogs.get(call.callId)).toEqual({ recordRoute: true });
    expect(h.server.inProxiedDialog(call.callId, 'BYE', false)).toBe(481);
    expect(h.server.inProxiedDialog(call.callId, 'BYE', true)).toBe('passed-on');
  });

  it('a trunk with recordRoute: false leaves the dialog', async () => {
    h = await startSipHarness({
      trunks: {
        'carrier-de': {
          country: 'DE',
          international: false,
          identityHeaders: ['From'],
          sources: ['192.0.2.0/25'],
          recordRoute: false,
        },
      },
      screening: { defaultTrunk: 'carrier-de' },
    });
    const call = invite('clean-call.xml');
    await h.server.deliver(call.raw, SOURCES.national);
    expect(h.server.proxiedDialogs.get(call.callId)).toEqual({ recordRoute: false });
    expect(h.server.inProxiedDialog(call.callId, 'BYE', true)).toBe(481);
  });
});

describe('bridged calls without SDP in the INVITE: the caller’s ACK carries the answer', () => {
  it.each([
    ['after the echo of the 200', 'after-echo'],
    ['before the echo of the 200 (the dialog is not known to the app yet)', 'before-echo'],
    ['with the BYE right behind it in one write', 'with-bye'],
  ] as const)('ACK %s: the called leg gets its ACK, and its BYE when the caller hangs up', async (_what, timing) => {
    h = await startSipHarness();
    h.server.callerAck = timing;
    const call = invite('forged-verdict.xml');
    const answered = (await h.server.deliver(lateOffer(call.raw), SOURCES.national)) as AppResponse;
    expect(answered).toMatchObject({ kind: 'response', status: 200 });
    const [bLeg] = h.server.outgoing;
    expect(bLeg?.header('Content-Length')).toBe('0');
    await until(() => h.server.acked.has(bLeg?.dialogId ?? '?'), 3000, 'ACK to the called leg');
    if (timing !== 'with-bye') await h.server.hangUp(answered.dialogId as string, answered);
    await until(() => h.server.inDialog.some((r) => r.method === 'BYE'), 3000, 'BYE to the called leg');
    if (timing === 'with-bye') expect(h.server.callerByes.get(answered.dialogId as string)).toBe(200);
    await until(() => h.sip.app.activeCalls === 0, 3000, 'the call ended in the app');
  });
});

describe('loop protection', () => {
  it('Max-Forwards: 0 is answered 483 before any work', async () => {
    h = await startSipHarness();
    const call = invite('clean-call.xml');
    const answer = (await h.server.deliver(withHeader(call.raw, 'Max-Forwards', '0'), SOURCES.national)) as AppResponse;
    expect(answer).toMatchObject({ kind: 'response', status: 483 });
    expect(h.server.outgoing).toHaveLength(0);
  });

  it('the bridge passes Max-Forwards on one lower', async () => {
    h = await startSipHarness();
    const call = invite('forged-verdict.xml');
    const answered = (await h.server.deliver(
      withHeader(call.raw, 'Max-Forwards', '9'),
      SOURCES.national,
    )) as AppResponse;
    expect(h.server.outgoing[0]?.header('Max-Forwards')).toBe('8');
    await h.server.hangUp(answered.dialogId as string, answered);
    await until(() => h.sip.app.activeCalls === 0);
  });
});

describe('messages drachtio-srf’s parser cannot read as they came', () => {
  it('an INVITE whose every line ends in LF is read as drachtio-server read it: Amazon goes to the IVR', async () => {
    h = await startSipHarness();
    const call = invite('spoofed-amazon.xml');
    const proxied = (await h.server.deliver(call.raw.replace(/\r\n/g, '\n'), SOURCES.national)) as ProxyRecord;
    expect(proxied).toMatchObject({ kind: 'proxy', destinations: [`sip:${SUBSCRIBER}@ivr.example.de:5070`] });
  });

  it('a request it cannot read at all is answered 400 at once and counted, never screened', async () => {
    h = await startSipHarness();
    const unreadable = `INVITE sip:${SUBSCRIBER}@sbc.example.de SIP/2.0\r\nthis line has no colon\r\nCall-ID: x\r\n\r\n`;
    const answer = (await h.server.deliver(unreadable, SOURCES.national)) as AppResponse;
    expect(answer).toMatchObject({ kind: 'response', status: 400 });
    expect(h.sip.app.activeCalls).toBe(0);
  });
});

it('a proxied call whose final answer drachtio-server never reports is let go after sip.setupTimeoutSec', async () => {
  h = await startSipHarness({ sip: { setupTimeoutSec: 1 } });
  h.server.answerProxy = () => 0;
  const call = invite('clean-call.xml');
  void h.server.deliver(call.raw, SOURCES.national);
  await until(() => h.sip.app.activeCalls === 1, 2000, 'the call in hand');
  await until(() => h.sip.app.activeCalls === 0, 3000, 'the call let go');
});

it('overload: an INVITE beyond sip.maxCallsInSetup goes on to the next hop at once, unscreened and counted', async () => {
  h = await startSipHarness({ sip: { maxCallsInSetup: 1 } });
  const shed: string[] = [];
  h.sip.app.onUnscreened = (reason) => shed.push(reason);
  const first = invite('spoofed-amazon.xml');
  const second = invite('spoofed-amazon.xml');
  // both arrive together: the first is still being screened when the second comes
  const [a, b] = (await Promise.all([
    h.server.deliver(first.raw, SOURCES.national),
    h.server.deliver(second.raw, SOURCES.national),
  ])) as ProxyRecord[];
  expect(a?.destinations).toEqual([`sip:${SUBSCRIBER}@ivr.example.de:5070`]);
  // with the called number, as a screened call gets it
  expect(b?.destinations).toEqual([`sip:${SUBSCRIBER}@pbx.example.de:5060`]);
  expect(b?.raw).not.toMatch(/x-spoofguard/i);
  expect(shed).toEqual(['overload']);
  // the load gone, the next call is screened again
  const third = (await h.server.deliver(invite('spoofed-amazon.xml').raw, SOURCES.national)) as ProxyRecord;
  expect(third.destinations).toEqual([`sip:${SUBSCRIBER}@ivr.example.de:5070`]);
});
