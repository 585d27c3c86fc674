import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { openStirVerifier, type StirVerifier } from '../../services/stir';
import { createRedis, type Redis } from '../../services/common/redis';
import { quietLogger, testConfig } from '../support/config';
import { dropPrefix } from '../support/redis';
import { itWhen } from '../support/skip';
import {
  type CertRepository,
  identityHeader,
  makePki,
  signPassport,
  stirSettings,
  startRepository,
  type TestPki,
} from '../support/stir-pki';

/**
 * Interop with an implementation not written here: Debian's secsipidx (the library behind Kamailio's secsipid
 * module). PASSporTs it signs with the test chain's key verify here; the same ones tampered with fail; and
 * what spoofguard's tests sign, secsipidx verifies (the test signer is not a private dialect).
 */
const SECSIPIDX =
  process.env.SECSIPIDX_BIN ?? ['/usr/bin/secsipidx', '/usr/local/bin/secsipidx'].find((p) => existsSync(p));
const it_ = itWhen(SECSIPIDX !== undefined, 'secsipidx not installed (apt-get install secsipidx; or SECSIPIDX_BIN)');

const CALLER = '12025550100';
const CALLED = '12025550199';
let pki: TestPki;
let repo: CertRepository;
let redis: Redis;
let verifier: StirVerifier;
let dir: string;
const prefix = `tsecsip${process.pid}:`;

beforeAll(async () => {
  pki = await makePki();
  repo = await startRepository(pki);
  repo.routes.set('/sp.pem', { body: pki.chainPem, cacheControl: 'max-age=600' });
  dir = mkdtempSync(join(tmpdir(), 'sg-secsipidx-'));
  writeFileSync(join(dir, 'key.pem'), pki.leaf.keyPem);
  writeFileSync(
    join(dir, 'pub.pem'),
    createPublicKey(pki.leaf.keyPem).export({ type: 'spki', format: 'pem' }) as string,
  );
  const config = testConfig({
    redis: { keyPrefix: prefix },
    stir: stirSettings(repo),
  });
  redis = createRedis(config.redis, 'call-path', undefined, quietLogger());
  verifier = openStirVerifier(config, redis, quietLogger());
});
afterAll(async () => {
  await repo?.close();
  redis?.disconnect();
  await dropPrefix(prefix);
});

/** An Identity header value as secsipidx signs it (full form with info, alg and ppt). */
const secsipidxSign = (o: { orig?: string; dest?: string; attest?: string } = {}): string =>
  execFileSync(
    SECSIPIDX as string,
    [
      '-sign-full',
      '-attest',
      o.attest ?? 'A',
      '-orig-tn',
      o.orig ?? CALLER,
      '-dest-tn',
      o.dest ?? CALLED,
      '-orig-id',
      '5f1d7a39-6b4e-4d61-9a0c-3c1b2a6f8e01',
      '-x5u',
      `${repo.base}/sp.pem`,
      '-k',
      join(dir, 'key.pem'),
    ],
    { encoding: 'utf8' },
  ).trim();

const verify = (identity: string) =>
  verifier.verify({ identity: [identity], callerDigits: [CALLER], calledDigits: CALLED, at: Date.now() });

describe('secsipidx interop', () => {
  it_(
    'a PASSporT secsipidx signed with the test chain’s key verifies as passed, with its attestation and origid',
    async () => {
      for (const attest of ['A', 'B', 'C']) {
        expect(await verify(secsipidxSign({ attest }))).toMatchObject({
          status: 'passed',
          attest,
          origid: '5f1d7a39-6b4e-4d61-9a0c-3c1b2a6f8e01',
        });
      }
    },
  );

  it_('the same PASSporTs tampered with fail with the right cause', async () => {
    const tamper = (identity: string, change: (h: string, p: string, s: string) => string): string => {
      const [token, ...params] = identity.split(';');
      const [h, p, s] = token.split('.');
      return [change(h, p, s), ...params].join(';');
    };
    const payload = (p: string) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const encode = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const cases = [
      // one bit of the signature
      tamper(secsipidxSign(), (h, p, s) => {
        const sig = Buffer.from(s, 'base64url');
        sig[5] ^= 0x01;
        return `${h}.${p}.${sig.toString('base64url')}`;
      }),
      // a gateway's C raised to A under the old signature
      tamper(secsipidxSign({ attest: 'C' }), (h, p, s) => `${h}.${encode({ ...payload(p), attest: 'A' })}.${s}`),
      // another called number added under the old signature
      tamper(
        secsipidxSign(),
        (h, p, s) => `${h}.${encode({ ...payload(p), dest: { tn: ['12025550000', CALLED] } })}.${s}`,
      ),
    ];
    for (const identity of cases)
      expect(await verify(identity)).toMatchObject({ status: 'failed', cause: 'signature' });
    expect(await verify(secsipidxSign({ orig: '12025550111' }))).toMatchObject({ status: 'failed', cause: 'number' });
    expect(await verify(secsipidxSign().replace('ppt=shaken', 'ppt=div'))).toMatchObject({
      status: 'failed',
      cause: 'format',
    });
  });

  it_('secsipidx verifies what the tests sign, and refuses it tampered with', async () => {
    const x5u = `${repo.base}/sp.pem`;
    const ours = identityHeader(await signPassport(pki.leaf.keyPem, { orig: CALLER, dest: [CALLED], x5u }), x5u);
    const check = (identity: string) =>
      // -expire: how old iat may be (without it, secsipidx takes a token from the previous second as expired)
      spawnSync(SECSIPIDX as string, ['-check', '-expire', '60', '-identity', identity, '-p', join(dir, 'pub.pem')], {
        encoding: 'utf8',
      });
    const ok = check(ours);
    expect(ok.stdout.trim()).toBe('ok');
    expect(ok.status).toBe(0);
    const [token, ...params] = ours.split(';');
    const [h, p, s] = token.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[7] ^= 0x01;
    const bad = check([`${h}.${p}.${sig.toString('base64url')}`, ...params].join(';'));
    expect(bad.status).not.toBe(0);
  });
});
