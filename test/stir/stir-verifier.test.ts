import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { compactVerify, SignJWT } from 'jose';
import { verifySignature } from '../../services/stir/passport';
import { openStirVerifier, type StirResult, type StirVerifier } from '../../services/stir';
import { createRedis, type Redis } from '../../services/common/redis';
import { testConfig, quietLogger } from '../support/config';
import { dropPrefix } from '../support/redis';
import { until } from '../support/events';
import {
  b64url,
  type CertRepository,
  identityHeader,
  makePki,
  type PassportInput,
  signPassport,
  startRepository,
  stirSettings,
  type TestPki,
} from '../support/stir-pki';

const CALLER = '12025550100';
const CALLED = '12025550199';
const DAY = 86400000;

let pki: TestPki;
let repo: CertRepository;
let redis: Redis;
let verifier: StirVerifier;
let prefix: string;

const configFor = (extra: object = {}) =>
  testConfig({
    stir: stirSettings(repo, { fetchTimeoutMs: 400, ...extra }),
    redis: { keyPrefix: prefix },
  });

beforeAll(async () => {
  pki = await makePki();
  repo = await startRepository(pki);
  prefix = `tstir${process.pid}:`;
  const expired = await pki.issueLeaf({
    notBefore: new Date(Date.now() - 30 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const future = await pki.issueLeaf({
    notBefore: new Date(Date.now() + DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
  });
  const unknownRoot = await pki.issueLeaf({ issuer: pki.otherIntermediate });
  const noTn = await pki.issueLeaf({ tnAuthList: false });
  const rsa = await pki.issueLeaf({ rsa: true });
  const r = repo.routes;
  const ok = { cacheControl: 'max-age=3600' };
  r.set('/sp.pem', { body: pki.chainPem, ...ok });
  r.set('/sp-again.pem', { body: pki.chainPem, ...ok });
  r.set('/expired.pem', { body: expired.pem + pki.intermediate.pem, ...ok });
  r.set('/future.pem', { body: future.pem + pki.intermediate.pem, ...ok });
  r.set('/unknown-root.pem', { body: unknownRoot.pem + pki.otherIntermediate.pem, ...ok });
  r.set('/no-tn.pem', { body: noTn.pem + pki.intermediate.pem, ...ok });
  r.set('/rsa.pem', { body: rsa.pem + pki.intermediate.pem, ...ok });
  r.set('/big.pem', { body: Buffer.alloc(10 * 1024 * 1024, 0x41) });
  r.set('/garbage.pem', { body: '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n' });
  r.set('/hang.pem', { hang: true });
  r.set('/500.pem', { status: 500 });
  r.set('/to-ok.pem', { redirect: '/sp.pem' });
  r.set('/to-loopback.pem', { redirect: `https://127.0.0.1:${repo.port}/sp.pem` });
  r.set('/to-private.pem', { redirect: 'https://10.20.30.40/sp.pem' });
  r.set('/to-http.pem', { redirect: `http://127.0.0.2:${repo.port}/sp.pem` });
  redis = createRedis(configFor().redis, 'call-path', undefined, quietLogger());
  verifier = openStirVerifier(configFor(), redis, quietLogger());
});

afterAll(async () => {
  await repo?.close();
  redis?.disconnect();
  await dropPrefix(prefix);
});

const url = (path: string) => `${repo.base}${path}`;

async function signed(extra: Partial<PassportInput> = {}, key = pki.leaf.keyPem): Promise<string> {
  const x5u = extra.x5u ?? url('/sp.pem');
  return identityHeader(await signPassport(key, { orig: CALLER, dest: [CALLED], x5u, ...extra }), x5u);
}

const check = (identity: string[], at = Date.now()) =>
  verifier.verify({ identity, callerDigits: [CALLER], calledDigits: CALLED, at });

describe('STIR/SHAKEN verification: what passes', () => {
  it('a PASSporT signed by the test carrier passes with its attestation, and keeps origid', async () => {
    const result = await check([await signed({ origid: 'b1d3a6c8-0000-4000-8000-000000000001' })]);
    expect(result).toEqual({
      status: 'passed',
      attest: 'A',
      orig: CALLER,
      origid: 'b1d3a6c8-0000-4000-8000-000000000001',
      x5u: url('/sp.pem'),
      spc: '1234',
    });
  });

  it.each(['B', 'C'])('attestation %s passes', async (attest) => {
    expect(await check([await signed({ attest })])).toMatchObject({ status: 'passed', attest });
  });

  it('orig.tn with a + and separators is the same number after canonicalisation', async () => {
    expect(await check([await signed({ orig: '+1 (202) 555-0100' })])).toMatchObject({ status: 'passed' });
  });

  it('two Identity headers that agree pass; a non-SHAKEN value beside them is read the same way', async () => {
    const one = await signed();
    expect(await check([one, one])).toMatchObject({ status: 'passed' });
  });

  it('a redirect within the allowed repository is followed', async () => {
    expect(await check([await signed({ x5u: url('/to-ok.pem') })])).toMatchObject({ status: 'passed' });
  });

  it('no Identity header is missing, not failed', async () => {
    expect(await check([])).toEqual({ status: 'missing' });
  });
});

describe('STIR/SHAKEN verification: hostile input is refused with the right reason', () => {
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  type Expected = { status: StirResult['status']; cause?: string; detail?: RegExp };
  const cases: [string, () => Promise<string[]>, Expected][] = [
    [
      'a bad signature (one byte of it changed)',
      async () => {
        const [token, ...params] = (await signed()).split(';');
        const [h, p, s] = token.split('.');
        const bytes = Buffer.from(s, 'base64url');
        bytes[10] ^= 0xff;
        return [[`${h}.${p}.${bytes.toString('base64url')}`, ...params].join(';')];
      },
      { status: 'failed', cause: 'signature' },
    ],
    [
      'signed by a key that is not the certificate’s',
      async () => [await signed({}, otherKey)],
      { status: 'failed', cause: 'signature' },
    ],
    [
      'a payload changed after signing (another caller)',
      async () => {
        const [token, ...params] = (await signed({ orig: '12025550111' })).split(';');
        const [h, , s] = token.split('.');
        const p = b64url({
          attest: 'A',
          dest: { tn: [CALLED] },
          iat: Math.floor(Date.now() / 1000),
          orig: { tn: CALLER },
          origid: 'x',
        });
        return [[`${h}.${p}.${s}`, ...params].join(';')];
      },
      { status: 'failed', cause: 'signature' },
    ],
    [
      'alg: none',
      async () => {
        const h = b64url({ alg: 'none', typ: 'passport', ppt: 'shaken', x5u: url('/sp.pem') });
        const p = b64url({
          attest: 'A',
          dest: { tn: [CALLED] },
          iat: Math.floor(Date.now() / 1000),
          orig: { tn: CALLER },
          origid: 'x',
        });
        return [`${h}.${p}.${b64url('sig')};info=<${url('/sp.pem')}>;ppt=shaken`];
      },
      { status: 'failed', cause: 'signature', detail: /none refused/ },
    ],
    [
      'HS256 signed with the certificate’s public key',
      async () => {
        const pub = Buffer.from(pki.leaf.pem);
        const token = await new SignJWT({ attest: 'A', dest: { tn: [CALLED] }, orig: { tn: CALLER }, origid: 'x' })
          .setProtectedHeader({ alg: 'HS256', typ: 'passport', ppt: 'shaken', x5u: url('/sp.pem') })
          .setIssuedAt()
          .sign(pub);
        return [`${token};info=<${url('/sp.pem')}>;alg=HS256;ppt=shaken`];
      },
      { status: 'failed', cause: 'signature', detail: /HS256 refused/ },
    ],
    [
      'an alg parameter other than ES256',
      async () => [(await signed()).replace('alg=ES256', 'alg=RS256')],
      { status: 'failed', cause: 'signature' },
    ],
    [
      'an expired certificate',
      async () => [await signed({ x5u: url('/expired.pem') })],
      { status: 'failed', cause: 'certificate', detail: /expired/ },
    ],
    [
      'a certificate not yet valid',
      async () => [await signed({ x5u: url('/future.pem') })],
      { status: 'failed', cause: 'certificate', detail: /not yet valid/ },
    ],
    [
      'an unknown root',
      async () => [await signed({ x5u: url('/unknown-root.pem') })],
      { status: 'failed', cause: 'certificate', detail: /trust anchor/ },
    ],
    [
      'a certificate without TNAuthList',
      async () => [await signed({ x5u: url('/no-tn.pem') })],
      { status: 'failed', cause: 'certificate', detail: /TNAuthList/ },
    ],
    [
      'a certificate with a key of the wrong type (RSA)',
      async () => [await signed({ x5u: url('/rsa.pem') })],
      { status: 'failed', cause: 'certificate', detail: /P-256/ },
    ],
    [
      'a response that is no certificate',
      async () => [await signed({ x5u: url('/garbage.pem') })],
      { status: 'failed', cause: 'certificate' },
    ],
    [
      'iat too old',
      async () => [await signed({ iat: Math.floor(Date.now() / 1000) - 120 })],
      { status: 'failed', cause: 'time', detail: /before the call/ },
    ],
    [
      'iat in the future',
      async () => [await signed({ iat: Math.floor(Date.now() / 1000) + 120 })],
      { status: 'failed', cause: 'time', detail: /after the call/ },
    ],
    [
      'orig not the caller',
      async () => [await signed({ orig: '12025550111' })],
      { status: 'failed', cause: 'number', detail: /orig/ },
    ],
    [
      'dest not the called number',
      async () => [await signed({ dest: ['12025550000'] })],
      { status: 'failed', cause: 'number', detail: /dest/ },
    ],
    [
      'x5u over http',
      async () => [await signed({ x5u: `http://127.0.0.2:${repo.port}/sp.pem` })],
      { status: 'failed', cause: 'certificate', detail: /https/ },
    ],
    [
      'x5u to 127.0.0.1',
      async () => [await signed({ x5u: `https://127.0.0.1:${repo.port}/sp.pem` })],
      { status: 'failed', cause: 'certificate', detail: /loopback/ },
    ],
    [
      'x5u to 10/8',
      async () => [await signed({ x5u: 'https://10.1.2.3/sp.pem' })],
      { status: 'failed', cause: 'certificate', detail: /private/ },
    ],
    [
      'x5u to 169.254/16',
      async () => [await signed({ x5u: 'https://169.254.169.254/latest/meta-data' })],
      { status: 'failed', cause: 'certificate', detail: /linkLocal/ },
    ],
    [
      'x5u to ::1',
      async () => [await signed({ x5u: `https://[::1]:${repo.port}/sp.pem` })],
      { status: 'failed', cause: 'certificate', detail: /loopback/ },
    ],
    [
      'x5u to ::ffff:10.0.0.1 (IPv4-mapped)',
      async () => [await signed({ x5u: 'https://[::ffff:10.0.0.1]/sp.pem' })],
      { status: 'failed', cause: 'certificate', detail: /private/ },
    ],
    [
      'x5u to a name that resolves to loopback',
      async () => [await signed({ x5u: `https://localhost:${repo.port}/sp.pem` })],
      { status: 'failed', cause: 'certificate', detail: /loopback/ },
    ],
    [
      'a redirect to 127.0.0.1',
      async () => [await signed({ x5u: url('/to-loopback.pem') })],
      { status: 'failed', cause: 'certificate', detail: /loopback/ },
    ],
    [
      'a redirect to 10/8',
      async () => [await signed({ x5u: url('/to-private.pem') })],
      { status: 'failed', cause: 'certificate', detail: /private/ },
    ],
    [
      'a redirect to http',
      async () => [await signed({ x5u: url('/to-http.pem') })],
      { status: 'failed', cause: 'certificate', detail: /https/ },
    ],
    [
      'x5u with credentials',
      async () => [await signed({ x5u: `https://user:pw@127.0.0.2:${repo.port}/sp.pem` })],
      { status: 'failed', cause: 'certificate' },
    ],
    [
      'a 10 MB certificate',
      async () => [await signed({ x5u: url('/big.pem') })],
      { status: 'failed', cause: 'certificate', detail: /bytes/ },
    ],
    ['bad base64', async () => [`eyJ!!.eyJ.abc;info=<${url('/sp.pem')}>`], { status: 'failed', cause: 'format' }],
    [
      'base64url that is not JSON',
      async () => [`${b64url('nope')}.${b64url('nope')}.${b64url('x')}`],
      { status: 'failed', cause: 'format' },
    ],
    [
      'a compact form with a part missing',
      async () => [(await signed()).split('.').slice(0, 2).join('.')],
      { status: 'failed', cause: 'format' },
    ],
    [
      'the compact form without payload (RFC 8224 §7.2)',
      async () => {
        const [h, , s] = (await signed()).split(';')[0].split('.');
        return [`${h}..${s}`];
      },
      { status: 'failed', cause: 'format', detail: /compact/ },
    ],
    [
      'two Identity headers that disagree',
      async () => [await signed(), await signed({ attest: 'C' })],
      { status: 'failed', cause: 'format', detail: /disagree/ },
    ],
    [
      'a ppt parameter that does not match the PASSporT',
      async () => [(await signed()).replace('ppt=shaken', 'ppt=div')],
      { status: 'failed', cause: 'format', detail: /ppt/ },
    ],
    [
      'a PASSporT whose ppt is not shaken',
      async () => [await signed({ ppt: 'rcd' })],
      { status: 'failed', cause: 'format', detail: /ppt/ },
    ],
    [
      'typ not passport',
      async () => [await signed({ typ: 'JWT' })],
      { status: 'failed', cause: 'format', detail: /typ/ },
    ],
    [
      'attest outside A, B, C',
      async () => [await signed({ attest: 'D' })],
      { status: 'failed', cause: 'format', detail: /attest/ },
    ],
    [
      'info and x5u differ',
      async () => [(await signed()).replace(/info=<[^>]*>/, `info=<${url('/sp-again.pem')}>`)],
      { status: 'failed', cause: 'format', detail: /info/ },
    ],
    ['an Identity value of 100 kB', async () => [`${'a'.repeat(100000)}.b.c`], { status: 'failed', cause: 'format' }],
    [
      'twenty Identity fields',
      async () => [
        Array(20)
          .fill(await signed())
          .join(','),
      ],
      { status: 'failed', cause: 'format' },
    ],
  ];

  it.each(cases)('%s', async (_name, make, expected) => {
    const started = Date.now();
    const { detail, ...rest } = expected;
    const result = await check(await make());
    expect(result).toMatchObject(rest);
    if (detail) expect(result).toMatchObject({ detail: expect.stringMatching(detail) });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('has at least 25 hostile cases', () => expect(cases.length).toBeGreaterThanOrEqual(25));

  it('a repository that never answers gives stir-unverifiable at the budget, never a pass', async () => {
    const started = Date.now();
    const result = await check([await signed({ x5u: url('/hang.pem') })]);
    expect(result).toMatchObject({ status: 'unverifiable', detail: expect.stringMatching(/within 400 ms/) });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a repository answering 500 gives stir-unverifiable', async () => {
    expect(await check([await signed({ x5u: url('/500.pem') })])).toMatchObject({ status: 'unverifiable' });
  });
});

describe('STIR/SHAKEN certificates: fetched once, shared through Redis', () => {
  it('one fetch per URL in flight, then none while the Cache-Control allows', async () => {
    repo.routes.set('/flight.pem', { body: pki.chainPem, cacheControl: 'max-age=600' });
    const identity = [await signed({ x5u: url('/flight.pem') })];
    const results = await Promise.all(Array.from({ length: 20 }, () => check(identity)));
    expect(results.every((r) => r.status === 'passed')).toBe(true);
    expect(await check(identity)).toMatchObject({ status: 'passed' });
    expect(repo.hits.get('/flight.pem')).toBe(1);
  });

  it('another process finds the certificate in Redis without fetching it; its TTL follows max-age', async () => {
    repo.routes.set('/shared.pem', { body: pki.chainPem, cacheControl: 'public, max-age=120' });
    const identity = [await signed({ x5u: url('/shared.pem') })];
    expect(await check(identity)).toMatchObject({ status: 'passed' });
    const other = openStirVerifier(configFor(), redis, quietLogger());
    expect(
      await other.verify({ identity, callerDigits: [CALLER], calledDigits: CALLED, at: Date.now() }),
    ).toMatchObject({
      status: 'passed',
    });
    expect(repo.hits.get('/shared.pem')).toBe(1);
    const keys = await redis.keys(`${prefix}stir:x5u:*`);
    const ttls = await Promise.all(keys.map((k) => redis.ttl(k)));
    expect(Math.max(...ttls)).toBeLessThanOrEqual(3600);
    expect(ttls.some((t) => t > 100 && t <= 120)).toBe(true);
  });

  it('no-store is not kept: each call fetches again', async () => {
    repo.routes.set('/nostore.pem', { body: pki.chainPem, cacheControl: 'no-store' });
    const identity = [await signed({ x5u: url('/nostore.pem') })];
    await check(identity);
    await check(identity);
    expect(repo.hits.get('/nostore.pem')).toBe(2);
  });

  it('a max-age above stir.cacheMaxSeconds is cut to it', async () => {
    repo.routes.set('/long.pem', { body: pki.chainPem, cacheControl: 'max-age=9999999' });
    const identity = [await signed({ x5u: url('/long.pem') })];
    const short = openStirVerifier(configFor({ cacheMaxSeconds: 60 }), redis, quietLogger());
    await short.verify({ identity, callerDigits: [CALLER], calledDigits: CALLED, at: Date.now() });
    const key = `${prefix}stir:x5u:${createHash('sha256').update(url('/long.pem')).digest('hex')}`;
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
  });
});

describe("the signature check agrees with jose's compactVerify", () => {
  it('on valid PASSporTs and on every one-byte change of header, payload or signature', async () => {
    const key = createPublicKey(pki.leaf.pem);
    const agree = async (token: string): Promise<boolean> => {
      const ours = (() => {
        try {
          verifySignature(token, key);
          return true;
        } catch {
          return false;
        }
      })();
      const jose = await compactVerify(token, key, { algorithms: ['ES256'] }).then(
        () => true,
        () => false,
      );
      expect({ token, ours }).toEqual({ token, ours: jose });
      return ours;
    };
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    let valid = 0;
    let changed = 0;
    for (let i = 0; i < 40; i++) {
      const token = (await signed({ origid: `o-${i}` })).split(';')[0];
      if (await agree(token)) valid++;
      const parts = token.split('.');
      const which = i % 3;
      const bytes = Buffer.from(parts[which], 'base64url');
      bytes[random(bytes.length)] ^= 1 << random(8);
      parts[which] = bytes.toString('base64url');
      if (!(await agree(parts.join('.')))) changed++;
    }
    expect({ valid, changed }).toEqual({ valid: 40, changed: 40 });
  });
});

describe('a flood of distinct x5u URLs', () => {
  it('opens no more than 32 fetches at once; the calls beyond are unverifiable at once, and a cached signer still passes', async () => {
    for (let i = 0; i < 40; i++) repo.routes.set(`/flood-${i}.pem`, { hang: true });
    const before = [...repo.hits.entries()].filter(([k]) => k.startsWith('/flood-')).length;
    const good = [await signed()];
    await check(good); // the carrier's certificate is at hand
    const flood = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => check([await signed({ x5u: url(`/flood-${i}.pem`) })])),
    );
    expect(flood.every((r) => r.status === 'unverifiable')).toBe(true);
    expect(flood.filter((r) => 'detail' in r && /in flight already/.test(r.detail))).toHaveLength(8);
    expect([...repo.hits.keys()].filter((k) => k.startsWith('/flood-')).length - before).toBeLessThanOrEqual(32);
    expect(await check(good)).toMatchObject({ status: 'passed' });
  });
});

describe('a call never waits for a slow certificate repository beyond stir.callBudgetMs', () => {
  it('the first call is unverifiable at the budget; the fetch goes on and the next call passes', async () => {
    repo.routes.set('/slow.pem', { body: pki.chainPem, cacheControl: 'max-age=600', delayMs: 300 });
    const quick = openStirVerifier(configFor({ callBudgetMs: 50 }), redis, quietLogger());
    const identity = [await signed({ x5u: url('/slow.pem') })];
    const started = Date.now();
    const first = await quick.verify({ identity, callerDigits: [CALLER], calledDigits: CALLED, at: Date.now() });
    expect(Date.now() - started).toBeLessThan(250);
    expect(first).toMatchObject({ status: 'unverifiable', detail: expect.stringMatching(/within 50 ms/) });
    // the fetch of the first call finishes in the background: the next calls find the certificate at hand
    let next: StirResult | undefined;
    await until(
      async () =>
        (next = await quick.verify({ identity, callerDigits: [CALLER], calledDigits: CALLED, at: Date.now() }))
          .status === 'passed',
      5000,
      'the certificate fetched in the background',
    );
    expect(next).toMatchObject({ status: 'passed' });
    expect(repo.hits.get('/slow.pem')).toBe(1);
  });
});
