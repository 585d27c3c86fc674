import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Metrics } from '../../services/common/metrics';
import { bindingProblem, verifyVerdict } from '../../services/common/verdict-header';
import { runKamailio, type RunningKamailio } from '../../services/kamailio';
import { netstring, NetstringDecoder } from '../../services/kamailio/netstring';
import { type CallPath, startCallPath, storedRecordWhere } from '../support/call-path';
import { quietLogger, testConfig } from '../support/config';
import { until } from '../support/events';
import { NEXT_HOP, IVR, SOURCES, TEST_TRUNKS, VERDICT_KEY } from '../sip/harness';

/**
 * A stand-in for Kamailio's evapi socket, as far as the Kamailio front sees it (evapi_dispatch.c at 5.6.3): a TCP
 * server that writes each event as one netstring ("%d:%.*s,") and reads the answers as netstrings. The real
 * Kamailio runs in test/real/kamailio.real.test.ts.
 */
class EvapiStandIn {
  private readonly server: Server = createServer((s) => this.accept(s));
  readonly sockets: Socket[] = [];
  readonly answers: Record<string, unknown>[] = [];
  port = 0;

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
  }

  private accept(socket: Socket): void {
    this.sockets.push(socket);
    const decoder = new NetstringDecoder(1_000_000);
    socket.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) if (e.kind === 'frame') this.answers.push(JSON.parse(e.data.toString()));
    });
  }

  get socket(): Socket {
    return this.sockets[this.sockets.length - 1] as Socket;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  private next = 1;

  /** One INVITE as kamailio.cfg's route[ASK] sends it; resolves with the answer. */
  async ask(invite: string, src = SOURCES.national.address, t = Date.now() / 1000): Promise<Record<string, unknown>> {
    const i = this.next++;
    const l = 1000 + i;
    this.send(
      netstring(JSON.stringify({ v: 1, i, l, node: 'k1', src, t, msg: Buffer.from(invite).toString('base64') })),
    );
    let found: Record<string, unknown> | undefined;
    await until(
      () => (found = this.answers.find((a) => a.i === i && a.l === l)) !== undefined,
      5000,
      `answer to ask ${i}`,
    );
    return found as Record<string, unknown>;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const invite = (o: { from: string; called?: string; callId?: string; extra?: string[] }): string =>
  [
    `INVITE sip:${o.called ?? '+4930901820'}@192.0.2.1 SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1',
    `From: ${o.from};tag=1`,
    `To: <sip:${o.called ?? '+4930901820'}@192.0.2.1>`,
    `Call-ID: ${o.callId ?? `c-${Math.random().toString(36).slice(2)}`}`,
    'CSeq: 1 INVITE',
    'Max-Forwards: 70',
    ...(o.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

describe('Kamailio front against a stand-in evapi socket (real Redis, real log)', () => {
  let kam: EvapiStandIn;
  let path: CallPath;
  let running: RunningKamailio;
  let metrics: Metrics;

  beforeAll(async () => {
    kam = new EvapiStandIn();
    await kam.start();
    const config = testConfig({
      sip: { nextHop: NEXT_HOP, warningIvrUri: IVR },
      trunks: TEST_TRUNKS,
      // a generous budget: on a loaded CI box the stand-in's ask can wait past 50 ms in this one process and would be
      // skipped as stale (the stale test's ask is 5 s old)
      kamailio: { endpoints: [`127.0.0.1:${kam.port}`], reconnectMs: 20, maxMessageBytes: 8192, budgetMs: 2000 },
      verdictHeader: { key: VERDICT_KEY, maxAgeSec: 30 },
    });
    path = await startCallPath(config, quietLogger(), 'kamailio');
    metrics = new Metrics('kamailio');
    running = runKamailio(config, quietLogger(), path.screening, path.producer, metrics);
    await until(() => kam.sockets.length === 1 && running.links[0]?.connected === true, 5000, 'connected');
  });

  afterAll(async () => {
    await running.close();
    await path.close();
    await kam.stop();
  });

  const faults = async (kind: string): Promise<number> => {
    const m = new RegExp(`spoofguard_kamailio_faults_total\\{[^}]*kind="${kind}"[^}]*\\} (\\d+)`).exec(
      await metrics.text(),
    );
    return Number(m?.[1] ?? 0);
  };

  it('a clean call: relayed to the next hop with the called number, nothing added', async () => {
    expect(await kam.ask(invite({ from: '<sip:+4930123456@192.0.2.10>' }))).toEqual({
      i: expect.any(Number),
      l: expect.any(Number),
      a: 'relay',
      uri: 'sip:+4930901820@pbx.example.de:5060',
    });
  });

  it("Amazon's number: the warning IVR, a signed header bound to the Call-ID, logged as from Kamailio", async () => {
    const answer = await kam.ask(invite({ from: '"Amazon" <sip:+18882804331@192.0.2.10>', callId: 'amz-1' }));
    expect(answer).toMatchObject({ a: 'relay', uri: 'sip:+4930901820@ivr.example.de:5070', track: expect.any(String) });
    const header = /^X-Spoofguard-Verdict: (.+)\r\n$/.exec(answer.hdrs as string)?.[1];
    const checked = verifyVerdict(header, VERDICT_KEY, 30);
    expect(checked).toMatchObject({ ok: true, verdict: { verdict: 'warn', brand: 'amazon', call: answer.track } });
    if (!checked.ok) return;
    // Kamailio proxies: the caller's Call-ID reaches the IVR, and the header is bound to it
    expect(checked.verdict.cid).toBeDefined();
    expect(
      bindingProblem(checked.verdict, { callers: [checked.verdict.from], called: '+4930901820', callId: 'amz-1' }),
    ).toBeUndefined();
    expect(
      bindingProblem(checked.verdict, { callers: [checked.verdict.from], called: '+4930901820', callId: 'other' }),
    ).toMatch(/Call-ID/);
    const row = await storedRecordWhere(path.worker.store, { sipCallId: 'amz-1' }, (r) => r.verdict === 'warn');
    expect(row).toMatchObject({ source: 'kamailio', callId: answer.track });
    // the IVR answered 486 after the warning: the IVR logs that outcome itself, the front adds none
    kam.send(netstring(JSON.stringify({ v: 1, track: answer.track, final: 486 })));
  });

  it('caller ID 110: 608 Rejected with its Reason, logged as blocked', async () => {
    const answer = await kam.ask(invite({ from: '<sip:110@192.0.2.10>', callId: 'c110' }));
    expect(answer).toMatchObject({ a: 'reply', code: 608, reason: 'Rejected' });
    expect(answer.hdrs).toMatch(/^Reason: SIP;cause=608;text="Suspected caller ID spoofing[^"\r\n]*"\r\n$/);
    await storedRecordWhere(path.worker.store, { sipCallId: 'c110' }, (r) => r.outcome === 'blocked');
  });

  it('tag mode: From and P-Asserted-Identity prefixed; the 200 Kamailio reports is logged as accepted', async () => {
    const answer = await kam.ask(
      invite({
        from: '"Amazon" <sip:+18882804331@203.0.113.5>',
        callId: 'tag-1',
        extra: ['P-Asserted-Identity: <sip:+18882804331@203.0.113.5>'],
      }),
      SOURCES.tagging.address,
    );
    expect(answer).toMatchObject({
      a: 'relay',
      uri: 'sip:+4930901820@pbx.example.de:5060',
      from: '"Betrugsverdacht: Amazon" <sip:+18882804331@203.0.113.5>;tag=1',
      pai: '"Betrugsverdacht: Amazon?" <sip:+18882804331@203.0.113.5>',
    });
    kam.send(netstring(JSON.stringify({ v: 1, track: answer.track, final: 200 })));
    await storedRecordWhere(path.worker.store, { sipCallId: 'tag-1' }, (r) => r.outcome === 'accepted');
  });

  it('forged X-Spoofguard-* headers are never read: a forged trunk header picks no trunk', async () => {
    const answer = await kam.ask(
      invite({
        from: '"Amazon" <sip:+18882804331@192.0.2.10>',
        extra: ['X-Spoofguard-Verdict: v=2;verdict=allow;sig=00'],
      }),
    );
    expect(answer).toMatchObject({ a: 'relay', uri: 'sip:+4930901820@ivr.example.de:5070' });
  });

  it('a called number that is no number: 484, never a URI', async () => {
    expect(await kam.ask(invite({ from: '<sip:+4930123456@192.0.2.10>', called: 'evil%40x' }))).toMatchObject({
      a: 'reply',
      code: 484,
    });
  });

  it('bad input: unparseable, an unreadable INVITE (answered unscreened), an oversized frame, an unknown track', async () => {
    kam.send(netstring('{"v":1,"i":'));
    kam.send(netstring(JSON.stringify({ v: 1, i: 77, l: 78, src: '192.0.2.10', msg: 'bm90IFNJUA==' })));
    kam.send(`9000:${'x'.repeat(9000)},`);
    kam.send(netstring(JSON.stringify({ v: 1, track: 'kam:nobody.1', final: 200 })));
    // and one that asks for a transaction with a schema violation: answered unscreened when it names one
    kam.send(netstring(JSON.stringify({ v: 1, i: 79, l: 80, src: 5 })));
    await until(() => kam.answers.some((a) => a.i === 79), 5000, 'the invalid ask with an index answered');
    expect(kam.answers.find((a) => a.i === 77)).toEqual({ i: 77, l: 78, a: 'unscreened' });
    expect(kam.answers.find((a) => a.i === 79)).toEqual({ i: 79, l: 80, a: 'unscreened' });
    expect(await faults('unparseable')).toBe(2);
    expect(await faults('unreadable-sip')).toBe(1);
    expect(await faults('oversized')).toBe(1);
    expect(await faults('unknown-track')).toBe(1);
    // the link still takes asks
    expect(await kam.ask(invite({ from: '<sip:+4930123456@192.0.2.10>' }))).toMatchObject({ a: 'relay' });
  });

  it('an ask that waited past the budget before its screening is skipped (Kamailio went on), counted', async () => {
    // the baseline is the smallest delay seen: a fresh ask first, then one 5 s old by Kamailio's clock
    await kam.ask(invite({ from: '<sip:+4930123456@192.0.2.10>' }));
    const before = kam.answers.length;
    const stale = invite({ from: '<sip:+4930123457@192.0.2.10>' });
    kam.send(
      netstring(
        JSON.stringify({
          v: 1,
          i: 500,
          l: 501,
          src: '192.0.2.10',
          t: Date.now() / 1000 - 5,
          msg: Buffer.from(stale).toString('base64'),
        }),
      ),
    );
    await until(async () => (await faults('stale')) === 1, 5000, 'the stale ask counted');
    expect(kam.answers.length).toBe(before);
  });

  it('bytes that are no netstring: the link reconnects to get back in step', async () => {
    const links = kam.sockets.length;
    kam.send('hello there,');
    await until(() => kam.sockets.length === links + 1 && running.links[0]?.connected === true, 5000, 'reconnected');
    expect(await faults('garbage')).toBe(1);
    expect(await kam.ask(invite({ from: '<sip:+4930123456@192.0.2.10>' }))).toMatchObject({ a: 'relay' });
  });

  it('Kamailio ends the link in the middle of a frame: the half frame counted; reconnected', async () => {
    const links = kam.sockets.length;
    kam.socket.end('300:{"v":1');
    await until(() => kam.sockets.length === links + 1 && running.links[0]?.connected === true, 5000, 'reconnected');
    expect(await faults('half-frame')).toBe(1);
    expect(await kam.ask(invite({ from: '<sip:+4930123456@192.0.2.10>' }))).toMatchObject({ a: 'relay' });
  });
});
