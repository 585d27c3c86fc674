import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { fromPackageRoot } from '../common/package-root';
import type { Redis } from '../common/redis';
import { AddressPolicy } from './address-policy';
import { readAnchors } from './certificate-chain';
import { CertificateFetcher } from './certificate-fetcher';
import { SignerCache } from './signer-cache';
import { StirVerifier } from './stir-verifier';

export { stirLabel, StirVerifier, type StirCheck, type StirResult } from './stir-verifier';

/** PEM texts of files, and of the *.pem/*.crt files of folders. */
function readPems(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    const path = fromPackageRoot(p);
    if (!statSync(path).isDirectory()) return [readFileSync(path, 'utf8')];
    return readdirSync(path)
      .filter((f) => /\.(pem|crt)$/i.test(f))
      .sort()
      .map((f) => readFileSync(join(path, f), 'utf8'));
  });
}

/** The STIR/SHAKEN verification service of `stir.*`, sharing fetched certificates through `redis`. */
export function openStirVerifier(config: Config, redis: Redis | undefined, logger: Logger): StirVerifier {
  const stir = config.stir;
  const anchors = readAnchors(readPems(stir.trustAnchors));
  if (anchors.length === 0 && Object.values(config.trunks).some((t) => t.stir === 'verify'))
    logger.warn('STIR/SHAKEN: a trunk verifies but stir.trustAnchors names no certificate: no call can pass');
  const fetcher = new CertificateFetcher({
    timeoutMs: stir.fetchTimeoutMs,
    maxBytes: stir.maxCertificateBytes,
    policy: new AddressPolicy(stir.allowNetworks),
    extraCa: readPems(stir.fetchCa),
  });
  const signers = new SignerCache(fetcher, anchors, redis, logger, {
    cacheMaxSeconds: stir.cacheMaxSeconds,
    keyPrefix: config.redis.keyPrefix,
  });
  return new StirVerifier(
    signers,
    // a call waits for its check at most callBudgetMs; a fetch goes on, single-flight, for the next calls
    { maxSkewSeconds: stir.maxSkewSeconds, timeoutMs: stir.callBudgetMs },
    logger,
  );
}
