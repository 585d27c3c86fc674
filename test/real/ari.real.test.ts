import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../services/common/config';
import { openLogStore, type LogStore } from '../../services/flagged-log';
import { openListAdmin, openScreening } from '../../services/screening';
import { exited, spawnSpoofguard } from '../support/child';
import { quietLogger, testConfig } from '../support/config';
import { freePort, PrivateRedis } from '../support/redis';
import { AriTestServer } from '../support/ari-server/server';
import { RealAsterisk } from './support/asterisk';
import { EventRecorder } from './support/event-recorder';
import {
  type CallerEnd,
  callerScenario,
  type SippRun,
  type SubscriberAnswer,
  startSipp,
  subscriberScenario,
} from './support/sipp';
import { type StirFixture, stirFixture } from './support/stir';
import { describeReal, eventually } from './support/suite';

/**
 * The ARI app on a real Asterisk 22: the project's own asterisk/*.conf (addresses, ports and the ARI password
 * rewritten), a Redis of its own, `spoofguard serve` as a child process, sipp as caller (through the carrier
 * trunk) and as subscriber (RFC 2833 digits). After every test: no channel and no bridge left in Asterisk.
 */
/** Three subscriber phones, told apart by their address (sipp -i): two subscribers' and one of no subscriber. */
const PHONE_1001 = '127.0.0.3';
const PHONE_1002 = '127.0.0.4';
const PHONE_UNKNOWN = '127.0.0.5';
const PHONES = [
  ['phone-1001', PHONE_1001],
  ['phone-1002', PHONE_1002],
  ['phone-9999', PHONE_UNKNOWN],
]
  .map(
    ([name, ip]) => `
[${name}]
type = endpoint
context = from-subscribers
disallow = all
allow = alaw,ulaw
direct_media = no

[${name}]
type = identify
endpoint = ${name}
match = ${ip}
`,
  )
  .join('');
const OTHER_SUBSCRIBER = '+4930901821';

describeReal('asterisk', 'ARI app on a real Asterisk 22', (env) => {
  let asterisk: RealAsterisk;
  let redis: PrivateRedis;
  let config: Config;
  let store: LogStore;
  let spoofguard: ReturnType<typeof spawnSpoofguard>;
  let subscriberPort: number;
  let consolePort: number;
  let stir: StirFixture;
  const CALLED = '+4930901820';
  // English prompts: the warning is 12.4 s, the choices 7 s
  const WARNING_MS = 13_000;

  const startSpoofguard = async (): Promise<void> => {
    spoofguard = spawnSpoofguard(['serve'], config);
    await appConnected(asterisk, `spoofguard connected to Asterisk\n${spoofguard.output().slice(-2000)}`);
  };

  beforeAll(async () => {
    subscriberPort = await freePort();
    asterisk = new RealAsterisk(env, { subscriberPort, extra: { pjsip: PHONES } });
    redis = await PrivateRedis.start({ persistent: true }); // its lists survive the outage test
    await asterisk.start();
    consolePort = await freePort();
    stir = await stirFixture();
    config = testConfig({
      console: { port: consolePort },
      // Asterisk, sipp and spoofguard share two cores: a look-up past 50 ms would fail open and skip a warning
      screening: { budgetMs: 500 },
      redis: { url: redis.url, connectTimeoutMs: 300 },
      ari: {
        url: asterisk.ariUrl,
        username: asterisk.ariUser,
        password: asterisk.ariPassword,
        defaultLanguage: 'en',
        digitTimeoutMs: 1000,
        dialTimeoutSec: 3,
        drainTimeoutMs: 20_000,
      },
      // whose phone each endpoint is: phone-9999 belongs to no subscriber
      selfService: { subscribers: { 'phone-1001': CALLED, 'phone-1002': OTHER_SUBSCRIBER } },
      // the dialplan's trunk verifies STIR/SHAKEN itself: the dialplan passes the Identity header to Stasis
      trunks: {
        'de-national': {
          country: 'DE',
          international: false,
          identityHeaders: ['P-Asserted-Identity', 'Remote-Party-ID', 'From'],
          stir: 'verify',
        },
      },
      stir: stir.settings,
    });
    store = await openLogStore(config);
    await startSpoofguard();
  }, 90_000);

  afterAll(async () => {
    if (spoofguard) {
      spoofguard.kill('SIGKILL');
      await exited(spoofguard);
    }
    await store?.close();
    await asterisk?.close();
    await redis?.stop();
    await stir?.close();
  });

  afterEach(async () => {
    // nothing may be left up in Asterisk after a call, whatever path it took
    await eventually(async () => {
      const left = await asterisk.leftovers();
      return left.channels === 0 && left.bridges === 0;
    }, 'no channels and no bridges left in Asterisk');
  });

  /** Waits until the spoofguard Stasis app is registered on `box` (it connected, or reconnected). */
  const appConnected = (box: RealAsterisk, what: string): Promise<void> =>
    eventually(
      async () =>
        ((await (await box.ari('GET', '/applications')).json()) as { name: string }[]).some(
          (a) => a.name === 'spoofguard',
        ),
      what,
      30_000,
    );

  const someNumber = (): string => `+4930${randomInt(1_000_000, 9_999_999)}`;

  /** One call: the subscriber (if any) waits on its port, the caller calls through the trunk. */
  async function call(
    caller: { number: string; name?: string; called?: string; end: CallerEnd; headers?: string[] },
    subscriber?: SubscriberAnswer,
    calls = 1,
    via: RealAsterisk = asterisk,
  ) {
    const sub = subscriber
      ? await startSipp(env, subscriberScenario(subscriber, env.dtmfPcaps), {
          port: subscriberPort,
          calls,
          extra: ['-trace_msg'],
        })
      : undefined;
    const uac = await startSipp(env, callerScenario({ called: CALLED, ...caller }), {
      remote: `127.0.0.1:${via.ports.sip}`,
    });
    const callerExit = await uac.done;
    const subscriberExit = sub
      ? await Promise.race([sub.done, new Promise<number>((r) => setTimeout(() => r(-2), 15_000))])
      : 0;
    sub?.stop();
    if (callerExit !== 0 || subscriberExit !== 0)
      throw new Error(
        `sipp: caller ${callerExit}, subscriber ${subscriberExit}\n--- caller\n${uac.output().slice(0, 3000)}\n--- subscriber\n${sub?.output().slice(0, 3000)}\n--- spoofguard\n${spoofguard.output().slice(-3000)}`,
      );
    return sub;
  }

  /** The INVITE a sipp run (with -trace_msg) received first. */
  const inviteOf = (run: SippRun | undefined): string => {
    if (!run) return '';
    try {
      const log = readFileSync(join(run.dir, `scenario_${run.process.pid}_messages.log`), 'utf8');
      return (log.split('INVITE sip:')[1] ?? '').split(/\r?\n\r?\n/)[0];
    } catch {
      return '(no message trace)';
    }
  };

  const outcomeOf = async (caller: string, outcome: string): Promise<Record<string, unknown>> => {
    let found: Record<string, unknown> | undefined;
    await eventually(
      async () => {
        const page = await store.list({ caller }, { limit: 5 });
        found = page.records.find((r) => r.outcome === outcome) as Record<string, unknown> | undefined;
        return found !== undefined;
      },
      `outcome ${outcome} of ${caller} in the flagged-call log\n${spoofguard.output().slice(-3000)}`,
    );
    return found as Record<string, unknown>;
  };

  describe('clean calls: handed back, dialled by the dialplan', () => {
    it('bridged, the caller hangs up', async () => {
      await call(
        { number: someNumber(), name: 'Erika Mustermann', end: { kind: 'bye', afterMs: 1000 } },
        {
          kind: 'answer',
          then: 'wait-bye',
        },
      );
    });

    it('bridged, the subscriber hangs up', async () => {
      await call(
        { number: someNumber(), end: { kind: 'wait-bye', timeoutMs: 20_000 } },
        {
          kind: 'answer',
          then: { byeAfterMs: 1000 },
        },
      );
    });
  });

  describe('warned calls: the subscriber hears the warning and chooses', () => {
    it('1 after the warning: bridged, then released by the caller; outcome accepted', async () => {
      const number = someNumber();
      await call(
        { number, name: 'Amazon', end: { kind: 'bye', afterMs: 1500 } },
        {
          kind: 'answer',
          digit: '1',
          digitAfterMs: WARNING_MS + 1000,
          then: 'wait-bye',
        },
      );
      const row = await outcomeOf(number, 'accepted');
      expect(row).toMatchObject({ verdict: 'warn', brand: 'amazon', source: 'ari' });
    }, 60_000);

    it('2: the caller gets busy (486); outcome rejected', async () => {
      const number = someNumber();
      await call(
        { number, name: 'Amazon', end: { kind: 'refused', status: 486 } },
        {
          kind: 'answer',
          digit: '2',
          digitAfterMs: 1500,
          then: 'wait-bye',
        },
      );
      await outcomeOf(number, 'rejected');
    });

    it('3: rejected and reported', async () => {
      const number = someNumber();
      await call(
        { number, name: 'Amazon', end: { kind: 'refused', status: 486 } },
        {
          kind: 'answer',
          digit: '3',
          digitAfterMs: 1500,
          then: 'wait-bye',
        },
      );
      await outcomeOf(number, 'reported');
    });

    it('no key: the choices once more, then rejected', async () => {
      const number = someNumber();
      await call(
        { number, name: 'Amazon', end: { kind: 'refused', status: 486 } },
        { kind: 'answer', then: 'wait-bye' },
      );
      await outcomeOf(number, 'rejected');
    }, 90_000);

    it('1 pressed during the warning is not counted (2 later is)', async () => {
      const number = someNumber();
      // the subscriber presses 1 a second into the warning and then nothing: the call is rejected, not connected
      await call(
        { number, name: 'Amazon', end: { kind: 'refused', status: 486 } },
        {
          kind: 'answer',
          digit: '1',
          digitAfterMs: 1000,
          then: 'wait-bye',
        },
      );
      await outcomeOf(number, 'rejected');
    }, 90_000);
  });

  describe('self-service from the subscriber’s own phone: *71 "I expect a call from Amazon", *72 ends it', () => {
    const AMAZON = '+12062661000';

    /** A feature code dialled from a phone (a loopback address pjsip.conf identifies as that phone). */
    const featureCode = async (
      code: string,
      phoneIp: string,
      digit?: { digit: string; afterMs: number },
    ): Promise<void> => {
      const phone = await startSipp(
        env,
        callerScenario({
          number: 'phone',
          called: code,
          end: {
            kind: 'wait-bye',
            timeoutMs: 60_000,
            ...(digit ? { digit: { ...digit, pcaps: env.dtmfPcaps } } : {}),
          },
        }),
        { remote: `127.0.0.1:${asterisk.ports.sip}`, localIp: phoneIp },
      );
      const exit = await phone.done;
      if (exit !== 0)
        throw new Error(
          `feature code ${code} from ${phoneIp}: sipp ${exit}\n${phone.output().slice(0, 3000)}\n${spoofguard.output().slice(-3000)}`,
        );
    };
    /** The outcomes logged for a caller, oldest first. */
    const outcomes = async (caller: string): Promise<string[]> =>
      (await store.list({ caller }, { limit: 50 })).records.reverse().map((r) => r.outcome ?? 'pending');
    const waitOutcomes = async (caller: string, expected: string[]): Promise<void> => {
      let last: string[] = [];
      await eventually(
        async () => JSON.stringify((last = await outcomes(caller))) === JSON.stringify(expected),
        `outcomes of ${caller}: ${JSON.stringify(expected)} (have ${JSON.stringify(last)})`,
        15_000,
      );
    };
    /** Amazon calls the subscriber: warned (rejected with 2) or let through (answered, no warning). */
    const warned = (called = CALLED) =>
      call(
        { number: AMAZON, called, end: { kind: 'refused', status: 486 } },
        { kind: 'answer', digit: '2', digitAfterMs: 1500, then: 'wait-bye' },
      );
    const letThrough = () =>
      call({ number: AMAZON, end: { kind: 'bye', afterMs: 1000 } }, { kind: 'answer', then: 'wait-bye' });

    it('after *71 Amazon rings through unwarned (logged expected-by-subscriber); another subscriber is still warned; after *72 warned again', async () => {
      await warned();
      await waitOutcomes(AMAZON, ['rejected']);
      await featureCode('*71', PHONE_1001);
      await letThrough();
      await waitOutcomes(AMAZON, ['rejected', 'expected-by-subscriber']);
      const record = (await store.list({ caller: AMAZON, outcome: 'expected-by-subscriber' }, { limit: 1 })).records[0];
      expect(record).toMatchObject({ verdict: 'allow', brand: 'amazon' });
      expect(record.reasons).toContain('subscriber-allowlisted');
      // the other subscriber never said so
      await warned(OTHER_SUBSCRIBER);
      await waitOutcomes(AMAZON, ['rejected', 'expected-by-subscriber', 'rejected']);
      await featureCode('*72', PHONE_1001);
      await warned();
      await waitOutcomes(AMAZON, ['rejected', 'expected-by-subscriber', 'rejected', 'rejected']);
    }, 120_000);

    it('once the window is over, the call is warned again', async () => {
      await featureCode('*71', PHONE_1002);
      const lists = await openListAdmin(config, quietLogger());
      try {
        const record = await lists.admin.subscriber(OTHER_SUBSCRIBER.slice(1));
        const allowance = record.allow.find((a) => a.what === 'brand:amazon');
        // the window *71 opened: expectCallMinutes (120) from now
        expect(allowance?.expiresAt).toBeGreaterThan(Date.now() + 119 * 60_000);
        expect(allowance?.expiresAt).toBeLessThanOrEqual(Date.now() + 120 * 60_000);
        // two hours later, as the record sees it: its end moved to a moment ago
        await lists.admin.allowForSubscriber(OTHER_SUBSCRIBER.slice(1), 'brand:amazon', Date.now() - 1000);
      } finally {
        await lists.close();
      }
      const before = (await outcomes(AMAZON)).length;
      await warned(OTHER_SUBSCRIBER);
      await eventually(
        async () => (await outcomes(AMAZON)).slice(before).join() === 'rejected',
        'the call after the window warned and rejected',
        15_000,
      );
    }, 90_000);

    it('*73: the advice, then 1 reports the last warned call the subscriber took (reported-after, counted like key 3)', async () => {
      const caller = '+18775863230';
      // a warned call the subscriber takes (1 after the warning)
      await call(
        { number: caller, end: { kind: 'bye', afterMs: WARNING_MS + 4000 } },
        { kind: 'answer', digit: '1', digitAfterMs: WARNING_MS + 1000, then: 'wait-bye' },
      );
      await eventually(async () => (await outcomes(caller)).join() === 'accepted', 'the taken call logged', 15_000);
      // the advice (28 s in English), the offer (4 s), then 1
      await featureCode('*73', PHONE_1001, { digit: '1', afterMs: 31_000 });
      await eventually(async () => (await outcomes(caller)).join() === 'reported-after', 'reported afterwards', 15_000);
      const screening = await openScreening(config, quietLogger());
      try {
        expect(await screening.reports.get(caller)).toMatchObject({ count: 1, brand: 'amazon' });
      } finally {
        await screening.close();
      }
      // reported once: the offer is not made again for the same call
      expect(spoofguard.output()).toContain('subscriber reported the last warned call they took');
    }, 150_000);

    it('a phone that belongs to no subscriber cannot set an allowance for anyone', async () => {
      await featureCode('*71', PHONE_UNKNOWN);
      const lists = await openListAdmin(config, quietLogger());
      try {
        for (const number of [CALLED, OTHER_SUBSCRIBER]) {
          const record = await lists.admin.subscriber(number.slice(1));
          expect(
            record.allow.filter((a) => a.what === 'brand:amazon' && (a.expiresAt === 0 || a.expiresAt > Date.now())),
          ).toEqual([]);
        }
      } finally {
        await lists.close();
      }
      expect(spoofguard.output()).toContain('self-service refused: the endpoint belongs to no subscriber');
      const before = (await outcomes(AMAZON)).length;
      await warned();
      await eventually(
        async () => (await outcomes(AMAZON)).slice(before).join() === 'rejected',
        'still warned',
        15_000,
      );
    }, 90_000);
  });

  describe('STIR/SHAKEN: the dialplan passes the Identity header (signed by secsipidx) to the app', () => {
    const AMAZON = '+18662161072';

    it("Amazon's number signed by its carrier (A) is handed back unwarned; the same signature tampered with is warned and logged as failed-signature", async () => {
      const identity = stir.sign({ orig: AMAZON.slice(1), dest: CALLED.slice(1) });
      // signed: straight to the subscriber, who answers and hears no warning (the caller hangs up after 1 s)
      const signed = await call(
        { number: AMAZON, headers: [`Identity: ${identity}`], end: { kind: 'bye', afterMs: 1000 } },
        { kind: 'answer', then: 'wait-bye' },
      );
      // the dialplan's pre-dial handler put the verified number with its verstat on the subscriber's leg
      expect(inviteOf(signed)).toMatch(/^P-Asserted-Identity:\s*<tel:\+18662161072;verstat=TN-Validation-Passed>/m);
      // tampered: the warning, then 2 (reject); the app's own leg to the subscriber carries the failure
      const tampered = await call(
        { number: AMAZON, headers: [`Identity: ${stir.tamper(identity)}`], end: { kind: 'refused', status: 486 } },
        { kind: 'answer', digit: '2', digitAfterMs: 1500, then: 'wait-bye' },
      );
      expect(inviteOf(tampered)).toMatch(/^P-Asserted-Identity:\s*<tel:\+18662161072;verstat=TN-Validation-Failed>/m);
      const row = await outcomeOf(AMAZON, 'rejected');
      expect(row).toMatchObject({ verdict: 'warn', brand: 'amazon', stir: 'failed-signature' });
      expect(row.reasons).toEqual(expect.arrayContaining(['brand-number', 'stir-failed']));
      // the signed call was never flagged: the only record of this caller is the tampered one
      expect((await store.list({ caller: AMAZON }, { limit: 5 })).records).toHaveLength(1);
    }, 60_000);
  });

  describe('the caller hangs up', () => {
    it('while the subscriber rings: the subscriber gets a CANCEL; outcome caller-hung-up', async () => {
      const number = someNumber();
      await call({ number, name: 'Amazon', end: { kind: 'cancel', afterMs: 1000 } }, { kind: 'no-answer' });
      await outcomeOf(number, 'caller-hung-up');
    });

    it('during the warning: the subscriber hears a notice and is released', async () => {
      const number = someNumber();
      await call(
        { number, name: 'Amazon', end: { kind: 'cancel', afterMs: 3000 } },
        { kind: 'answer', then: 'wait-bye' },
      );
      await outcomeOf(number, 'caller-hung-up');
    });
  });

  describe('the subscriber', () => {
    it('is busy: the caller gets 486', async () => {
      const number = someNumber();
      await call({ number, name: 'Amazon', end: { kind: 'refused', status: 486 } }, { kind: 'busy' });
      await outcomeOf(number, 'rejected');
    });

    it('does not answer: the caller gets 480 after ari.dialTimeoutSec; outcome unanswered', async () => {
      const number = someNumber();
      await call({ number, name: 'Amazon', end: { kind: 'refused', status: 480 } }, { kind: 'no-answer' });
      await outcomeOf(number, 'unanswered');
    });
  });

  it('hostile called numbers are refused with 484 for clean, warned and blocked callers: nothing but the subscriber endpoint is ever dialled', async () => {
    // what the caller would have Asterisk call besides: a SIP address of its choosing, listened to here
    const evil = createSocket('udp4');
    let reachedEvil = 0;
    evil.on('message', () => reachedEvil++);
    const evilPort = await freePort();
    await new Promise<void>((resolve) => evil.bind(evilPort, '127.0.0.1', resolve));
    const dialString = `PJSIP/x%40127.0.0.1%3A${evilPort}`;
    const hostile = [
      `+4930901820&${dialString}`,
      `4930901820&${dialString}`,
      `%2B4930901820%26PJSIP%2Fx%40127.0.0.1%3A${evilPort}`,
      '+4930901820,,,',
      '+49309018(20)',
      '+4930901820/x',
      '4'.repeat(200),
    ];
    const before = await store.count({});
    try {
      for (const caller of [
        { number: someNumber(), name: 'Erika Mustermann', nul: 486 },
        { number: someNumber(), name: 'Amazon', nul: 486 },
        { number: '110', name: 'Polizei', nul: 608 },
      ]) {
        for (const called of hostile) await call({ ...caller, called, end: { kind: 'refused', status: 484 } });
        // an escaped NUL ends the number where Asterisk reads it: the subscriber's own number, at the subscriber
        // endpoint (busy here), or the block
        const subscriber = caller.nul === 486 ? ({ kind: 'busy' } as const) : undefined;
        await call({ ...caller, called: `${CALLED}%00`, end: { kind: 'refused', status: caller.nul } }, subscriber);
      }
    } finally {
      evil.close();
    }
    expect(reachedEvil).toBe(0);
    // refused before Stasis: the app saw none of them; only the two flagged NUL calls are logged, both with
    // the number Asterisk dialled (the subscriber's, pseudonymised in the log)
    await eventually(async () => (await store.count({})) === before + 2, 'the flagged NUL calls logged');
    const { records } = await store.list({}, { limit: 2 });
    expect(records[0].called).toEqual(expect.any(String));
    expect(records[1].called).toBe(records[0].called);
  }, 120_000);

  it("two Asterisk boxes sharing one log write a record each: call ids carry each box's entity id", async () => {
    const entityOf = async (box: RealAsterisk): Promise<string> =>
      ((await (await box.ari('GET', '/asterisk/info?only=system')).json()) as { system: { entity_id: string } }).system
        .entity_id;
    const other = new RealAsterisk(env, { subscriberPort, entityId: '02:00:5e:00:53:02' });
    await other.start();
    const second = spawnSpoofguard(['ari'], { ...config, ari: { ...config.ari, url: other.ariUrl } });
    try {
      await appConnected(other, `the second spoofguard connected\n${second.output().slice(-2000)}`);
      const [first, next] = [await entityOf(asterisk), await entityOf(other)];
      expect(first).not.toBe(next);
      const number = someNumber();
      const warnedAndRejected = { kind: 'answer', digit: '2', digitAfterMs: 1500, then: 'wait-bye' } as const;
      await call({ number, name: 'Amazon', end: { kind: 'refused', status: 486 } }, warnedAndRejected);
      await call({ number, name: 'Amazon', end: { kind: 'refused', status: 486 } }, warnedAndRejected, 1, other);
      await eventually(
        async () => (await store.count({ caller: number, outcome: 'rejected' })) === 2,
        'a record for each call, each with its outcome',
      );
      const { records } = await store.list({ caller: number }, { limit: 5 });
      expect(records.map((r) => r.callId.replace(/:[^:]+$/, '')).sort()).toEqual(
        [`ari:${first}`, `ari:${next}`].sort(),
      );
    } finally {
      second.kill('SIGTERM');
      await exited(second);
      await other.close();
    }
  }, 90_000);

  it('a blocked call is refused with 608 Rejected and logged', async () => {
    const before = await store.count({ outcome: 'blocked' });
    await call({ number: '110', name: 'Polizei', end: { kind: 'refused', status: 608 } });
    await eventually(async () => (await store.count({ outcome: 'blocked' })) === before + 1, 'blocked call logged');
  });

  it('overload bypass: while SPOOFGUARD_BYPASS_UNTIL lies ahead, the dialplan dials SPOOFGUARD_BYPASS_SHARE percent of calls past Stasis and counts them', async () => {
    const global = async (variable: string): Promise<string> =>
      ((await (await asterisk.ari('GET', `/asterisk/variable?variable=${variable}`)).json()) as { value: string })
        .value;
    const set = (variable: string, value: string | number): Promise<Response> =>
      asterisk.ari('POST', `/asterisk/variable?variable=${variable}&value=${value}`);
    // an unset global reads as '' (200, not 404), as the ARI test server answers too: the app's first count
    expect(await global('SPOOFGUARD_NEVER_SET')).toBe('');
    const counted = Number(await global('SPOOFGUARD_BYPASSED')) || 0;
    const until = Math.floor(Date.now() / 1000) + 30;
    await set('SPOOFGUARD_BYPASS_SHARE', 100);
    await set('SPOOFGUARD_BYPASS_UNTIL', until);
    try {
      // Amazon's number: screened it would be warned and the caller not answered before a key; bypassed it
      // is dialled and bridged at once
      await call(
        { number: '+498003638469', name: 'Amazon', end: { kind: 'bye', afterMs: 1000 } },
        { kind: 'answer', then: 'wait-bye' },
      );
      expect(Number(await global('SPOOFGUARD_BYPASSED'))).toBe(counted + 1);
      // a share of 0 (spoofguard keeping up again, its episode not yet over): every call is screened
      await set('SPOOFGUARD_BYPASS_SHARE', 0);
      const screened = someNumber();
      await call({ number: screened, name: 'Amazon', end: { kind: 'refused', status: 480 } }, { kind: 'no-answer' });
      await outcomeOf(screened, 'unanswered');
    } finally {
      // switched off (what spoofguard does when the overload is over): calls are screened again
      await set('SPOOFGUARD_BYPASS_UNTIL', 0);
    }
    await set('SPOOFGUARD_BYPASS_SHARE', 100);
    const number = someNumber();
    await call({ number, name: 'Amazon', end: { kind: 'refused', status: 480 } }, { kind: 'no-answer' });
    await outcomeOf(number, 'unanswered');
    expect(Number(await global('SPOOFGUARD_BYPASSED'))).toBe(counted + 1);
  });

  it('Redis stopped: calls go through unwarned (fail open); Redis back: warned again', async () => {
    await redis.stop();
    // what the app holds in memory still screens for up to screening.localIndexMaxAgeMs after its lists were
    // last confirmed (tested in test/screening/local-index.test.ts); past that, screening fails open
    await new Promise((r) => setTimeout(r, config.screening.localIndexMaxAgeMs + 500));
    try {
      await call(
        { number: someNumber(), name: 'Amazon', end: { kind: 'bye', afterMs: 500 } },
        {
          kind: 'answer',
          then: 'wait-bye',
        },
      );
      expect(spoofguard.output()).toContain('screening degraded');
    } finally {
      await redis.start();
    }
    // ready again once its Redis answers (the readiness check pings it)
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${consolePort}/health/ready`).catch(() => undefined))?.status === 200,
      'spoofguard ready again',
      30_000,
    );
    const number = someNumber();
    await call(
      { number, name: 'Amazon', end: { kind: 'refused', status: 486 } },
      { kind: 'answer', digit: '2', digitAfterMs: 1000, then: 'wait-bye' },
    );
    await outcomeOf(number, 'rejected');
  }, 120_000);

  it('Asterisk restarted while a call sits in the warning: that call keeps one record, with an outcome', async () => {
    const number = someNumber();
    const sub = await startSipp(env, subscriberScenario({ kind: 'answer', then: 'wait-bye' }, env.dtmfPcaps), {
      port: subscriberPort,
    });
    const uac = await startSipp(
      env,
      callerScenario({ number, name: 'Amazon', called: CALLED, end: { kind: 'wait-bye', timeoutMs: 60_000 } }),
      { remote: `127.0.0.1:${asterisk.ports.sip}` },
    );
    try {
      // the subscriber answered (its leg is Up) and hears the warning, which plays from the answer on
      await eventually(
        async () =>
          ((await (await asterisk.ari('GET', '/channels')).json()) as { id: string; state: string }[]).some(
            (c) => c.id.endsWith('-sub') && c.state === 'Up',
          ),
        'the subscriber answered',
        20_000,
      );
      await eventually(async () => (await store.count({ caller: number })) === 1, 'the warned call logged');
      await asterisk.restart();
    } finally {
      uac.stop();
      sub.stop();
    }
    await appConnected(asterisk, 'spoofguard reconnected');
    // the call's legs are gone with the old Asterisk: its one record gets an outcome, no second record appears
    await eventually(
      async () => (await store.list({ caller: number }, { limit: 5 })).records.some((r) => r.outcome !== undefined),
      `an outcome for the call cut by the restart\n${spoofguard.output().slice(-3000)}`,
      30_000,
    );
    const { records } = await store.list({ caller: number }, { limit: 5 });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ verdict: 'warn', brand: 'amazon' });
  }, 120_000);

  it('Asterisk restarted: spoofguard reconnects by itself and takes calls again', async () => {
    await asterisk.restart();
    await appConnected(asterisk, 'spoofguard reconnected');
    const number = someNumber();
    await call(
      { number, name: 'Amazon', end: { kind: 'refused', status: 486 } },
      {
        kind: 'answer',
        digit: '2',
        digitAfterMs: 1000,
        then: 'wait-bye',
      },
    );
    await outcomeOf(number, 'rejected');
  }, 90_000);

  describe('the ARI test server sends what Asterisk 22 sends', () => {
    // the same small Stasis app drives one bridged call on the real Asterisk and on the test server; the
    // events each leg gets must be the same, in the same order
    beforeAll(async () => {
      spoofguard.kill('SIGTERM');
      await exited(spoofguard);
    });
    afterAll(startSpoofguard);

    it.each(['caller', 'subscriber'] as const)('a bridged call that the %s hangs up', async (who) => {
      const real = new EventRecorder(
        asterisk.ariUrl,
        asterisk.ariUser,
        asterisk.ariPassword,
        'spoofguard',
        `PJSIP/${CALLED}@subscribers`,
      );
      await real.start();
      try {
        await call(
          {
            number: someNumber(),
            end: who === 'caller' ? { kind: 'bye', afterMs: 1000 } : { kind: 'wait-bye', timeoutMs: 20_000 },
          },
          { kind: 'answer', then: who === 'caller' ? 'wait-bye' : { byeAfterMs: 1000 } },
        );
        await real.done;
      } finally {
        real.close();
      }

      const server = new AriTestServer();
      await server.start();
      const fake = new EventRecorder(
        server.url,
        server.username,
        server.password,
        'spoofguard',
        `PJSIP/${CALLED}@subscribers`,
      );
      await fake.start();
      try {
        server.behaviour = () => ({ answerAfterMs: 20 });
        const callerId = server.inboundCall({ number: someNumber(), args: [CALLED] });
        await eventually(
          () =>
            fake.recording.caller.includes('ChannelEnteredBridge') &&
            fake.recording.subscriber.includes('ChannelEnteredBridge'),
          'bridged on the test server',
        );
        server.hangupFromNetwork(who === 'caller' ? callerId : `${callerId}-sub`);
        await fake.done;
      } finally {
        fake.close();
        await server.stop();
      }
      expect(fake.recording).toEqual(real.recording);
    });
  });

  describe('SIGTERM', () => {
    it('with a call up: a call arriving during the drain is dialled by the dialplan, the call in progress ends, then spoofguard exits 0', async () => {
      const warned = someNumber();
      const mark = spoofguard.output().length;
      // the subscriber takes both calls; its 2 counts in the warned one (the dialplan's plain Dial ignores it)
      const sub = await startSipp(
        env,
        subscriberScenario({ kind: 'answer', digit: '2', digitAfterMs: 4000, then: 'wait-bye' }, env.dtmfPcaps),
        { port: subscriberPort, calls: 2 },
      );
      const first = await startSipp(
        env,
        callerScenario({ number: warned, name: 'Amazon', called: CALLED, end: { kind: 'refused', status: 486 } }),
        {
          remote: `127.0.0.1:${asterisk.ports.sip}`,
        },
      );
      await eventually(() => spoofguard.output().slice(mark).includes('"verdict":"warn"'), 'the warned call screened');
      await new Promise((r) => setTimeout(r, 1500)); // the subscriber hears the warning
      spoofguard.kill('SIGTERM');
      await eventually(() => spoofguard.output().includes('waiting for calls in progress to end'), 'draining');
      // a call during the drain: handed back, so the dialplan dials it; the caller talks, then hangs up
      const late = await startSipp(
        env,
        callerScenario({ number: someNumber(), called: CALLED, end: { kind: 'bye', afterMs: 6000 } }),
        { remote: `127.0.0.1:${asterisk.ports.sip}` },
      );
      expect(await late.done).toBe(0);
      expect(await first.done).toBe(0);
      sub.stop();
      const { code } = await exited(spoofguard);
      expect(code).toBe(0);
      await outcomeOf(warned, 'rejected');
      await startSpoofguard();
    }, 90_000);

    it('without calls: spoofguard exits 0 at once; its log holds JSON lines only', async () => {
      // ari-client's swagger prints a plain notice on every connect: it must not reach the JSON log
      expect(spoofguard.output()).not.toContain('deprecated version of Swagger');
      spoofguard.kill('SIGTERM');
      const { code } = await exited(spoofguard);
      expect(code).toBe(0);
      await startSpoofguard();
    }, 60_000);
  });
});
