import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../../services/common/config';
import { verifyVerdict } from '../../services/common/verdict-header';
import { openLogStore, type LogStore } from '../../services/flagged-log';
import { netstring } from '../../services/kamailio/netstring';
import { exited, ROOT, spawnSpoofguard } from '../support/child';
import { quietLogger, testConfig } from '../support/config';
import { createRedis } from '../../services/common/redis';
import { openStirVerifier } from '../../services/stir';
import { freePort, PrivateRedis } from '../support/redis';
import { httpText } from './support/drachtio';
import { RealKamailio } from './support/kamailio';
import { RawCaller, RawPeer } from './support/raw-sip';
import { rawInvite, TORTURE } from './support/sip-torture';
import { uacScenario, uasScenario } from './support/sip-scenarios';
import { type SippRun, startSipp } from './support/sipp';
import { type StirFixture, stirFixture } from './support/stir';
import { describeReal, eventually } from './support/suite';

const VERDICT_KEY = 'real-suite-verdict-key-0123456789';
const CALLED = '+4930901820';
const AMAZON = '+18882804331';

type Child = ReturnType<typeof spawnSpoofguard>;

/**
 * The Kamailio front on a real Kamailio 5.6 (Debian's): the project's own kamailio/kamailio.cfg (addresses,
 * ports and the budget given as defines), a Redis of its own, `spoofguard kamailio` and `spoofguard worker` as
 * child processes, sipp as callers, next hop and warning IVR. After every test: no transaction left in
 * Kamailio, no call left in spoofguard. Kamailio keeps no dialog state (no dialog module): in-dialog requests
 * follow the Record-Route it put in, so "no dialog left" is the transactions' count.
 */
describeReal('kamailio', 'Kamailio front on a real Kamailio', (env) => {
  let kamailio: RealKamailio;
  let redis: PrivateRedis;
  let config: Config;
  let store: LogStore;
  let front: Child;
  let worker: Child;
  let nextHopPort: number;
  let ivrPort: number;
  let opsPort: number;
  let stir: StirFixture;

  const metric = async (name: string, port = opsPort): Promise<number> => {
    const text = await httpText(`http://127.0.0.1:${port}/metrics`);
    let sum = 0;
    for (const line of text.split('\n'))
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
    return sum;
  };
  const appCalls = (): Promise<number> => metric('spoofguard_kamailio_calls_in_progress');
  const connections = (child: Child): number =>
    (child.output().match(/"msg":"connected to Kamailio \(evapi\)"/g) ?? []).length;

  const startFront = async (endpoints = [kamailio.evapiEndpoint], port = opsPort): Promise<Child> => {
    const child = spawnSpoofguard(['kamailio'], config, {
      SPOOFGUARD_OPS_PORT: String(port),
      SPOOFGUARD_KAMAILIO_ENDPOINTS: JSON.stringify(endpoints),
    });
    await eventually(
      async () =>
        connections(child) >= endpoints.length &&
        (await metric('spoofguard_kamailio_links_up', port)) === endpoints.length,
      `spoofguard kamailio connected\n${child.output().slice(-2000)}`,
      30_000,
    );
    return child;
  };

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    nextHopPort = await freePort();
    ivrPort = await freePort();
    opsPort = await freePort();
    kamailio = new RealKamailio(env.kamailioBin, env.kamcmdBin, {
      nextHop: `127.0.0.1:${nextHopPort}`,
      // sipp, Kamailio and node share two cores: a budget a loaded CI box keeps
      budgetMs: 400,
      waitMs: 1000,
    });
    await kamailio.start();
    stir = await stirFixture();
    config = testConfig({
      screening: { budgetMs: 300 },
      redis: { url: redis.url },
      sip: {
        nextHop: `sip:127.0.0.1:${nextHopPort}`,
        warningIvrUri: `sip:127.0.0.1:${ivrPort}`,
        drainTimeoutMs: 10_000,
      },
      kamailio: { budgetMs: 400, reconnectMs: 50 },
      trunks: {
        tagged: {
          country: 'DE',
          international: false,
          identityHeaders: ['P-Asserted-Identity', 'From'],
          header: { name: 'X-Carrier-Trunk', value: 'tagged' },
          mode: 'tag',
        },
        // STIR/SHAKEN verified by spoofguard (the test STI-CA; Identity headers signed by secsipidx)
        'us-signed': {
          country: 'US',
          international: false,
          identityHeaders: ['P-Asserted-Identity', 'From'],
          header: { name: 'X-Carrier-Trunk', value: 'us-signed' },
          stir: 'verify',
        },
      },
      // below Kamailio's budget (400 ms here): past it Kamailio relays unscreened
      stir: { ...stir.settings, callBudgetMs: 250 },
      verdictHeader: { key: VERDICT_KEY, maxAgeSec: 30 },
    });
    const seeded = spawnSpoofguard(['seed'], config);
    const { code } = await exited(seeded);
    if (code !== 0) throw new Error(`spoofguard seed: ${seeded.output()}`);
    store = await openLogStore(config);
    worker = spawnSpoofguard(['worker'], config);
    front = await startFront();
  }, 90_000);

  afterAll(async () => {
    for (const child of [front, worker]) {
      if (!child) continue;
      child.kill('SIGKILL');
      await exited(child);
    }
    await store?.close();
    await kamailio?.close();
    await redis?.stop();
    await stir?.close();
  });

  afterEach(async () => {
    await eventually(
      async () => (await kamailio.transactions()) === 0 && (front.exitCode !== null || (await appCalls()) === 0),
      'no transaction left in Kamailio, no call left in spoofguard',
      20_000,
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}: ${JSON.stringify({ transactions: await kamailio.transactions() })}\n${kamailio.output().slice(-3000)}\n${front.output().slice(-3000)}`,
      );
    });
  });

  const someNumber = (): string => `+4940${randomInt(1_000_000, 9_999_999)}`;
  const callIdOf = (run: SippRun, n = 1): string => `${n}-${run.process.pid}@127.0.0.1`;

  const logged = async (sipCallId: string, has: (row: Record<string, unknown>) => boolean) => {
    let found: Record<string, unknown> | undefined;
    await eventually(
      async () => {
        const page = await store.list({ sipCallId }, { limit: 5 });
        found = (page.records as unknown as Record<string, unknown>[]).find(has);
        return found !== undefined;
      },
      `flagged call with Call-ID ${sipCallId} in the log\n${front.output().slice(-3000)}`,
    );
    return found as Record<string, unknown>;
  };

  const uas = (port: number, xml = uasScenario({ then: 'wait-bye' }), calls = 1): Promise<SippRun> =>
    startSipp(env, xml, { port, calls, extra: ['-trace_msg'] });

  const received = (run: SippRun): string => {
    try {
      return readFileSync(join(run.dir, `scenario_${run.process.pid}_messages.log`), 'utf8');
    } catch {
      return '(no message trace)';
    }
  };

  const project = (scenario: string, calls = 1, to = kamailio): Promise<SippRun> => {
    const xml = readFileSync(join(ROOT, 'test', 'sipp', scenario), 'utf8');
    return startSipp(env, xml, { remote: to.sipAddress, calls, extra: ['-s', CALLED, '-trace_msg'] });
  };

  const caller = (o: Parameters<typeof uacScenario>[0], to = kamailio, more: { calls?: number; rate?: number } = {}) =>
    startSipp(env, uacScenario(o), { remote: to.sipAddress, extra: ['-trace_msg'], ...more });

  const both = async (a: SippRun, b?: SippRun): Promise<void> => {
    const callerExit = await a.done;
    const calleeExit = b
      ? await Promise.race([b.done, new Promise<number>((r) => setTimeout(() => r(-2), 15_000))])
      : 0;
    b?.stop();
    if (callerExit !== 0 || calleeExit !== 0)
      throw new Error(
        `sipp: caller ${callerExit}, callee ${calleeExit}\n--- caller\n${received(a).slice(-6000)}\n--- callee\n${b ? received(b).slice(-6000) : ''}\n--- kamailio\n${kamailio.output().slice(-3000)}\n--- spoofguard kamailio\n${front.output().slice(-3000)}`,
      );
  };

  const inviteAt = (run: SippRun): string => (received(run).split('INVITE sip:')[1] ?? '').split(/\r?\n\r?\n/)[0] ?? '';

  describe("the project's own sipp scenarios, unchanged", () => {
    it('clean-call.xml: relayed to the next hop, ACK and BYE through Kamailio', async () => {
      const next = await uas(nextHopPort);
      await both(await project('clean-call.xml'), next);
    });

    it('spoofed-amazon.xml: reaches the IVR with a valid signed verdict bound to its Call-ID, flagged call logged', async () => {
      const ivr = await uas(ivrPort);
      const run = await project('spoofed-amazon.xml');
      await both(run, ivr);
      const header = /^X-Spoofguard-Verdict:\s*(.+)$/im.exec(received(ivr))?.[1]?.trim();
      const checked = verifyVerdict(header, VERDICT_KEY, 30);
      expect(checked).toMatchObject({ ok: true, verdict: { verdict: 'warn', brand: 'amazon' } });
      const row = await logged(callIdOf(run), (r) => r.verdict === 'warn' && r.brand === 'amazon');
      expect(checked.ok && checked.verdict.call).toBe(row.callId);
      expect(row.source).toBe('kamailio');
    });

    it('caller-110.xml: 608 Rejected with its Reason, logged as blocked', async () => {
      const run = await project('caller-110.xml');
      await both(run);
      const answer =
        received(run)
          .split(/^-{20,}.*$/m)
          .find((m) => /^\s*SIP\/2\.0 608/m.test(m)) ?? '';
      expect(answer).toMatch(/^Reason:\s*SIP;cause=608;text="Suspected caller ID spoofing[^"]*"/im);
      await logged(callIdOf(run), (row) => row.verdict === 'block' && row.outcome === 'blocked');
    });

    it('forged-verdict.xml: the forged headers never reach the IVR; a verdict of our own does', async () => {
      const ivr = await uas(ivrPort);
      await both(await project('forged-verdict.xml'), ivr);
      const invite = inviteAt(ivr);
      expect(invite).not.toMatch(/X-Spoofguard-Trunk|verdict=allow|sig=0{20}/i);
      const header = /^X-Spoofguard-Verdict:\s*(.+)$/im.exec(invite)?.[1]?.trim();
      expect(verifyVerdict(header, VERDICT_KEY, 30)).toMatchObject({ ok: true, verdict: { verdict: 'warn' } });
    });
  });

  describe('STIR/SHAKEN: Identity signed by secsipidx, verified by spoofguard, carried out by Kamailio', () => {
    /** Amazon's number calls on the us-signed trunk, asserted by the carrier, with this Identity header. */
    const amazonSigned = (identity: string): Promise<SippRun> =>
      caller({
        number: AMAZON,
        called: CALLED,
        headers: [
          'X-Carrier-Trunk: us-signed',
          `P-Asserted-Identity: <sip:${AMAZON}@carrier.example;user=phone>`,
          `Identity: ${identity}`,
        ],
        end: { kind: 'bye', afterMs: 200 },
      });
    // the certificate is fetched once, as the carrier's first signed call would, and shared through Redis: the
    // calls below find it there (a cold fetch on a loaded box could take longer than the call's budget)
    beforeAll(async () => {
      const shared = createRedis(config.redis, 'call-path', undefined, quietLogger());
      try {
        const warm = await openStirVerifier(
          { ...config, stir: { ...config.stir, callBudgetMs: 5000 } },
          shared,
          quietLogger(),
        ).verify({
          identity: [stir.sign({ orig: AMAZON.slice(1), dest: CALLED.slice(1) })],
          callerDigits: [AMAZON.slice(1)],
          calledDigits: CALLED.slice(1),
          at: Date.now(),
        });
        if (warm.status !== 'passed') throw new Error(`the test certificate does not verify: ${JSON.stringify(warm)}`);
      } finally {
        shared.disconnect();
      }
    });

    it("Amazon's number signed by its carrier (attestation A): relayed to the next hop with verstat=TN-Validation-Passed on P-Asserted-Identity", async () => {
      const identity = stir.sign({ orig: AMAZON.slice(1), dest: CALLED.slice(1) });
      const next = await uas(nextHopPort);
      const run = await amazonSigned(identity);
      await both(run, next);
      const invite = inviteAt(next);
      expect(invite).toMatch(
        /^P-Asserted-Identity:\s*<sip:\+18882804331;verstat=TN-Validation-Passed@carrier\.example;user=phone>/m,
      );
      expect(invite).toContain(identity.split(';')[0]);
    });

    it('tampered with: warned at the IVR with verstat=TN-Validation-Failed, logged as failed-signature', async () => {
      const identity = stir.tamper(stir.sign({ orig: AMAZON.slice(1), dest: CALLED.slice(1) }));
      const ivr = await uas(ivrPort);
      const run = await amazonSigned(identity);
      await both(run, ivr);
      expect(inviteAt(ivr)).toMatch(/^P-Asserted-Identity:.*;verstat=TN-Validation-Failed@/m);
      const row = await logged(callIdOf(run), (r) => r.stir === 'failed-signature');
      expect(row).toMatchObject({ source: 'kamailio', verdict: 'warn' });
    });
  });

  describe('whole dialogs through Kamailio (Record-Route)', () => {
    it('clean call with a re-INVITE, then the caller hangs up', async () => {
      const next = await uas(nextHopPort, uasScenario({ then: 'wait-reinvite-then-bye' }));
      await both(
        await caller({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 300, reinvite: true } }),
        next,
      );
    });

    it('clean call, the callee hangs up', async () => {
      const next = await uas(nextHopPort, uasScenario({ then: { byeAfterMs: 500 } }));
      await both(await caller({ number: someNumber(), called: CALLED, end: { kind: 'wait-bye' } }), next);
    });

    it('the caller cancels while the next hop rings', async () => {
      const next = await uas(nextHopPort, uasScenario({ ringMs: 'forever' }));
      await both(await caller({ number: someNumber(), called: CALLED, end: { kind: 'cancel', afterMs: 300 } }), next);
    });

    it('a warned call cancelled while the IVR rings: the warning logged, the outcome left to the IVR', async () => {
      const ivr = await uas(ivrPort, uasScenario({ ringMs: 'forever' }));
      const run = await caller({
        number: AMAZON,
        name: 'Amazon',
        called: CALLED,
        end: { kind: 'cancel', afterMs: 300 },
      });
      await both(run, ivr);
      const row = await logged(callIdOf(run), (r) => r.verdict === 'warn');
      expect(row.outcome).toBeUndefined();
    });

    it('a warned call the IVR cannot take (503): Kamailio reports the final status, outcome failed', async () => {
      const ivr = await uas(ivrPort, uasScenario({ status: 503 }));
      const run = await caller({
        number: AMAZON,
        name: 'Amazon',
        called: CALLED,
        // a proxy passes a 503 on as 500 (RFC 3261 §16.7): the caller must not take it for the proxy's own state
        end: { kind: 'refused', status: 500 },
      });
      await both(run, ivr);
      await logged(callIdOf(run), (r) => r.verdict === 'warn' && r.outcome === 'failed');
    });

    it('tag mode (trunk by a header Kamailio sets): the next hop gets the prefixed display name; the answer logged as accepted', async () => {
      const next = await uas(nextHopPort, uasScenario({ then: { byeAfterMs: 300 } }));
      const run = await caller({
        number: AMAZON,
        name: 'Amazon',
        called: CALLED,
        headers: ['X-Carrier-Trunk: tagged'],
        end: { kind: 'wait-bye' },
      });
      await both(run, next);
      expect(inviteAt(next)).toMatch(/^From:\s*"Betrugsverdacht: Amazon"\s*<sip:\+18882804331@/im);
      await logged(callIdOf(run), (r) => r.verdict === 'warn' && r.outcome === 'accepted');
    });
  });

  describe('bad input on both sides of the link: logged, counted, nothing crashes', () => {
    /** A raw evapi client of Kamailio's, as spoofguard is one. */
    const rawLink = async (): Promise<Socket> => {
      const socket = createConnection({ host: '127.0.0.1', port: kamailio.ports.evapi });
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      return socket;
    };

    it('answers Kamailio cannot use: not JSON, no index, an unknown transaction, a huge and a half frame', async () => {
      const before = await kamailio.stats();
      const link = await rawLink();
      link.write(netstring('not json'));
      link.write(netstring('{"a":"relay"}'));
      link.write(netstring('{"i":4000000,"l":17,"a":"relay","uri":"sip:1@127.0.0.1"}'));
      await eventually(async () => {
        const s = await kamailio.stats();
        return (
          s.sg_bad_answer === (before.sg_bad_answer ?? 0) + 2 &&
          s.sg_unknown_answer === (before.sg_unknown_answer ?? 0) + 1
        );
      }, 'Kamailio counted two bad answers and one for an unknown transaction');
      // evapi reads at most 32 KB a frame: a bigger one ends the link (Kamailio's own rule), nothing else
      link.write(`100000:${'x'.repeat(40_000)}`);
      const half = await rawLink();
      half.end('500:{"i":1,');
      await eventually(() => link.destroyed || link.readableEnded, 'the huge frame closed its link', 5000).catch(() =>
        link.destroy(),
      );
      link.destroy();
      // Kamailio still takes calls, screened
      const next = await uas(nextHopPort);
      await both(await project('clean-call.xml'), next);
      expect((await kamailio.stats()).sg_answered).toBeGreaterThan(before.sg_answered ?? 0);
    });

    it('a late answer (after the budget, the call still ringing) is counted late and changes nothing', async () => {
      // the raw link is the only one connected for this call
      front.kill('SIGKILL');
      await exited(front);
      const link = await rawLink();
      try {
        let asked = '';
        link.on('data', (d: Buffer) => (asked += d.toString()));
        const next = await uas(nextHopPort, uasScenario({ ringMs: 1500, then: 'wait-bye' }));
        const before = await kamailio.stats();
        const run = await caller({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 100 } });
        await eventually(() => /"i":\d+,"l":\d+/.test(asked), 'the ask reached the raw link');
        await eventually(
          async () => (await kamailio.stats()).sg_unscreened_timeout === (before.sg_unscreened_timeout ?? 0) + 1,
          'the budget ended: relayed unscreened',
        );
        const [, i, l] = /"i":(\d+),"l":(\d+)/.exec(asked) as RegExpExecArray;
        link.write(netstring(JSON.stringify({ i: Number(i), l: Number(l), a: 'reply', code: 603, reason: 'Decline' })));
        await eventually(
          async () => (await kamailio.stats()).sg_late_answer === (before.sg_late_answer ?? 0) + 1,
          'the late answer counted',
        );
        // the call went on as relayed: the late 603 changed nothing
        await both(run, next);
      } finally {
        link.destroy();
        front = await startFront();
      }
    }, 60_000);

    it("messages spoofguard cannot use (a stand-in Kamailio's evapi socket): unparseable, oversized, garbage, half frame", async () => {
      const { createServer } = await import('node:net');
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      const sockets: Socket[] = [];
      server.on('connection', (s) => sockets.push(s));
      const otherOps = await freePort();
      const second = spawnSpoofguard(['kamailio'], config, {
        SPOOFGUARD_OPS_PORT: String(otherOps),
        SPOOFGUARD_KAMAILIO_ENDPOINTS: JSON.stringify([`127.0.0.1:${port}`]),
      });
      try {
        await eventually(() => sockets.length === 1, 'spoofguard connected to the stand-in');
        const s = sockets[0] as Socket;
        let answers = '';
        s.on('data', (d: Buffer) => (answers += d.toString()));
        s.write(netstring('{"v":1,"i":3,'));
        s.write(netstring(JSON.stringify({ v: 1, i: 5, l: 6, src: '127.0.0.1', msg: 'not base64 of a SIP message' })));
        s.write(`200000:${'y'.repeat(200_000)},`);
        const invite = Buffer.from(rawInvite({ number: AMAZON, name: 'Amazon' }).replace(/\[port\]/g, '5999')).toString(
          'base64',
        );
        s.write(netstring(JSON.stringify({ v: 1, i: 7, l: 8, src: '127.0.0.1', t: Date.now() / 1000, msg: invite })));
        await eventually(() => answers.includes('"i":7'), 'the good ask answered after the bad ones');
        expect(answers).toContain('"i":5,"l":6,"a":"unscreened"');
        expect(answers).toMatch(
          /"i":7,"l":8,"a":"relay","uri":"sip:\+4930901820@127\.0\.0\.1:\d+","hdrs":"X-Spoofguard-Verdict: /,
        );
        // bytes that are no netstring: the stream is out of step, spoofguard reconnects
        s.write('hello there,');
        await eventually(() => sockets.length === 2, 'spoofguard reconnected after the garbage');
        // a half frame, then the connection ends
        (sockets[1] as Socket).end('300:{"v":1');
        await eventually(() => sockets.length === 3, 'spoofguard reconnected after the half frame');
        const text = await httpText(`http://127.0.0.1:${otherOps}/metrics`);
        for (const kind of ['unparseable', 'unreadable-sip', 'oversized', 'garbage', 'half-frame'])
          expect(text).toMatch(new RegExp(`spoofguard_kamailio_faults_total\\{[^}]*kind="${kind}"[^}]*\\} [1-9]`));
        expect(second.exitCode).toBeNull();
      } finally {
        second.kill('SIGKILL');
        await exited(second);
        server.close();
        for (const s of sockets) s.destroy();
      }
    });

    it.each(Object.entries(TORTURE))(
      'RFC 4475-style %s: Kamailio answers or drops it, nothing crashes',
      async (_name, text) => {
        const nextHop = await RawPeer.open(nextHopPort);
        const ivr = await RawPeer.open(ivrPort);
        const raw = await RawCaller.open();
        try {
          raw.send(text, { host: '127.0.0.1', port: kamailio.ports.sip });
          await raw.final(3000);
          expect(front.exitCode).toBeNull();
          // what reached the next hop (screened clean) was read: it carried the caller it claimed
          for (const invite of nextHop.invites) expect(invite).toMatch(/^From:.*sip:(\+|%2B)?\d+@/im);
          expect(await kamailio.transactions()).toBeGreaterThanOrEqual(0);
        } finally {
          nextHop.close();
          ivr.close();
          raw.close();
        }
      },
    );
  });

  describe('faults and restarts', () => {
    it('spoofguard killed under load: calls keep flowing unscreened and counted, forged headers still stripped; screening resumes within 2 s of reconnecting', async () => {
      const calls = 200;
      const next = await uas(nextHopPort, uasScenario({ ringMs: 0, then: 'wait-bye' }), calls);
      const before = await kamailio.stats();
      const run = await caller(
        {
          number: someNumber(),
          called: CALLED,
          headers: ['X-Spoofguard-Verdict: v=1;verdict=allow;sig=00'],
          end: { kind: 'bye', afterMs: 50 },
        },
        kamailio,
        { calls, rate: 40 },
      );
      await eventually(
        async () => (await kamailio.stats()).sg_answered > (before.sg_answered ?? 0) + 20,
        'screened calls',
      );
      front.kill('SIGKILL');
      await exited(front);
      await eventually(
        async () => (await kamailio.stats()).sg_unscreened_nolink > (before.sg_unscreened_nolink ?? 0) + 20,
        'calls relayed unscreened while no spoofguard is connected',
      );
      const answeredBefore = (await kamailio.stats()).sg_answered;
      front = await startFront();
      const reconnected = Date.now();
      await eventually(async () => (await kamailio.stats()).sg_answered > answeredBefore, 'screening again', 2000);
      const tookMs = Date.now() - reconnected;
      await both(run, next);
      expect(tookMs).toBeLessThan(2000);
      // the fail-open path removed the forged header too
      expect(received(next)).not.toMatch(/verdict=allow/);
      expect(kamailio.output()).toMatch(/no spoofguard connected: calls go on unscreened until one connects/);
      expect((kamailio.output().match(/no spoofguard connected: calls go on unscreened/g) ?? []).length).toBe(1);
    }, 60_000);

    it('spoofguard stopped (not answering): each call waits the budget, then goes on unscreened; logged once per episode', async () => {
      const before = await kamailio.stats();
      front.kill('SIGSTOP');
      try {
        const next = await uas(nextHopPort, uasScenario({ ringMs: 0, then: 'wait-bye' }), 3);
        await both(
          await caller({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 50 } }, kamailio, {
            calls: 3,
            rate: 10,
          }),
          next,
        );
        expect((await kamailio.stats()).sg_unscreened_timeout).toBe((before.sg_unscreened_timeout ?? 0) + 3);
      } finally {
        front.kill('SIGCONT');
      }
      const next = await uas(nextHopPort);
      await both(await project('clean-call.xml'), next);
      expect(kamailio.output()).toMatch(/spoofguard answers in time again: calls are screened/);
    }, 60_000);

    it('Kamailio restarted: spoofguard reconnects and screens again', async () => {
      const before = connections(front);
      await kamailio.stop();
      await kamailio.start();
      await eventually(
        () => connections(front) > before,
        `spoofguard reconnected\n${front.output().slice(-2000)}`,
        10_000,
      );
      const ivr = await uas(ivrPort);
      await both(await project('spoofed-amazon.xml'), ivr);
      expect(received(ivr)).toMatch(/^X-Spoofguard-Verdict:/im);
    }, 60_000);

    it('SIGTERM to spoofguard with calls up: they go on until their parties end them; it exits 0', async () => {
      const next = await uas(nextHopPort);
      const up = await caller({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 2000 } });
      await eventually(() => received(next).includes('ACK sip:'), 'the call up');
      front.kill('SIGTERM');
      expect(await exited(front)).toEqual({ code: 0, signal: null });
      await both(up, next);
      front = await startFront();
    }, 60_000);

    it('SIGTERM to Kamailio with a call up: it exits; the call was relayed and stays with its parties', async () => {
      const next = await uas(nextHopPort, uasScenario({ then: 'wait-bye' }));
      const up = await caller({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 1500 } });
      await eventually(() => received(next).includes('ACK sip:'), 'the call up');
      await kamailio.stop('SIGTERM');
      await kamailio.start();
      await eventually(
        () => front.output().split('"msg":"connected to Kamailio (evapi)"').length > 2,
        'spoofguard reconnected',
        10_000,
      );
      // the BYE follows the route set through the restarted Kamailio (it keeps no dialog state to lose)
      await both(up, next);
    }, 60_000);
  });

  describe('scale-out: two spoofguards, two Kamailios, each spoofguard connected to both', () => {
    let second: RealKamailio;
    let other: Child;
    let otherOps: number;

    beforeAll(async () => {
      second = new RealKamailio(env.kamailioBin, env.kamcmdBin, { ...kamailio.options, node: 'kamailio-2' });
      await second.start();
      front.kill('SIGTERM');
      await exited(front);
      otherOps = await freePort();
      front = await startFront([kamailio.evapiEndpoint, second.evapiEndpoint]);
      other = await startFront([kamailio.evapiEndpoint, second.evapiEndpoint], otherOps);
    }, 60_000);

    afterAll(async () => {
      other?.kill('SIGKILL');
      if (other) await exited(other);
      await second?.close();
    });

    it('both Kamailios deal their INVITEs to both spoofguards; every call screened, none failed', async () => {
      const calls = 40;
      const answered = async (port: number): Promise<number> => metric('spoofguard_kamailio_answers_total', port);
      const before = [await answered(opsPort), await answered(otherOps)];
      const next = await uas(nextHopPort, uasScenario({ ringMs: 0, then: 'wait-bye' }), calls * 2);
      const runs = [
        await caller({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 50 } }, kamailio, {
          calls,
          rate: 20,
        }),
        await caller({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 50 } }, second, {
          calls,
          rate: 20,
        }),
      ];
      for (const run of runs) expect(await run.done).toBe(0);
      expect(await Promise.race([next.done, new Promise<number>((r) => setTimeout(() => r(-2), 15_000))])).toBe(0);
      const after = [await answered(opsPort), await answered(otherOps)];
      const byProcess = after.map((n, i) => n - (before[i] as number));
      expect(byProcess[0]! + byProcess[1]!).toBe(calls * 2);
      // round robin: each process takes a fair share from each Kamailio
      for (const n of byProcess) expect(n).toBeGreaterThanOrEqual(calls / 2);
      for (const k of [kamailio, second]) {
        const s = await k.stats();
        expect(s.sg_unscreened_timeout ?? 0).toBe(0);
      }
      expect((await second.stats()).sg_answered).toBe(calls);
      await eventually(
        async () => (await second.transactions()) === 0,
        'no transaction left in the second Kamailio',
        20_000,
      );
    }, 120_000);
  });
});
