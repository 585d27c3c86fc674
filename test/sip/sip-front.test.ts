import { randomUUID } from 'node:crypto';
import { verifyVerdict } from '../../services/common/verdict-header';
import type { AppResponse, ProxyRecord } from '../support/drachtio-server/server';
import { until } from '../support/events';
import { PrivateRedis } from '../support/redis';
import { scenarioMessage, withHeader } from '../support/sipp/scenario';
import { openProducer } from '../../services/events';
import { runSip } from '../../services/sip';
import { quietLogger, testConfig } from '../support/config';
import { DrachtioTestServer } from '../support/drachtio-server/server';
import { seededScreening } from '../support/screening';
import { pipelineIdle } from '../support/call-path';
import { IVR, SOURCES, startSipHarness, storedRow, TEST_TRUNKS, VERDICT_KEY, type SipHarness } from './harness';

let h: SipHarness;
afterEach(async () => {
  await h?.close();
});

const SUBSCRIBER = '+4930901820';
const invite = (scenario: string, callId: string = randomUUID()) => ({
  callId,
  raw: scenarioMessage(scenario, { service: SUBSCRIBER, callId }),
});

const asProxy = (answer: unknown): ProxyRecord => {
  expect(answer).toMatchObject({ kind: 'proxy' });
  return answer as ProxyRecord;
};
const asResponse = (answer: unknown): AppResponse => {
  expect(answer).toMatchObject({ kind: 'response' });
  return answer as AppResponse;
};

describe('routing per verdict', () => {
  it('proxies a clean call to the next hop, with the called number, adding nothing, logging nothing', async () => {
    h = await startSipHarness();
    const call = invite('clean-call.xml');
    const proxied = asProxy(await h.server.deliver(call.raw, SOURCES.national));
    expect(proxied.destinations).toEqual([`sip:${SUBSCRIBER}@pbx.example.de:5060`]);
    expect(proxied.raw.split('\r\n').filter((l) => /^x-spoofguard-/i.test(l))).toEqual([]);
    expect(proxied.header('P-Asserted-Identity')).toContain('+4940123456');
    await until(() => h.sip.app.activeCalls === 0);
    await pipelineIdle(h);
    expect(await h.worker.store.count({})).toBe(0);
  });

  it('sends a spoofed Amazon call to the warning IVR with a signed verdict header naming its log record', async () => {
    h = await startSipHarness();
    const call = invite('spoofed-amazon.xml');
    const proxied = asProxy(await h.server.deliver(call.raw, SOURCES.national));
    expect(proxied.destinations).toEqual([`sip:${SUBSCRIBER}@ivr.example.de:5070`]);
    expect(proxied.headers('X-Spoofguard-Verdict')).toHaveLength(1);
    const checked = verifyVerdict(proxied.header('X-Spoofguard-Verdict'), VERDICT_KEY, 30);
    expect(checked).toMatchObject({
      ok: true,
      verdict: { verdict: 'warn', brand: 'amazon', call: expect.stringMatching(/^sip:[0-9a-f-]{36}\.[0-9a-z]+$/) },
    });
    if (checked.ok) expect(checked.verdict.reasons).toEqual(expect.arrayContaining(['brand-number', 'brand-name']));
    const row = await storedRow(h, call.callId, (r) => r.verdict === 'warn');
    // the header names the record: spoofguard's own key, with the caller's Call-ID beside it
    expect(checked.ok && checked.verdict.call).toBe(row.callId);
    expect(row.sipCallId).toBe(call.callId);
    expect(row).toMatchObject({ source: 'sip', brand: 'amazon', trunk: 'carrier-de', callerE164: '+18882804331' });
    // the IVR answered: the ARI app logs the subscriber's decision under the same id, not the SIP front
    expect(row.outcome).toBeUndefined();
  });

  it('refuses a called number that is not a number with 484 before screening, passing nothing on', async () => {
    // user parameters (sip:4930;npdi@…) are parameters, not the number: they never reach a URI either
    const hostile = [
      '+49123&PJSIP/x%40evil',
      '4930%2c%2c%2c',
      '4930(1)',
      '4930/1',
      '4930%00',
      '1'.repeat(200),
      '+49%2630',
    ];
    h = await startSipHarness();
    for (const called of hostile) {
      const raw = scenarioMessage('spoofed-amazon.xml', { service: called, callId: randomUUID() });
      expect(asResponse(await h.server.deliver(raw, SOURCES.national)).status).toBe(484);
    }
    // nothing went anywhere: no B leg; every answer above was a response, not a proxy
    expect(h.server.outgoing).toEqual([]);
    expect(await h.metrics.text()).toMatch(
      new RegExp(`spoofguard_calls_refused_total\\{source="sip",reason="called-number"[^}]*\\} ${hostile.length}\n`),
    );
  });

  it('logs a warned call as failed when the warning IVR cannot be reached', async () => {
    h = await startSipHarness();
    h.server.answerProxy = (destination) => (destination.includes('ivr.example.de') ? 503 : 200);
    const call = invite('spoofed-amazon.xml');
    asProxy(await h.server.deliver(call.raw, SOURCES.national));
    const row = await storedRow(h, call.callId, (r) => r.outcome !== undefined);
    expect(row).toMatchObject({ verdict: 'warn', outcome: 'failed' });
  });

  it('rejects 110 as caller ID with 608 Rejected, a Reason header and the complaint Call-Info, ringing no one', async () => {
    h = await startSipHarness({ sip: { blockCallInfo: '<https://spoofguard.example.net/blocked>;purpose=info' } });
    const call = invite('caller-110.xml');
    const answer = asResponse(await h.server.deliver(call.raw, SOURCES.national));
    expect(answer.status).toBe(608);
    expect(answer.reason).toBe('Rejected');
    expect(answer.header('Reason')).toMatch(/^SIP;cause=608;text="Suspected caller ID spoofing: .*emergency-caller-id/);
    expect(answer.header('Call-Info')).toBe('<https://spoofguard.example.net/blocked>;purpose=info');
    expect(h.server.outgoing).toHaveLength(0);
    const row = await storedRow(h, call.callId, (r) => r.outcome === 'blocked');
    expect(row).toMatchObject({ verdict: 'block', reasons: expect.arrayContaining(['emergency-caller-id']) });
  });

  it("a caller that reuses a Call-ID gets a record per call: the log's key is spoofguard's own", async () => {
    h = await startSipHarness();
    const callId = 'reused-by-the-caller@192.0.2.10';
    for (let i = 0; i < 2; i++)
      asResponse(await h.server.deliver(invite('caller-110.xml', callId).raw, SOURCES.national));
    await until(async () => (await h.worker.store.count({ sipCallId: callId })) === 2, 10000, 'two records');
    const { records } = await h.worker.store.list({ sipCallId: callId }, { limit: 5 });
    expect(new Set(records.map((r) => r.callId)).size).toBe(2);
    expect(records.every((r) => r.outcome === 'blocked' && r.sipCallId === callId)).toBe(true);
  });

  it('answers 603 Decline instead when configured for peers without 608', async () => {
    h = await startSipHarness({ sip: { blockStatus: 603 } });
    const answer = asResponse(await h.server.deliver(invite('caller-110.xml').raw, SOURCES.national));
    expect(answer).toMatchObject({ status: 603, reason: 'Decline' });
    expect(answer.header('Reason')).toMatch(/^SIP;cause=603;/);
  });

  it('without a warning IVR, warned calls go to the next hop and their proxy outcome is logged', async () => {
    h = await startSipHarness({ sip: { warningIvrUri: '' } });
    h.server.answerProxy = () => 486;
    const call = invite('spoofed-amazon.xml');
    const proxied = asProxy(await h.server.deliver(call.raw, SOURCES.national));
    expect(proxied.destinations).toEqual([`sip:${SUBSCRIBER}@pbx.example.de:5060`]);
    expect(proxied.header('X-Spoofguard-Verdict')).toBeUndefined();
    const row = await storedRow(h, call.callId, (r) => r.outcome !== undefined);
    expect(row).toMatchObject({ verdict: 'warn', outcome: 'rejected' });
  });
});

describe('foreign X-Spoofguard headers', () => {
  it('removes them from the call that goes on (B2BUA), screens itself and signs its own verdict', async () => {
    h = await startSipHarness();
    const call = invite('forged-verdict.xml');
    const answered = asResponse(await h.server.deliver(call.raw, SOURCES.national));
    expect(answered.status).toBe(200);
    const [bLeg] = h.server.outgoing;
    expect(bLeg?.uri).toBe(`sip:${SUBSCRIBER}@ivr.example.de:5070`);
    expect(bLeg?.headers('X-Spoofguard-Trunk')).toEqual([]);
    expect(bLeg?.headers('X-Spoofguard-Verdict')).toHaveLength(1);
    expect(verifyVerdict(bLeg?.header('X-Spoofguard-Verdict'), VERDICT_KEY, 30)).toMatchObject({
      ok: true,
      verdict: { verdict: 'warn', brand: 'amazon' },
    });
    // what is left of the caller's request went on: identity, SDP type, subject
    expect(bLeg?.header('P-Asserted-Identity')).toContain('+18882804331');
    expect(bLeg?.header('Content-Type')).toBe('application/sdp');
    const row = await storedRow(h, call.callId, (r) => r.verdict === 'warn');
    // the forged trunk header did not choose the trunk: the source address did
    expect(row.trunk).toBe('carrier-de');

    // the caller hangs up: the B leg gets its BYE
    await h.server.hangUp(answered.dialogId as string, answered);
    await until(() => h.server.inDialog.some((r) => r.method === 'BYE'), 5000, 'BYE to the B leg');
    await until(() => h.sip.app.activeCalls === 0);
  });

  it('a header that came as several lines (Identity) goes on to the B leg as several lines, not joined by ","', async () => {
    h = await startSipHarness();
    const call = invite('forged-verdict.xml');
    const identities = [
      'eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln;info=<https://cert.example/a.pem>;alg=ES256;ppt=shaken',
      'eyJhbGciOiJFUzI1NiJ9.eyJiIjoyfQ.c2ln;info=<https://cert.example/b.pem>;alg=ES256;ppt=shaken',
    ];
    const raw = call.raw.replace('\r\n\r\n', `\r\nIdentity: ${identities[0]}\r\ny: ${identities[1]}\r\n\r\n`);
    const answered = asResponse(await h.server.deliver(raw, SOURCES.national));
    expect(answered.status).toBe(200);
    const [bLeg] = h.server.outgoing;
    expect(bLeg?.headers('Identity')).toEqual(identities);
    await h.server.hangUp(answered.dialogId as string, answered);
    await until(() => h.sip.app.activeCalls === 0);
  });

  it('on the fail-open paths too: after an error, and above sip.maxCallsInSetup', async () => {
    h = await startSipHarness({ sip: { maxCallsInSetup: 1 } });
    const engine = h.screening.engine;
    const screen = engine.screen.bind(engine);
    const forgedGoesOn = async (): Promise<void> => {
      const call = invite('forged-verdict.xml');
      const answered = asResponse(await h.server.deliver(call.raw, SOURCES.national));
      expect(answered.status).toBe(200);
      const bLeg = h.server.outgoing.at(-1);
      expect(bLeg?.uri).toBe(`sip:${SUBSCRIBER}@pbx.example.de:5060`);
      expect(bLeg?.raw.split('\r\n').filter((l) => /^x-spoofguard-/i.test(l))).toEqual([]);
      await h.server.hangUp(answered.dialogId as string, answered);
    };
    // an error in screening: the central handler passes the call on unscreened
    engine.screen = () => Promise.reject(new Error('injected'));
    await forgedGoesOn();
    // overload: one call hangs in screening, the next is shed
    let release!: () => void;
    engine.screen = (request) => new Promise((resolve) => (release = () => resolve(screen(request))));
    const held = h.server.deliver(invite('clean-call.xml').raw, SOURCES.national);
    await until(() => release !== undefined);
    await forgedGoesOn();
    release();
    asProxy(await held);
    await until(() => h.sip.app.activeCalls === 0);
  });

  it('on a clean call too: it is bridged to the next hop without them', async () => {
    h = await startSipHarness();
    const call = invite('clean-call.xml');
    const raw = withHeader(call.raw, 'X-Spoofguard-Verdict', 'v=1;verdict=block;score=100;reasons=;ts=1;sig=00');
    const answered = asResponse(await h.server.deliver(raw, SOURCES.national));
    expect(answered.status).toBe(200);
    const [bLeg] = h.server.outgoing;
    expect(bLeg?.uri).toBe(`sip:${SUBSCRIBER}@pbx.example.de:5060`);
    expect(bLeg?.raw).not.toMatch(/x-spoofguard/i);
    await h.server.hangUp(answered.dialogId as string, answered);
    await until(() => h.sip.app.activeCalls === 0);
    await pipelineIdle(h);
    expect(await h.worker.store.count({})).toBe(0);
  });
});

describe('session timers (RFC 4028) on bridged calls', () => {
  it("states the caller leg's terms in its 2xx and offers ours to the callee; below 90 s the caller gets 422", async () => {
    h = await startSipHarness();
    const call = invite('forged-verdict.xml');
    const withTimer = withHeader(withHeader(call.raw, 'Supported', 'timer'), 'Session-Expires', '600;refresher=uac');
    const answered = asResponse(await h.server.deliver(withTimer, SOURCES.national));
    expect(answered.status).toBe(200);
    expect(answered.header('Session-Expires')).toBe('600;refresher=uac');
    expect(answered.header('Require')).toBe('timer');
    const [bLeg] = h.server.outgoing;
    // ours (sip.sessionExpiresSec), the refresher left to the callee; timer added to what the caller supports
    expect(bLeg?.header('Session-Expires')).toBe('1800');
    expect(bLeg?.header('Min-SE')).toBe('90');
    expect(bLeg?.header('Supported')).toMatch(/\btimer\b/);
    await h.server.hangUp(answered.dialogId as string, answered);
    await until(() => h.sip.app.activeCalls === 0);

    const tooShort = invite('forged-verdict.xml');
    const refused = asResponse(
      await h.server.deliver(
        withHeader(withHeader(tooShort.raw, 'Supported', 'timer'), 'Session-Expires', '30'),
        SOURCES.national,
      ),
    );
    expect(refused.status).toBe(422);
    expect(refused.header('Min-SE')).toBe('90');
    await until(() => h.sip.app.activeCalls === 0);
  });

  it('a caller that neither supports nor asks for timers gets none (sip.maxCallSec bounds its call)', async () => {
    h = await startSipHarness();
    const call = invite('forged-verdict.xml');
    const answered = asResponse(await h.server.deliver(call.raw, SOURCES.national));
    expect(answered.status).toBe(200);
    expect(answered.header('Session-Expires')).toBeUndefined();
    await h.server.hangUp(answered.dialogId as string, answered);
    await until(() => h.sip.app.activeCalls === 0);
  });
});

describe('trunk policies', () => {
  it('tag mode: a warned call goes to the next hop with the display names prefixed, and its outcome is logged', async () => {
    h = await startSipHarness();
    const call = invite('spoofed-amazon.xml');
    const answered = asResponse(await h.server.deliver(call.raw, SOURCES.tagging));
    expect(answered.status).toBe(200);
    const [bLeg] = h.server.outgoing;
    expect(bLeg?.uri).toBe(`sip:${SUBSCRIBER}@pbx.example.de:5060`);
    expect(bLeg?.header('P-Asserted-Identity')).toBe(
      '"Betrugsverdacht: Amazon Kundenservice" <sip:+18882804331@192.0.2.10;user=phone>',
    );
    expect(bLeg?.header('From')).toMatch(/^"Betrugsverdacht: Amazon Kundenservice" <sip:\+18882804331@/);
    expect(bLeg?.header('X-Spoofguard-Verdict')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    await h.server.hangUp(answered.dialogId as string, answered);
    const row = await storedRow(h, call.callId, (r) => r.outcome === 'accepted');
    expect(row).toMatchObject({ trunk: 'carrier-tag', verdict: 'warn' });
    expect(row.talkMs).toBeGreaterThanOrEqual(0);
  });

  it('a bridged call longer than sip.maxCallSec gets a BYE on both legs, and its outcome is logged', async () => {
    h = await startSipHarness({ sip: { maxCallSec: 1 } });
    const call = invite('spoofed-amazon.xml');
    expect(asResponse(await h.server.deliver(call.raw, SOURCES.tagging)).status).toBe(200);
    // nobody hangs up (a lost BYE): the app ends both legs itself
    await until(() => h.server.inDialog.filter((r) => r.method === 'BYE').length === 2, 10_000, 'BYE to both legs');
    await until(() => h.sip.app.activeCalls === 0);
    expect(await storedRow(h, call.callId, (r) => r.outcome === 'accepted')).toMatchObject({ trunk: 'carrier-tag' });
  });

  it('tag mode passes a failure of the callee back to the caller and logs it', async () => {
    h = await startSipHarness();
    h.server.answerOutgoing = () => 486;
    const call = invite('spoofed-amazon.xml');
    const answer = asResponse(await h.server.deliver(call.raw, SOURCES.tagging));
    expect(answer.status).toBe(486);
    const row = await storedRow(h, call.callId, (r) => r.outcome !== undefined);
    expect(row.outcome).toBe('rejected');
  });

  it('tag mode still proxies clean calls untouched', async () => {
    h = await startSipHarness();
    const proxied = asProxy(await h.server.deliver(invite('clean-call.xml').raw, SOURCES.tagging));
    expect(proxied.header('P-Asserted-Identity')).toBe('"Erika Mustermann" <sip:+4940123456@192.0.2.10>');
  });

  it('an international trunk flags a German landline number (TKG § 120) that a national trunk lets through', async () => {
    h = await startSipHarness({ sip: { warningIvrUri: '' } });
    const national = asProxy(await h.server.deliver(invite('clean-call.xml').raw, SOURCES.national));
    expect(national.destinations).toEqual([`sip:${SUBSCRIBER}@pbx.example.de:5060`]);
    const abroad = invite('clean-call.xml');
    asProxy(await h.server.deliver(abroad.raw, SOURCES.international));
    const row = await storedRow(h, abroad.callId, (r) => r.verdict !== undefined);
    expect(row).toMatchObject({
      trunk: 'carrier-intl',
      reasons: expect.arrayContaining(['domestic-on-international']),
    });
  });

  it('a header picks the trunk when the source alone does not, and unknown sources get the cautious default', async () => {
    h = await startSipHarness({ sip: { warningIvrUri: '' } });
    // on the US trunk calls are normally signed: a brand name without Identity or verstat is flagged harder
    const us = invite('clean-call.xml');
    const unsigned = withHeader(
      withHeader(us.raw, 'P-Asserted-Identity', '"Amazon" <sip:+12025550123@carrier.example.com>'),
      'X-Trunk-Group',
      'us-shaken',
    );
    asProxy(await h.server.deliver(unsigned, SOURCES.unknown));
    const row = await storedRow(h, us.callId, (r) => r.verdict !== undefined);
    expect(row).toMatchObject({
      trunk: 'carrier-us',
      reasons: expect.arrayContaining(['stir-missing', 'brand-name']),
    });

    const other = invite('spoofed-amazon.xml');
    asProxy(await h.server.deliver(other.raw, SOURCES.unknown));
    const fallback = await storedRow(h, other.callId, (r) => r.verdict !== undefined);
    expect(fallback.trunk).toBe('unknown');
  });
});

describe('caller identity', () => {
  it('trusts P-Asserted-Identity over From on a trunk that trusts it, and only From elsewhere', async () => {
    h = await startSipHarness({ sip: { warningIvrUri: '' } });
    const make = () => {
      const call = invite('clean-call.xml');
      return {
        ...call,
        raw: withHeader(call.raw, 'P-Asserted-Identity', '<sip:+18882804331@carrier.example.net;user=phone>'),
      };
    };
    const trusted = make();
    asProxy(await h.server.deliver(trusted.raw, SOURCES.national));
    const row = await storedRow(h, trusted.callId, (r) => r.verdict !== undefined);
    expect(row).toMatchObject({ callerE164: '+18882804331', brand: 'amazon' });

    // the unknown trunk trusts From only: the asserted Amazon number is not what it screens
    const untrusted = make();
    const proxied = asProxy(await h.server.deliver(untrusted.raw, SOURCES.unknown));
    expect(proxied.destinations).toEqual([`sip:${SUBSCRIBER}@pbx.example.de:5060`]);
    await until(() => h.sip.app.activeCalls === 0);
    await pipelineIdle(h);
    expect(await h.worker.store.count({ sipCallId: untrusted.callId })).toBe(0);
  });

  it('reads Remote-Party-ID first where the trunk says so', async () => {
    h = await startSipHarness({ sip: { warningIvrUri: '' } });
    const call = invite('clean-call.xml');
    const raw = withHeader(call.raw, 'Remote-Party-ID', '"Polizei" <sip:110@192.0.2.200>;party=calling;screen=yes');
    const answer = asResponse(await h.server.deliver(raw, { address: '192.0.2.200', port: 5060 }));
    expect(answer.status).toBe(608);
  });

  it('counts verstat=TN-Validation-Failed where the trunk’s network verifies, and only there', async () => {
    h = await startSipHarness({ sip: { warningIvrUri: '' } });
    const pai = (number: string) =>
      `"Erika Mustermann" <sip:${number}@carrier.example;verstat=TN-Validation-Failed;user=phone>`;
    const verified = invite('clean-call.xml');
    const raw = withHeader(
      withHeader(verified.raw, 'P-Asserted-Identity', pai('+12025550123')),
      'X-Trunk-Group',
      'us-shaken',
    );
    asProxy(await h.server.deliver(raw, SOURCES.unknown));
    const row = await storedRow(h, verified.callId, (r) => r.verdict !== undefined);
    expect(row).toMatchObject({
      trunk: 'carrier-us',
      verdict: 'warn',
      reasons: expect.arrayContaining(['stir-failed']),
    });

    // a German trunk: no STIR/SHAKEN there, so the verstat is the caller's own claim and changes nothing
    const claimed = invite('clean-call.xml');
    const proxied = asProxy(
      await h.server.deliver(withHeader(claimed.raw, 'P-Asserted-Identity', pai('+4940123456')), SOURCES.national),
    );
    expect(proxied.destinations).toEqual([`sip:${SUBSCRIBER}@pbx.example.de:5060`]);
    const verdict = await h.screening.engine.screen({
      from: '<sip:+4940123456@192.0.2.10>',
      assertedIdentity: pai('+4940123456'),
      trunk: 'carrier-de',
    });
    expect(verdict.reasons.map((r) => r.code)).toEqual(['stir-ignored']);
  });

  it('a malformed From is screened as unparseable and the call goes on; no crash', async () => {
    h = await startSipHarness();
    const call = invite('clean-call.xml');
    let raw = withHeader(call.raw, 'P-Asserted-Identity', undefined);
    raw = withHeader(raw, 'From', 'garbage <<sip:>>;;tag=1');
    const proxied = asProxy(await h.server.deliver(raw, SOURCES.national));
    expect(proxied.destinations).toEqual([`sip:${SUBSCRIBER}@pbx.example.de:5060`]);
    const long = invite('clean-call.xml');
    const huge = withHeader(long.raw, 'P-Asserted-Identity', `<sip:${'9'.repeat(3000)}@example.net>`);
    asProxy(await h.server.deliver(huge, SOURCES.national));
    // and the front still answers
    expect(asProxy(await h.server.deliver(invite('clean-call.xml').raw, SOURCES.national)).kind).toBe('proxy');
  });

  it('rejects an oversized INVITE with 513 before reading it', async () => {
    h = await startSipHarness();
    const call = invite('clean-call.xml');
    const raw = withHeader(call.raw, 'X-Padding', 'x'.repeat(20000));
    const answer = asResponse(await h.server.deliver(raw, SOURCES.national));
    expect(answer).toMatchObject({ status: 513, reason: 'Message Too Large' });
  });
});

describe('operations', () => {
  it('answers OPTIONS pings with 200, and 503 once draining', async () => {
    h = await startSipHarness();
    const options = [
      `OPTIONS sip:sbc.example.de SIP/2.0`,
      'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-opt',
      'Max-Forwards: 70',
      'From: <sip:ping@192.0.2.10>;tag=p1',
      'To: <sip:sbc.example.de>',
      `Call-ID: ${randomUUID()}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    expect(asResponse(await h.server.deliver(options)).status).toBe(200);
    const closing = h.close();
    await until(() => h.server.routed('invite') === 0, 5000, 'INVITE route removed');
    await closing;
  });

  it('reconnects after drachtio-server restarts, routes again, and goes on screening', async () => {
    h = await startSipHarness();
    const port = h.server.port;
    await h.server.stop();
    await until(() => !h.sip.connection.connected, 5000, 'disconnect noticed');
    await new Promise((r) => setTimeout(r, 300));
    await h.server.start(port);
    await h.server.waitRouted('invite', 15000);
    expect(h.sip.connection.connected).toBe(true);
    const call = invite('caller-110.xml');
    expect(asResponse(await h.server.deliver(call.raw, SOURCES.national)).status).toBe(608);
  });

  it('SIGTERM drain: stops taking INVITEs and waits for a bridged call to end', async () => {
    h = await startSipHarness();
    const call = invite('spoofed-amazon.xml');
    const answered = asResponse(await h.server.deliver(call.raw, SOURCES.tagging));
    let closed = false;
    const closing = h.close().then(() => (closed = true));
    await until(() => h.server.routed('invite') === 0, 5000, 'INVITE route removed');
    // the drain waits on the bridged call: it is still counted, and the close has not finished
    expect(h.sip.app.activeCalls).toBe(1);
    expect(closed).toBe(false);
    await h.server.hangUp(answered.dialogId as string, answered);
    await closing;
    expect(closed).toBe(true);
  });
});

it('Redis down: fails open, a spoofed Amazon call is passed to the next hop at once, unflagged', async () => {
  const redis = await PrivateRedis.start();
  const server = new DrachtioTestServer();
  await server.start();
  const logger = quietLogger();
  const config = testConfig({
    redis: { url: redis.url, connectTimeoutMs: 300 },
    screening: { budgetMs: 20 },
    sip: { drachtioHost: '127.0.0.1', drachtioPort: server.port, drachtioSecret: server.secret, warningIvrUri: IVR },
    trunks: TEST_TRUNKS,
  });
  const screening = await seededScreening(config);
  const events = openProducer(config, logger, 'sip-redis-down');
  const sip = runSip(config, logger, screening, events.producer);
  try {
    await server.waitRouted('invite');
    await redis.stop();
    const proxied = asProxy(await server.deliver(invite('spoofed-amazon.xml').raw, SOURCES.national));
    expect(proxied.destinations).toEqual([`sip:${SUBSCRIBER}@127.0.0.1:5080`]);
    expect(proxied.header('X-Spoofguard-Verdict')).toBeUndefined();
  } finally {
    await sip.close();
    await events.close();
    await screening.close();
    await server.stop();
  }
});

it('IVR target without a host user part gets the called number; one with a user part is kept', async () => {
  const { targetFor } = await import('../../services/carrier/verdict-action');
  expect(targetFor(IVR, '+4930901820')).toBe('sip:+4930901820@ivr.example.de:5070');
  expect(targetFor('sip:warn@ivr.example.de', '+4930901820')).toBe('sip:warn@ivr.example.de');
  expect(targetFor(IVR, undefined)).toBe(IVR);
});
