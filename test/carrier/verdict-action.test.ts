import type { MatchedTrunk } from '../../services/carrier/trunks';
import { type ActionInput, verdictAction } from '../../services/carrier/verdict-action';
import type { Verdict } from '../../services/screening/verdict';

const trunk = (mode: 'route' | 'tag' = 'route'): MatchedTrunk =>
  ({ id: 't', mode, tagPrefix: 'Betrugsverdacht: ', recordRoute: true }) as unknown as MatchedTrunk;
const verdict = (v: Verdict['verdict'], extra: Partial<Verdict> = {}): Verdict =>
  ({
    verdict: v,
    score: v === 'allow' ? 0 : 80,
    brand: 'amazon',
    brandName: 'Amazon',
    reasons: [
      { code: 'brand-number', score: 80, text: '' },
      { code: 'suppressed-one', score: 30, text: '', suppressed: true },
      { code: 'neutral', score: 0, text: '' },
    ],
    ...extra,
  }) as unknown as Verdict;
const routing = {
  nextHop: 'sip:pbx.example.net:5060',
  warningIvrUri: 'sip:ivr.example.net',
  blockStatus: 608,
  blockCallInfo: '<https://example.net/blocked>;purpose=jwscard',
};
const input = (over: Partial<ActionInput>): ActionInput => ({
  verdict: verdict('allow'),
  trunk: trunk(),
  called: '+4930901820',
  routing,
  header: (name) =>
    ({ From: '"Amazon" <sip:+18882804331@192.0.2.1>;tag=1', 'P-Asserted-Identity': '<sip:+18882804331@192.0.2.1>' })[
      name
    ],
  sign: () => 'v=2;sig=abc',
  ...over,
});

describe('verdictAction: what a verdict does to a SIP call, for both carrier fronts', () => {
  it('allow: the next hop, the called number as its user, nothing added', () => {
    const sign = jest.fn();
    expect(verdictAction(input({ sign }))).toEqual({
      kind: 'relay',
      how: 'plain',
      target: 'sip:+4930901820@pbx.example.net:5060',
      added: {},
      rewritten: {},
    });
    expect(sign).not.toHaveBeenCalled();
  });

  it('warn: the warning IVR with the signed header', () => {
    expect(verdictAction(input({ verdict: verdict('warn') }))).toMatchObject({
      kind: 'relay',
      how: 'ivr',
      target: 'sip:+4930901820@ivr.example.net',
      added: { 'X-Spoofguard-Verdict': 'v=2;sig=abc' },
    });
    // no key: no header, still the IVR
    expect(verdictAction(input({ verdict: verdict('warn'), sign: () => undefined }))).toMatchObject({ added: {} });
  });

  it('warn without an IVR: the next hop as it came', () => {
    const r = verdictAction(input({ verdict: verdict('warn'), routing: { ...routing, warningIvrUri: '' } }));
    expect(r).toMatchObject({ kind: 'relay', how: 'plain', target: 'sip:+4930901820@pbx.example.net:5060' });
  });

  it('warn in tag mode: the next hop, From and P-Asserted-Identity with the prefix, URIs and tags kept', () => {
    expect(verdictAction(input({ verdict: verdict('warn'), trunk: trunk('tag') }))).toMatchObject({
      how: 'tag',
      target: 'sip:+4930901820@pbx.example.net:5060',
      rewritten: {
        From: '"Betrugsverdacht: Amazon" <sip:+18882804331@192.0.2.1>;tag=1',
        'P-Asserted-Identity': '"Betrugsverdacht: Amazon?" <sip:+18882804331@192.0.2.1>',
      },
    });
  });

  it('block: 608 Rejected, a Reason naming the brand and the scoring reasons only, Call-Info; 603 Decline when set', () => {
    expect(verdictAction(input({ verdict: verdict('block') }))).toEqual({
      kind: 'reply',
      status: 608,
      reason: 'Rejected',
      headers: {
        Reason: 'SIP;cause=608;text="Suspected caller ID spoofing (Amazon): brand-number"',
        'Call-Info': '<https://example.net/blocked>;purpose=jwscard',
      },
    });
    const decline = verdictAction(
      input({ verdict: verdict('block'), routing: { ...routing, blockStatus: 603, blockCallInfo: '' } }),
    );
    expect(decline).toMatchObject({
      status: 603,
      reason: 'Decline',
      headers: { Reason: expect.stringMatching(/^SIP;cause=603;/) },
    });
    expect(decline.kind === 'reply' && decline.headers['Call-Info']).toBeUndefined();
  });

  it('a brand name with quotes or line ends never breaks the Reason header', () => {
    const r = verdictAction(input({ verdict: verdict('block', { brandName: 'Ama"zon\r\nX-Evil: 1' }) }));
    expect(r.kind === 'reply' && r.headers.Reason).toBe(
      'SIP;cause=608;text="Suspected caller ID spoofing (AmazonX-Evil: 1): brand-number"',
    );
  });

  it('a called user that is no number never reaches a URI: 484', () => {
    for (const called of ['abc', '+49 30', '1@evil.example', `${'1'.repeat(40)}`])
      expect(verdictAction(input({ called }))).toMatchObject({ kind: 'reply', status: 484 });
    // no called user at all: the base URI as it is
    expect(verdictAction(input({ called: undefined }))).toMatchObject({ target: 'sip:pbx.example.net:5060' });
  });
});
