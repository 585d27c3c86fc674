import { randomUUID } from 'node:crypto';

/** An INVITE as a careful UA writes it, for the tests that then bend it. [port]: the raw caller's own. */
export function rawInvite(o: { number: string; name?: string; maxForwards?: number; called?: string }): string {
  const called = o.called ?? '+4930901820';
  const callId = randomUUID();
  const body = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n';
  return [
    `INVITE sip:${called}@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:[port];branch=z9hG4bK${callId.slice(0, 8)}`,
    `From: ${o.name ? `"${o.name}" ` : ''}<sip:${o.number}@127.0.0.1:[port]>;tag=${callId.slice(9, 13)}`,
    `To: <sip:${called}@127.0.0.1>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:${o.number}@127.0.0.1:[port]>`,
    `Max-Forwards: ${o.maxForwards ?? 70}`,
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/**
 * Messages in the manner of RFC 4475's torture tests (valid and invalid INVITEs): escaped and folded headers,
 * odd whitespace, wrong lengths, unbalanced quotes, a wrong version. Each must get a final answer (from
 * drachtio-server, the app, or the peer it was proxied to), never silence.
 */
const torture = (edit: (invite: string) => string, number = '+4930123456'): string => edit(rawInvite({ number }));
export const TORTURE: Record<string, string> = {
  'folded header and compact forms': torture((m) =>
    m
      .replace(/^To: (.*)$/m, 't:\r\n  $1')
      .replace(/^Call-ID:/m, 'i:')
      .replace(/^Content-Length:/m, 'l:'),
  ),
  'escaped characters in the user part': torture((m) => m.replace(/<sip:\+4930123456@/, '<sip:%2B4930123456@')),
  'LWS between display name and <': torture((m) => m.replace(/^From: /m, 'From: "Erika"   \t <').replace('<<', '<')),
  'long header values': torture((m) =>
    m.replace('Max-Forwards: 70', `Max-Forwards: 70\r\nX-Long: ${'x'.repeat(1500)}`),
  ),
  'unbalanced quote in the display name': torture((m) => m.replace(/^From: /m, 'From: "Amazon ')),
  'Content-Length larger than the body': torture((m) => m.replace(/^Content-Length: \d+/m, 'Content-Length: 9999')),
  'negative Content-Length': torture((m) => m.replace(/^Content-Length: \d+/m, 'Content-Length: -5')),
  'huge CSeq and Max-Forwards': torture((m) =>
    m.replace('CSeq: 1 INVITE', 'CSeq: 36893488147419103232 INVITE').replace('Max-Forwards: 70', 'Max-Forwards: 300'),
  ),
  'CSeq method does not match': torture((m) => m.replace('CSeq: 1 INVITE', 'CSeq: 1 OPTIONS')),
  'request-URI in angle brackets': torture((m) => m.replace(/^INVITE (\S+) /, 'INVITE <$1> ')),
  'unknown SIP version': torture((m) => m.replace(/^INVITE (\S+) SIP\/2\.0/, 'INVITE $1 SIP/7.0')),
  'no From header': torture((m) => m.replace(/^From: .*\r\n/m, '')),
  'garbage From': torture((m) => m.replace(/^From: .*$/m, 'From: <<<>>>;tag=x')),
  'NUL and control bytes in the display name': torture((m) => m.replace(/^From: /m, 'From: "Am\u0000az\u0007on" ')),
  'trailing whitespace after SIP/2.0': torture((m) => m.replace(/^(INVITE \S+ SIP\/2\.0)/, '$1   ')),
};
