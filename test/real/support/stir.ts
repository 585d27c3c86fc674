import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { writeFileSync } from 'node:fs';
import { type CertRepository, makePki, startRepository, stirSettings, type TestPki } from '../../support/stir-pki';

/**
 * STIR/SHAKEN for the real-server suites: the test STI-CA and its HTTPS repository (test/support/stir-pki.ts),
 * the `stir.*` settings a spoofguard child needs to trust them, and Identity headers signed by Debian's
 * secsipidx, an implementation not written here (SECSIPIDX_BIN, or found in /usr/bin).
 */
export const SECSIPIDX =
  process.env.SECSIPIDX_BIN ?? ['/usr/bin/secsipidx', '/usr/local/bin/secsipidx'].find((p) => existsSync(p));

export interface StirFixture {
  pki: TestPki;
  repo: CertRepository;
  /** The `stir` config section of a spoofguard that verifies against the test STI-CA. */
  settings: Record<string, unknown>;
  /** An Identity header value secsipidx signed with the test carrier's key (orig/dest: E.164 digits). */
  sign(o: { orig: string; dest: string; attest?: 'A' | 'B' | 'C' }): string;
  /** The same value with one bit of its signature changed. */
  tamper(identity: string): string;
  close(): Promise<void>;
}

export async function stirFixture(): Promise<StirFixture> {
  if (!SECSIPIDX) throw new Error('secsipidx not installed (apt-get install secsipidx; or SECSIPIDX_BIN)');
  const pki = await makePki();
  const repo = await startRepository(pki);
  repo.routes.set('/shaken.pem', { body: pki.chainPem, cacheControl: 'max-age=3600' });
  const keyFile = join(dirname(repo.anchorFile), 'carrier-key.pem');
  writeFileSync(keyFile, pki.leaf.keyPem);
  return {
    pki,
    repo,
    // the suites' first signed call fetches the certificate: it must not run out of the call's budget here
    settings: stirSettings(repo, { fetchTimeoutMs: 1000, callBudgetMs: 1500 }),
    sign: (o) =>
      execFileSync(
        SECSIPIDX as string,
        [
          '-sign-full',
          '-attest',
          o.attest ?? 'A',
          '-orig-tn',
          o.orig,
          '-dest-tn',
          o.dest,
          '-orig-id',
          '0b6e4c1e-5b5d-4a8e-9a53-1c0f2e7d9a11',
          '-x5u',
          `${repo.base}/shaken.pem`,
          '-k',
          keyFile,
        ],
        { encoding: 'utf8' },
      ).trim(),
    tamper: (identity) => {
      const [token, ...params] = identity.split(';');
      const [h, p, s] = token.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[9] ^= 0x01;
      return [`${h}.${p}.${sig.toString('base64url')}`, ...params].join(';');
    },
    close: () => repo.close(),
  };
}
