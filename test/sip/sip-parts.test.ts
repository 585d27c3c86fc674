import { outcomeOf, prefixDisplayName, targetFor } from '../../services/carrier/verdict-action';
import { calledOf, screeningInput } from '../../services/carrier/caller-identity';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { drachtioSrfCannotRead, readsAsItCame } from '../../services/sip/srf-adapter';
import { readableSip } from '../../services/sip/sip-text';
import { TrunkMatcher } from '../../services/carrier/trunks';
import { TORTURE } from '../real/support/sip-torture';
import { testConfig } from '../support/config';

const trunk = (extra: object = {}) => ({
  country: 'DE',
  international: false,
  identityHeaders: ['P-Asserted-Identity', 'From'] as ('P-Asserted-Identity' | 'From' | 'Remote-Party-ID')[],
  sources: [] as string[],
  expectIdentity: false,
  identityAlwaysSent: false,
  stir: 'off' as const,
  mode: 'route' as const,
  recordRoute: true,
  tagPrefix: 'Betrugsverdacht: ',
  ...extra,
});

describe('trunk matching', () => {
  const matcher = new TrunkMatcher(
    {
      unknown: trunk({ identityHeaders: ['From'] }),
      v4: trunk({ sources: ['192.0.2.0/24', '198.51.100.7'] }),
      v6: trunk({ sources: ['2001:db8::/32'] }),
      grouped: trunk({ sources: ['203.0.113.0/24'], header: { name: 'X-Trunk-Group', value: 'intl' } }),
      'by-header': trunk({ header: { name: 'X-Trunk-Group', value: 'us' } }),
    },
    'unknown',
  );
  const none = () => undefined;

  it('matches CIDR ranges and single addresses, IPv4 and IPv6', () => {
    expect(matcher.match('192.0.2.77', none).id).toBe('v4');
    expect(matcher.match('198.51.100.7', none).id).toBe('v4');
    expect(matcher.match('198.51.100.8', none).id).toBe('unknown');
    expect(matcher.match('2001:db8:1::5', none).id).toBe('v6');
  });

  it('needs both the source and the header when a trunk names both; a header alone can pick a trunk', () => {
    expect(matcher.match('203.0.113.9', none).id).toBe('unknown');
    expect(matcher.match('203.0.113.9', (n) => (n === 'X-Trunk-Group' ? 'intl' : undefined)).id).toBe('grouped');
    expect(matcher.match('10.0.0.1', (n) => (n === 'X-Trunk-Group' ? ' us ' : undefined)).id).toBe('by-header');
  });

  it('gives garbage source addresses the default trunk', () => {
    expect(matcher.match('not-an-ip', none).id).toBe('unknown');
  });

  it('config rejects a source that is no address or range, naming the key', () => {
    expect(() => testConfig({ trunks: { bad: trunk({ sources: ['192.0.2.0/33'] }) } })).toThrow(/trunks\.bad\.sources/);
    expect(() => testConfig({ trunks: { bad: trunk({ sources: ['example.net'] }) } })).toThrow(/CIDR/);
  });
});

describe('caller identity from SIP headers', () => {
  const request = (headers: Record<string, string>, uri = 'sip:+4930901820@sbc.example.de;user=phone') => ({
    uri,
    header: (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1],
  });

  it('passes every identity header on as it came (all P-Asserted-Identity values), and the called number', () => {
    const input = screeningInput(
      request({
        From: '"Someone" <sip:+4940123456@a.example>;tag=1',
        'P-Asserted-Identity': '"Amazon, Inc." <sip:+18882804331@b.example>, <tel:+18882804331>',
        'Remote-Party-ID': '<sip:+4940123456@c.example>;party=calling',
      }),
      'carrier',
      'call-1',
    );
    expect(input).toEqual({
      from: '"Someone" <sip:+4940123456@a.example>;tag=1',
      assertedIdentity: '"Amazon, Inc." <sip:+18882804331@b.example>, <tel:+18882804331>',
      remotePartyId: '<sip:+4940123456@c.example>;party=calling',
      to: '+4930901820',
      trunk: 'carrier',
      identityHeader: false,
      callId: 'call-1',
    });
  });

  it('notes an Identity header; an absent From reads as empty', () => {
    const input = screeningInput(
      request({ Identity: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln;info=<https://cert.example/x.pem>' }),
      'carrier',
      'call-2',
    );
    expect(input).toMatchObject({ from: '', identityHeader: true });
  });

  it('reads the called number from sip and tel Request-URIs', () => {
    expect(calledOf('sip:+4930901820@sbc.example.de:5060;user=phone')).toBe('+4930901820');
    expect(calledOf('tel:+4930901820')).toBe('+4930901820');
    expect(calledOf('sip:sbc.example.de')).toBeUndefined();
  });
});

describe('routing helpers', () => {
  it('prefixes the display name of any name-addr form', () => {
    expect(prefixDisplayName('"Amazon" <sip:+1888@x>;tag=1', 'Betrugsverdacht: ', '')).toBe(
      '"Betrugsverdacht: Amazon" <sip:+1888@x>;tag=1',
    );
    expect(prefixDisplayName('Amazon <sip:+1888@x>', '⚠ ', '')).toBe('"⚠ Amazon" <sip:+1888@x>');
    expect(prefixDisplayName('<sip:+1888@x>', '⚠ ', 'Amazon?')).toBe('"⚠ Amazon?" <sip:+1888@x>');
    expect(prefixDisplayName('sip:+1888@x;tag=9', '⚠ ', 'Amazon?')).toBe('"⚠ Amazon?" <sip:+1888@x>;tag=9');
    expect(prefixDisplayName('"A \\"quoted\\" name" <sip:1@x>', 'P: ', '')).toBe('"P: A \\"quoted\\" name" <sip:1@x>');
  });

  it('maps final statuses to the subscriber outcome', () => {
    expect([200, 486, 603, 480, 408, 487, 503, undefined].map(outcomeOf)).toEqual([
      'accepted',
      'rejected',
      'rejected',
      'unanswered',
      'unanswered',
      'caller-hung-up',
      'failed',
      'failed',
    ]);
  });

  it('puts the called number into a target that has no user part', () => {
    expect(targetFor('sips:ivr.example.de', '4930901820')).toBe('sips:4930901820@ivr.example.de');
    expect(targetFor('sip:ivr.example.de:5080;transport=tcp', '+4930901820')).toBe(
      'sip:+4930901820@ivr.example.de:5080;transport=tcp',
    );
    expect(targetFor('sip:user@pbx.example.de', '+4930901820')).toBe('sip:user@pbx.example.de');
    expect(targetFor('tel:+4930901820', '+4930901821')).toBe('tel:+4930901820');
  });

  it('puts nothing but a checked number into a URI: any other called user has no target', () => {
    const hostile = [
      '+49 30 1',
      'a@b;c',
      '+49123&PJSIP/x@evil',
      '4930,,,',
      '49(30)1',
      '4930;x',
      '4930\0',
      '1'.repeat(33),
      '++49',
      '4+9',
      '',
    ];
    for (const called of hostile.filter(Boolean)) expect(targetFor('sip:pbx.example.de', called)).toBeUndefined();
    expect(targetFor('sip:pbx.example.de', '1'.repeat(32))).toBe(`sip:${'1'.repeat(32)}@pbx.example.de`);
  });
});

describe('what drachtio-srf can read', () => {
  // the adapter decides without parsing whether drachtio-srf's parser would drop a message: it must agree with it
  const SipMessage = createRequire(require.resolve('drachtio-srf'))('./sip-parser/message') as new (
    raw: string,
  ) => object;
  const parses = (text: string): boolean => {
    try {
      new SipMessage(text);
      return true;
    } catch {
      return false;
    }
  };

  it('agrees with drachtio-srf 5.0.29 on the torture messages and on generated ones (property)', () => {
    for (const [name, text] of Object.entries(TORTURE)) {
      const readable = readableSip(text.replace(/\[port\]/g, '5060'));
      expect({ name, readable: drachtioSrfCannotRead(readable) === undefined }).toEqual({
        name,
        readable: parses(readable),
      });
    }
    const startLine = fc.oneof(
      fc.constant('INVITE sip:+4930901820@127.0.0.1 SIP/2.0'),
      fc.constant('SIP/2.0 200 OK'),
      fc.constant('SIP/2.0 180'),
      fc.constant('ACK sip:a@b SIP / 2.0'),
      fc.constant(''),
      fc.constant(' INVITE sip:a@b SIP/2.0'),
      fc.constant('INVITE  sip:a@b SIP/2.0'),
      fc.constant('INVITE sip:a@b HTTP/1.1'),
      fc.constant('INV(ITE sip:a@b SIP/2.0'),
      fc.constant('INVITE sip:a@b SIP/two'),
      fc.constant('SIP/2.0 OK'),
      fc.string({ maxLength: 30 }),
    );
    const headerLine = fc.oneof(
      fc.constant('From: <sip:+4930123456@127.0.0.1>;tag=1'),
      fc.constant('f: <sip:x@y>'),
      fc.constant('Via : SIP/2.0/UDP 1.2.3.4'),
      fc.constant('X-Spoofguard-Verdict: forged'),
      fc.constant(' folded continuation'),
      fc.constant('\tfolded with a tab'),
      fc.constant('NoColonHere'),
      fc.constant(': no name'),
      fc.constant('Two Words: in a name'),
      fc.constant('Name\t:\ttabs around the colon'),
      fc.constant('Via:'),
      fc.constant('Content-Length: 0'),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(
        startLine,
        fc.array(headerLine, { maxLength: 8 }),
        fc.constantFrom('\r\n', '\n'),
        fc.constantFrom('', 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n', '\r\n\r\nmore'),
        (start, headers, eol, body) => {
          const text = `${[start, ...headers].join(eol)}\r\n\r\n${body}`;
          expect(drachtioSrfCannotRead(text) === undefined).toBe(parses(text));
        },
      ),
      { seed: 4475, numRuns: 3000 },
    );
  });

  it('takes a well-formed message as it came in one pass only when the exact way would too (property)', () => {
    // readsAsItCame skips readableSip and drachtioSrfCannotRead for everyday messages: "yes" must mean both
    // leave the text as it is and drachtio-srf reads it; "no" only sends a message the exact way
    const exactlyAsItCame = (text: string): boolean =>
      readableSip(text) === text && drachtioSrfCannotRead(text) === undefined && parses(text);
    const everyday = [
      `INVITE sip:+4930901820@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n` +
        `From: <sip:+4930123456@127.0.0.1:5070>;tag=1\r\nTo: <sip:+4930901820@127.0.0.1:5060>\r\n` +
        `Call-ID: 1-2@127.0.0.1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n` +
        `Content-Length: 27\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n`,
      'SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 127.0.0.1\r\nContent-Length: 0\r\n\r\n',
      'BYE sip:a@b SIP/2.0\r\nP-Asserted-Identity: <sip:+1888@x>,\r\n <tel:+1888>\r\nContent-Length: 0\r\n\r\n',
      'SIP/2.0 200 OK\r\n\r\n',
    ];
    for (const text of everyday) expect({ text, fast: readsAsItCame(text) }).toEqual({ text, fast: true });
    for (const [name, raw] of Object.entries(TORTURE)) {
      const text = raw.replace(/\[port\]/g, '5060');
      if (readsAsItCame(text)) expect({ name, exact: exactlyAsItCame(text) }).toEqual({ name, exact: true });
    }
    // generated: a well-formed message with a few edits (none, so "yes" comes often; or line ends, blanks,
    // colons, controls and non-ASCII put anywhere)
    const line = fc.constantFrom('From: <sip:1@x>;tag=1', 'f:x', 'Via: SIP/2.0/UDP a', ': no name', 'CSeq: 1 INVITE');
    const start = fc.constantFrom('INVITE sip:a@b SIP/2.0', 'SIP/2.0 200 OK', 'SIP/2.0 100', 'ACK sip:a@b SIP/2.0');
    const edit = fc.record({
      at: fc.nat(),
      cut: fc.nat({ max: 2 }),
      put: fc.constantFrom('\r\n', '\n', '\r', ' ', '\t', ':', '\r\n ', '\u0000', '\u00a0', '\u00e9', 'x', ''),
    });
    fc.assert(
      fc.property(
        start,
        fc.array(line, { maxLength: 6 }),
        fc.constantFrom('\r\n', '\r\nv=0\r\n', ''),
        fc.array(edit, { maxLength: 3 }),
        (first, headers, body, edits) => {
          let text = `${[first, ...headers].join('\r\n')}\r\n\r\n${body}`;
          for (const { at, cut, put } of edits) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + put + text.slice(i + cut);
          }
          if (readsAsItCame(text)) expect(exactlyAsItCame(text)).toBe(true);
        },
      ),
      { seed: 3261, numRuns: 20000 },
    );
  });

  it('reads a header section of any length in one pass, whatever fails at its end (no backtracking blow-up)', () => {
    // folded lines that could also pass for header lines without a name would give a backtracking regex 2^n
    // readings to try before it says no; each line here has one reading, so these return at once
    const folded = Array.from({ length: 20000 }, () => ' :x').join('\r\n');
    expect(readsAsItCame(`INVITE sip:a@b SIP/2.0\r\nA: 1\r\n${folded}\r\n\u0000`)).toBe(false);
    expect(readsAsItCame(`INVITE sip:a@b SIP/2.0\r\nA: 1\r\n${folded}\r\n\r\n`)).toBe(true);
    const lines = Array.from({ length: 20000 }, (_, i) => `H${i}:v`).join('\r\n');
    expect(readsAsItCame(`SIP/2.0 200 OK\r\n${lines}\r\nbad line\r\n\r\n`)).toBe(false);
    expect(readsAsItCame(`SIP/2.0 200 OK\r\n${lines}\r\n\r\n`)).toBe(true);
  });
});
