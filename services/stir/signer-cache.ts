import { createHash } from 'node:crypto';
import type { Logger } from '../common/logger';
import { RecentCache } from '../common/recent-cache';
import type { Redis } from '../common/redis';
import { CertificateError, readCertificates, type VerifiedSigner, verifyChain } from './certificate-chain';
import { CertificateFetchError, type CertificateFetcher } from './certificate-fetcher';
import type { X509Certificate } from 'node:crypto';

/** A signer, or why there is none, kept until `until` (ms). */
interface Kept {
  signer?: VerifiedSigner;
  error?: CertificateError | CertificateFetchError;
  until: number;
}

export interface SignerCacheOptions {
  /** Longest a certificate is kept, whatever its Cache-Control says (seconds). */
  cacheMaxSeconds: number;
  /** A repository response with no Cache-Control at all is kept this long (seconds; RFC 9111 heuristic). */
  heuristicSeconds?: number;
  /** A certificate refused (bad chain, too large, private address) is not fetched again for this long. */
  refusedSeconds?: number;
  keyPrefix: string;
  clock?: () => number;
}

const CAPACITY = 4096;
/**
 * Certificates being fetched at once, at most: a flood of calls naming distinct x5u URLs (the caller chooses
 * them) makes no more connections than this; the calls beyond it are unverifiable at once, never passed.
 */
export const MAX_FETCHES_IN_FLIGHT = 32;

/**
 * The checked signer of each x5u: in process first, then the repository's response from Redis (shared by every
 * process, expiring as its Cache-Control allows, at most `cacheMaxSeconds`), else fetched, one fetch per URL
 * in flight. A chain is checked once per response; the dates are checked at each call.
 */
export class SignerCache {
  private readonly kept = new RecentCache<Kept>(CAPACITY);
  private readonly flights = new Map<string, Promise<Kept>>();
  private readonly clock: () => number;
  private readonly refusedMs: number;

  constructor(
    private readonly fetcher: CertificateFetcher,
    private readonly anchors: readonly X509Certificate[],
    private readonly redis: Redis | undefined,
    private readonly logger: Logger,
    private readonly options: SignerCacheOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.refusedMs = (options.refusedSeconds ?? 30) * 1000;
  }

  /**
   * The signer of `url` while it is kept (or why there is none: CertificateError or CertificateFetchError);
   * undefined when it must be loaded.
   */
  cached(url: string): VerifiedSigner | CertificateError | CertificateFetchError | undefined {
    const kept = this.fresh(url);
    return kept && (kept.error ?? kept.signer);
  }

  /** What is kept for `url` while it holds. */
  private fresh(url: string): Kept | undefined {
    const kept = this.kept.peek(url);
    return kept && kept.until > this.clock() ? kept : undefined;
  }

  /** The signer of `url`; throws CertificateError or CertificateFetchError. */
  async signer(url: string): Promise<VerifiedSigner> {
    let kept = this.fresh(url);
    if (!kept) {
      let flight = this.flights.get(url);
      if (!flight && this.flights.size >= MAX_FETCHES_IN_FLIGHT)
        throw new CertificateFetchError(`${this.flights.size} certificate fetches in flight already`, 'unreachable');
      if (!flight) {
        flight = this.load(url).finally(() => this.flights.delete(url));
        this.flights.set(url, flight);
      }
      kept = await flight;
    }
    if (kept.error) throw kept.error;
    return kept.signer as VerifiedSigner;
  }

  private redisKey(url: string): string {
    return `${this.options.keyPrefix}stir:x5u:${createHash('sha256').update(url).digest('hex')}`;
  }

  private async load(url: string): Promise<Kept> {
    const now = this.clock();
    let body: Buffer | undefined;
    let ttl = 0;
    try {
      const [shared, pttl] = await Promise.all([
        this.redis?.getBuffer(this.redisKey(url)),
        this.redis?.pttl(this.redisKey(url)),
      ]);
      if (shared && pttl !== undefined && pttl > 0) {
        body = shared;
        ttl = pttl;
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, url }, 'STIR certificate cache in Redis not read; fetching');
    }
    if (!body) {
      try {
        const fetched = await this.fetcher.fetch(url);
        body = fetched.body;
        const seconds = fetched.maxAgeSeconds ?? this.options.heuristicSeconds ?? 300;
        ttl = Math.min(seconds, this.options.cacheMaxSeconds) * 1000;
      } catch (err) {
        const error =
          err instanceof CertificateFetchError
            ? err
            : new CertificateFetchError(`certificate fetch failed: ${(err as Error).message}`, 'unreachable');
        // a refused x5u is refused again for a while; an unreachable one is asked again by the next call
        const kept = {
          error,
          until: error.kind === 'refused' ? now + this.refusedMs : now,
        };
        if (error.kind === 'refused') this.kept.set(url, kept);
        return kept;
      }
      if (ttl > 0)
        this.redis
          ?.set(this.redisKey(url), body, 'PX', ttl)
          .catch((err: Error) =>
            this.logger.warn({ err: err.message, url }, 'STIR certificate not shared through Redis'),
          );
    }
    let kept: Kept;
    try {
      kept = { signer: verifyChain(readCertificates(body), this.anchors), until: now + ttl };
    } catch (err) {
      const error = err instanceof CertificateError ? err : new CertificateError((err as Error).message);
      kept = { error, until: now + Math.max(ttl, this.refusedMs) };
    }
    if (kept.until > now) this.kept.set(url, kept);
    return kept;
  }
}
