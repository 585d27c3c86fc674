import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../services/common/config';
import { verifyVerdict } from '../../services/common/verdict-header';
import { openLogStore, type LogStore } from '../../services/flagged-log';
import { exited, ROOT, spawnSpoofguard } from '../support/child';
import { testConfig } from '../support/config';
import { freePort, PrivateRedis } from '../support/redis';
import { httpText, RealDrachtio } from './support/drachtio';
import { type SippRun, startSipp } from './support/sipp';
import { describeReal, eventually } from './support/suite';
import { RawCaller, RawPeer } from './support/raw-sip';
import { rawInvite, TORTURE } from './support/sip-torture';
import { uacScenario, uasScenario } from './support/sip-scenarios';
import { type StirFixture, stirFixture } from './support/stir';

const VERDICT_KEY = 'real-suite-verdict-key-0123456789';
const CALLED = '+4930901820';
/** A trunk in a STIR/SHAKEN country whose calls spoofguard verifies itself. */
const US_SIGNED = {
  country: 'US',
  international: false,
  identityHeaders: ['P-Asserted-Identity', 'From'],
  stir: 'verify',
};

/**
 * The SIP front on a real drachtio-server: the project's own config/drachtio.conf.xml (addresses, ports and
 * secret rewritten), a Redis of its own, `spoofguard sip` and `spoofguard worker` as child processes, sipp as
 * callers and as the next hop and the warning IVR. After every test: no call left in the app and no proxied
 * call left in drachtio-server; once, a watchdog tick after the calls, no dialog left in drachtio-server (v0.9.4
 * refreshes its dialog gauge every 30 s only).
 */
describeReal('drachtio', 'SIP front on a real drachtio-server', (env) => {
  let drachtio: RealDrachtio;
  let redis: PrivateRedis;
  let config: Config;
  let store: LogStore;
  let sip: ReturnType<typeof spawnSpoofguard>;
  let worker: ReturnType<typeof spawnSpoofguard>;
  let nextHopPort: number;
  let ivrPort: number;
  let opsPort: number;
  let stir: StirFixture;

  const appCalls = async (): Promise<number> => {
    const text = await httpText(`http://127.0.0.1:${opsPort}/metrics`);
    const line = /^spoofguard_sip_calls_in_progress(?:\{[^}]*\})? (\d+)/m.exec(text);
    return line ? Number(line[1]) : -1;
  };

  /** How often the app said it connected (drachtio-server's own app gauge is refreshed only every 30 s). */
  const connections = (): number => (sip.output().match(/"msg":"connected to drachtio-server"/g) ?? []).length;

  const startSip = async (): Promise<void> => {
    sip = spawnSpoofguard(['sip'], config, { SPOOFGUARD_OPS_PORT: String(opsPort) });
    await eventually(
      async () => connections() >= 1 && (await appCalls().catch(() => -1)) === 0,
      `spoofguard sip connected to drachtio-server\n${sip.output().slice(-2000)}`,
      30_000,
    );
  };

  beforeAll(async () => {
    drachtio = new RealDrachtio(env.drachtioBin);
    redis = await PrivateRedis.start();
    await drachtio.start();
    nextHopPort = await freePort();
    ivrPort = await freePort();
    opsPort = await freePort();
    stir = await stirFixture();
    config = testConfig({
      // drachtio-server, sipp and spoofguard share two cores: a look-up past 50 ms would fail open
      screening: { budgetMs: 500 },
      redis: { url: redis.url },
      sip: {
        drachtioHost: '127.0.0.1',
        drachtioPort: drachtio.ports.admin,
        drachtioSecret: drachtio.secret,
        nextHop: `sip:127.0.0.1:${nextHopPort}`,
        warningIvrUri: `sip:127.0.0.1:${ivrPort}`,
        drainTimeoutMs: 10_000,
      },
      verdictHeader: { key: VERDICT_KEY, maxAgeSec: 30 },
      // calls that name this trunk have their STIR/SHAKEN Identity verified (test STI-CA, secsipidx-signed)
      trunks: { 'us-signed': { ...US_SIGNED, header: { name: 'X-Test-Trunk', value: 'us-signed' } } },
      stir: stir.settings,
    });
    const seeded = spawnSpoofguard(['seed'], config);
    const { code } = await exited(seeded);
    if (code !== 0) throw new Error(`spoofguard seed: ${seeded.output()}`);
    store = await openLogStore(config);
    worker = spawnSpoofguard(['worker'], config);
    await startSip();
  }, 90_000);

  afterAll(async () => {
    for (const child of [sip, worker]) {
      if (!child) continue;
      child.kill('SIGKILL');
      await exited(child);
    }
    await store?.close();
    await drachtio?.close();
    await redis?.stop();
    await stir?.close();
  });

  afterEach(async () => {
    await eventually(
      async () => {
        return (await drachtio.proxies()) === 0 && (await appCalls()) === 0;
      },
      'no proxied call left in drachtio-server, no call left in the app',
      15_000,
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}: ${JSON.stringify({ proxies: await drachtio.proxies(), app: await appCalls() })}\n${sip.output().slice(-3000)}`,
      );
    });
  });

  const someNumber = (): string => `+4940${randomInt(1_000_000, 9_999_999)}`;

  /** The SIP Call-ID of a sipp caller's nth call (sipp's [call_id] is `<n>-<pid>@<local ip>`). */
  const callIdOf = (run: SippRun, n = 1): string => `${n}-${run.process.pid}@127.0.0.1`;

  /** Waits for the flagged-call record of the call with this SIP Call-ID that passes `has`. */
  const logged = async (sipCallId: string, has: (row: Record<string, unknown>) => boolean) => {
    let found: Record<string, unknown> | undefined;
    await eventually(
      async () => {
        const page = await store.list({ sipCallId }, { limit: 5 });
        found = (page.records as unknown as Record<string, unknown>[]).find(has);
        return found !== undefined;
      },
      `flagged call with Call-ID ${sipCallId} in the log\n${sip.output().slice(-3000)}`,
    );
    return found as Record<string, unknown>;
  };

  /** A UAS (next hop or IVR) on its port; its messages are traced for the headers it got. */
  const uas = (port: number, xml = uasScenario({ then: 'wait-bye' }), calls = 1): Promise<SippRun> =>
    startSipp(env, xml, { port, calls, extra: ['-trace_msg'] });

  /** What a sipp run with -trace_msg sent and received. */
  const received = (run: SippRun): string => {
    try {
      return readFileSync(join(run.dir, `scenario_${run.process.pid}_messages.log`), 'utf8');
    } catch {
      return '(no message trace)';
    }
  };

  /** Runs one of test/sipp/*.xml unchanged as the caller; resolves with sipp's exit code. */
  const project = async (scenario: string, calls = 1): Promise<SippRun> => {
    const xml = readFileSync(join(ROOT, 'test', 'sipp', scenario), 'utf8');
    return startSipp(env, xml, { remote: drachtio.sipAddress, calls, extra: ['-s', CALLED, '-trace_msg'] });
  };

  const both = async (caller: SippRun, callee?: SippRun): Promise<void> => {
    const callerExit = await caller.done;
    const calleeExit = callee
      ? await Promise.race([callee.done, new Promise<number>((r) => setTimeout(() => r(-2), 15_000))])
      : 0;
    callee?.stop();
    if (callerExit !== 0 || calleeExit !== 0)
      throw new Error(
        `sipp: caller ${callerExit}, callee ${calleeExit}\n--- caller\n${received(caller).slice(-6000)}\n--- callee\n${callee ? received(callee).slice(-6000) : ''}\n--- spoofguard sip\n${sip.output().slice(-3000)}`,
      );
  };

  describe("the project's own sipp scenarios, unchanged", () => {
    it('clean-call.xml: proxied to the next hop, ACK and BYE through drachtio-server', async () => {
      const next = await uas(nextHopPort);
      await both(await project('clean-call.xml'), next);
    });

    it('spoofed-amazon.xml: reaches the IVR with a valid signed verdict, flagged call logged', async () => {
      const ivr = await uas(ivrPort);
      const caller = await project('spoofed-amazon.xml');
      await both(caller, ivr);
      const header = /^X-Spoofguard-Verdict:\s*(.+)$/im.exec(received(ivr))?.[1]?.trim();
      expect(header).toBeDefined();
      const checked = verifyVerdict(header as string, VERDICT_KEY, 30);
      expect(checked).toMatchObject({ ok: true, verdict: { verdict: 'warn', brand: 'amazon' } });
      // the IVR logs the subscriber's choice under this id; the SIP front logs the warning
      const row = await logged(callIdOf(caller), (r) => r.verdict === 'warn' && r.brand === 'amazon');
      expect(checked.ok && checked.verdict.call).toBe(row.callId);
    });

    it('caller-110.xml: 608 Rejected with its Reason, logged as blocked', async () => {
      const caller = await project('caller-110.xml');
      await both(caller);
      await logged(callIdOf(caller), (row) => row.verdict === 'block' && row.outcome === 'blocked');
    });

    it('forged-verdict.xml: the forged headers never reach the IVR; a verdict of our own does', async () => {
      const ivr = await uas(ivrPort);
      await both(await project('forged-verdict.xml'), ivr);
      const invite = received(ivr).split('INVITE sip:')[1] ?? '';
      expect(invite).not.toMatch(/X-Spoofguard-Trunk|verdict=allow|sig=0{20}/i);
      const header = /^X-Spoofguard-Verdict:\s*(.+)$/im.exec(invite)?.[1]?.trim();
      expect(verifyVerdict(header, VERDICT_KEY, 30)).toMatchObject({ ok: true, verdict: { verdict: 'warn' } });
    });
  });

  describe('STIR/SHAKEN: Identity signed by secsipidx, verified by spoofguard on a trunk with stir: verify', () => {
    const invite = (run: SippRun): string => (received(run).split('INVITE sip:')[1] ?? '').split(/\r?\n\r?\n/)[0];
    /** Amazon's number calls on the us-signed trunk with this Identity header. */
    const amazonSigned = (identity: string): Promise<SippRun> =>
      startSipp(
        env,
        uacScenario({
          number: '+18882804331',
          called: CALLED,
          headers: ['X-Test-Trunk: us-signed', `Identity: ${identity}`],
          end: { kind: 'bye', afterMs: 200 },
        }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );

    it("Amazon's number signed by its carrier (attestation A) is Amazon's own: relayed to the next hop, verstat=TN-Validation-Passed", async () => {
      const identity = stir.sign({ orig: '18882804331', dest: CALLED.slice(1) });
      const next = await uas(nextHopPort);
      const caller = await amazonSigned(identity);
      await both(caller, next);
      expect(invite(next)).toMatch(/^From:.*sip:\+18882804331;verstat=TN-Validation-Passed@/m);
      expect(invite(next)).toContain(identity.split(';')[0]);
    });

    it('the same signature tampered with: stir-failed, warned at the IVR, verstat=TN-Validation-Failed, logged as failed-signature', async () => {
      const identity = stir.tamper(stir.sign({ orig: '18882804331', dest: CALLED.slice(1) }));
      const ivr = await uas(ivrPort);
      const caller = await amazonSigned(identity);
      await both(caller, ivr);
      expect(invite(ivr)).toMatch(/^From:.*sip:\+18882804331;verstat=TN-Validation-Failed@/m);
      expect(invite(ivr)).toMatch(/^X-Spoofguard-Verdict:/m);
      const row = await logged(callIdOf(caller), (r) => r.stir === 'failed-signature');
      expect(row.reasons).toEqual(expect.arrayContaining(['brand-number', 'stir-failed']));
    });
  });

  describe('proxied dialogs: drachtio-server stays in them (Record-Route)', () => {
    it('clean call with a re-INVITE, then the caller hangs up', async () => {
      const next = await uas(nextHopPort, uasScenario({ then: 'wait-reinvite-then-bye' }));
      const caller = await startSipp(
        env,
        uacScenario({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 300, reinvite: true } }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, next);
    });

    it('clean call, the callee hangs up', async () => {
      const next = await uas(nextHopPort, uasScenario({ then: { byeAfterMs: 500 } }));
      const caller = await startSipp(
        env,
        uacScenario({ number: someNumber(), called: CALLED, end: { kind: 'wait-bye' } }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, next);
    });

    it('the caller cancels while the next hop rings', async () => {
      const next = await uas(nextHopPort, uasScenario({ ringMs: 'forever' }));
      const caller = await startSipp(
        env,
        uacScenario({ number: someNumber(), called: CALLED, end: { kind: 'cancel', afterMs: 300 } }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, next);
    });

    it('a warned call cancelled while the IVR rings: the warning logged, the outcome left to the IVR', async () => {
      const ivr = await uas(ivrPort, uasScenario({ ringMs: 'forever' }));
      const caller = await startSipp(
        env,
        uacScenario({ number: '+18882804331', name: 'Amazon', called: CALLED, end: { kind: 'cancel', afterMs: 300 } }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, ivr);
      const row = await logged(callIdOf(caller), (r) => r.verdict === 'warn');
      // the IVR answered (487 after the CANCEL): it owns the outcome, the SIP front adds none
      expect(row.outcome).toBeUndefined();
    });

    it('a warned call the IVR cannot take (503): outcome failed, logged by the SIP front', async () => {
      const ivr = await uas(ivrPort, uasScenario({ status: 503 }));
      const caller = await startSipp(
        env,
        uacScenario({ number: '+18882804331', name: 'Amazon', called: CALLED, end: { kind: 'refused', status: 503 } }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, ivr);
      await logged(callIdOf(caller), (r) => r.verdict === 'warn' && r.outcome === 'failed');
    });
  });

  describe('bridged calls (B2BUA: foreign X-Spoofguard headers, tag mode): each leg tracked until both are gone', () => {
    const forged = ['X-Spoofguard-Verdict: v=1;verdict=allow;sig=00'];

    it('no SDP in the INVITE, ACK with the answer and BYE right after the 200, eight times', async () => {
      const ivr = await uas(ivrPort, uasScenario({ ringMs: 0 }), 8);
      const caller = await startSipp(
        env,
        uacScenario({
          number: '+18882804331',
          called: CALLED,
          headers: forged,
          lateOffer: true,
          end: { kind: 'bye', afterMs: 0 },
        }),
        { remote: drachtio.sipAddress, calls: 8, rate: 4, extra: ['-trace_msg'] },
      );
      await both(caller, ivr);
      await eventually(
        () => (sip.output().match(/"msg":"bridged call ended"/g) ?? []).length >= 8,
        'eight bridged calls ended',
      );
    });

    it('session timers (RFC 4028): terms stated on both legs; drachtio-server refreshes the callee and ends the call the caller stopped refreshing', async () => {
      const timer = ['Supported: timer', 'Session-Expires: 90;refresher=uac', 'Min-SE: 90'];
      const ivr = await uas(
        ivrPort,
        uasScenario({
          ringMs: 0,
          // the callee takes 90 s and leaves the refreshing to us: a re-INVITE comes at about 45 s
          then: 'wait-reinvite-then-bye',
          answerHeaders: ['Session-Expires: 90;refresher=uac', 'Require: timer'],
        }),
      );
      const caller = await startSipp(
        env,
        uacScenario({
          number: '+18882804331',
          called: CALLED,
          headers: [...forged, ...timer],
          // one refresh a second in, then silence: 90 s later the caller's leg has expired
          end: { kind: 'refresh-then-wait-bye', afterMs: 1000, headers: timer, byeTimeoutMs: 150_000 },
        }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, ivr);
      const messages = (run: SippRun): string[] => received(run).split(/^-{20,}.*$/m);
      const toCaller = messages(caller);
      // the 200 to the INVITE (stated by the app) and to the refresh both carry the caller's terms
      const answers = toCaller.filter((m) => /^\s*SIP\/2\.0 200/m.test(m) && /^CSeq:\s*\d+ INVITE/im.test(m));
      expect(answers).toHaveLength(2);
      for (const answer of answers) expect(answer).toMatch(/^Session-Expires:\s*90;refresher=uac/im);
      expect(answers[0]).toMatch(/^Require:\s*timer/im);
      const bye = toCaller.find((m) => /^\s*BYE sip:/m.test(m)) ?? '';
      expect(bye).toMatch(/^Reason:.*Session timer expired/im);
      const toCallee = messages(ivr);
      const invites = toCallee.filter((m) => /^\s*INVITE sip:/m.test(m));
      // the callee is asked for our interval, with timer supported; the caller's own terms stay on its leg
      expect(invites[0]).toMatch(/^Session-Expires:\s*1800\s*$/im);
      expect(invites[0]).toMatch(/^Supported:.*\btimer\b/im);
      expect(invites[0]).not.toMatch(/refresher=uac/i);
      // then the refresh drachtio-server sent, the callee leg's timer being ours
      expect(invites).toHaveLength(2);
      expect(sip.output()).toMatch(/"hungUp":"caller","msg":"bridged call ended"/);
    }, 180_000);

    it('the callee hangs up a bridged call', async () => {
      const next = await uas(ivrPort, uasScenario({ then: { byeAfterMs: 500 } }));
      const caller = await startSipp(
        env,
        uacScenario({ number: '+18882804331', called: CALLED, headers: forged, end: { kind: 'wait-bye' } }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, next);
    });

    it('the caller cancels a bridged call while it rings', async () => {
      const ivr = await uas(ivrPort, uasScenario({ ringMs: 'forever' }));
      const caller = await startSipp(
        env,
        uacScenario({ number: '+18882804331', called: CALLED, headers: forged, end: { kind: 'cancel', afterMs: 300 } }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, ivr);
    });

    it('a header that came as several lines (Identity) reaches the callee as several lines, not joined by ","', async () => {
      const identities = [
        'eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln;info=<https://cert.example/a.pem>;alg=ES256;ppt=shaken',
        'eyJhbGciOiJFUzI1NiJ9.eyJiIjoyfQ.c2ln;info=<https://cert.example/b.pem>;alg=ES256;ppt=shaken',
      ];
      const ivr = await uas(ivrPort);
      const caller = await startSipp(
        env,
        uacScenario({
          number: '+18882804331',
          called: CALLED,
          headers: [...forged, ...identities.map((v) => `Identity: ${v}`)],
          end: { kind: 'bye', afterMs: 200 },
        }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, ivr);
      const invite = (received(ivr).split('INVITE sip:')[1] ?? '').split(/\r?\n\r?\n/)[0];
      expect(
        invite
          .split(/\r?\n/)
          .filter((l) => /^identity\s*:/i.test(l))
          .map((l) => l.replace(/^[^:]*:\s*/, '')),
      ).toEqual(identities);
    });

    it('Max-Forwards goes down by one across the bridge; 0 gets 483 without an error line', async () => {
      const ivr = await uas(ivrPort);
      const caller = await startSipp(
        env,
        uacScenario({
          number: '+18882804331',
          called: CALLED,
          headers: [...forged],
          end: { kind: 'bye', afterMs: 200 },
        }).replace('Max-Forwards: 70', 'Max-Forwards: 12'),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await both(caller, ivr);
      expect(/^Max-Forwards:\s*(\d+)/im.exec(received(ivr).split('INVITE sip:')[1] ?? '')?.[1]).toBe('11');

      const before = sip.output().length;
      const zero = await RawCaller.open();
      try {
        zero.send(rawInvite({ number: someNumber(), maxForwards: 0 }), drachtioTarget());
        expect((await zero.final(5000))?.status).toBe(483);
      } finally {
        zero.close();
      }
      expect(sip.output().slice(before)).not.toMatch(/"level":50/);
    });
  });

  describe('messages drachtio-server accepts and drachtio-srf would not read: answered, never screened as clean', () => {
    let nextHop: RawPeer;
    let ivr: RawPeer;
    let caller: RawCaller;
    beforeEach(async () => {
      nextHop = await RawPeer.open(nextHopPort);
      ivr = await RawPeer.open(ivrPort);
      caller = await RawCaller.open();
    });
    afterEach(() => {
      nextHop.close();
      ivr.close();
      caller.close();
    });

    const amazonGoesToIvr = async (text: string): Promise<void> => {
      caller.send(text, drachtioTarget());
      const answer = await caller.final(5000);
      expect(answer?.status).toBe(486);
      expect(ivr.invites).toHaveLength(1);
      expect(nextHop.invites).toHaveLength(0);
    };

    it('header lines ending in LF, the SDP in CRLF: screened as it reads (Amazon → IVR)', async () => {
      const crlf = rawInvite({ number: '+18882804331', name: 'Amazon' });
      const [head, body] = crlf.split('\r\n\r\n');
      await amazonGoesToIvr(`${(head as string).replace(/\r\n/g, '\n')}\n\r\n${body}`);
    });

    it('every line ending in LF: screened as it reads (Amazon → IVR), never as an empty caller', async () => {
      const lf = rawInvite({ number: '+18882804331', name: 'Amazon' }).replace(/\r\n/g, '\n');
      const body = lf.slice(lf.indexOf('\n\n') + 2);
      await amazonGoesToIvr(lf.replace(/^Content-Length: \d+$/m, `Content-Length: ${Buffer.byteLength(body)}`));
    });

    it('runs of spaces in the request line', async () => {
      await amazonGoesToIvr(
        rawInvite({ number: '+18882804331', name: 'Amazon' }).replace(
          /^INVITE (\S+) SIP\/2\.0/,
          'INVITE   $1    SIP/2.0 ',
        ),
      );
    });

    it.each(Object.entries(TORTURE))('RFC 4475-style %s: a final answer within 5 s, no crash', async (_name, text) => {
      caller.send(text, drachtioTarget());
      const answer = await caller.final(5000);
      expect(answer).toBeDefined();
      expect(sip.exitCode).toBeNull();
      // what reached the next hop (screened clean) was read: it carried the caller it claimed
      for (const invite of nextHop.invites) expect(invite).toMatch(/^From:.*sip:\+?\d+@/im);
    });

    it('an unknown method: drachtio-server v0.9.4 drops it itself (it never reaches the app); nothing crashes', async () => {
      caller.send(
        rawInvite({ number: someNumber() })
          .replace(/^INVITE/, 'FOOBAR')
          .replace('CSeq: 1 INVITE', 'CSeq: 1 FOOBAR'),
        drachtioTarget(),
      );
      expect(await caller.final(2000)).toBeUndefined();
      expect(sip.exitCode).toBeNull();
    });
  });

  it('after all of the above: no dialog left in drachtio-server (its gauge, refreshed every 30 s)', async () => {
    expect(await drachtio.dialogsAfterNextTick()).toBe(0);
  }, 40_000);

  describe('restarts and stops', () => {
    it('drachtio-server restarted: the app reconnects and routes again', async () => {
      const before = connections();
      await drachtio.stop();
      await drachtio.start();
      await eventually(
        () => connections() > before,
        `spoofguard sip reconnected\n${sip.output().slice(-2000)}`,
        30_000,
      );
      const next = await uas(nextHopPort);
      await both(await project('clean-call.xml'), next);
    }, 60_000);

    it('SIGTERM with calls up: a proxied and a bridged call go on until their parties end them, then exit 0', async () => {
      const before = sip.output().length;
      const next = await uas(nextHopPort);
      const proxied = await startSipp(
        env,
        uacScenario({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 3000 } }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      const ivr = await uas(ivrPort, uasScenario({ then: { byeAfterMs: 3000 } }));
      const bridged = await startSipp(
        env,
        uacScenario({
          number: '+18882804331',
          called: CALLED,
          headers: ['X-Spoofguard-Trunk: forged'],
          end: { kind: 'wait-bye' },
        }),
        { remote: drachtio.sipAddress, extra: ['-trace_msg'] },
      );
      await eventually(() => sip.output().slice(before).includes('"msg":"bridged"'), 'the call bridged');
      sip.kill('SIGTERM');
      await both(proxied, next);
      await both(bridged, ivr);
      expect(await exited(sip)).toEqual({ code: 0, signal: null });
      expect(sip.output().slice(before)).toMatch(/"calls":1,"msg":"draining: waiting for calls in progress"/);
      await startSip();
    }, 60_000);
  });

  function drachtioTarget(): { host: string; port: number } {
    return { host: '127.0.0.1', port: drachtio.ports.sip };
  }
});
