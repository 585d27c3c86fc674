import Srf from 'drachtio-srf';
import { DrachtioTestServer } from '../support/drachtio-server/server';

/** The real drachtio-srf against the wire-protocol test server: connect, route, answer, proxy. */
const invite = (callId: string, from = '"Amazon" <sip:+18882804331@carrier.example.net>;tag=a1'): string =>
  [
    'INVITE sip:+4930901820@sbc.example.de SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1',
    'Max-Forwards: 70',
    `From: ${from}`,
    'To: <sip:+4930901820@sbc.example.de>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    'Contact: <sip:192.0.2.10:5060>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

it('drachtio-srf connects, routes, answers and proxies through the test server', async () => {
  const server = new DrachtioTestServer();
  await server.start();
  const srf = new Srf();
  srf.connect({ host: '127.0.0.1', port: server.port, secret: server.secret });
  await new Promise<void>((resolve) => srf.once('connect', () => resolve()));
  srf.invite((req, res) => {
    if (req.get('Call-ID') === 'reject-me') res.send(486, { headers: { Reason: 'SIP;cause=486;text="test"' } });
    else srf.proxyRequest(req, ['sip:pbx.example.de']);
  });
  try {
    for (let i = 0; i < 50 && server.routed('invite') === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const rejected = await server.deliver(invite('reject-me'));
    expect(rejected).toMatchObject({ kind: 'response', status: 486 });
    expect(rejected.header('Reason')).toBe('SIP;cause=486;text="test"');
    const proxied = await server.deliver(invite('pass-me'));
    expect(proxied).toMatchObject({ kind: 'proxy', destinations: ['sip:pbx.example.de'] });
  } finally {
    srf.disconnect();
    await server.stop();
  }
});
