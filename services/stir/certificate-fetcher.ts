import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { AddressPolicy } from './address-policy';

/**
 * `refused`: the signer's x5u itself is unacceptable (not https, a private address, too large): the
 * PASSporT fails. `unreachable`: the repository could not be read now (timeout, refused connection, HTTP
 * error): the call is unverifiable, never passed.
 */
export class CertificateFetchError extends Error {
  constructor(
    message: string,
    readonly kind: 'refused' | 'unreachable',
  ) {
    super(message);
  }
}

export interface FetchedCertificate {
  /** What the repository served: PEM (a chain, leaf first) or one DER certificate. */
  body: Buffer;
  /** How long it may be cached, from Cache-Control (0: not at all; undefined: the header says nothing). */
  maxAgeSeconds?: number;
}

export interface FetcherOptions {
  timeoutMs: number;
  maxBytes: number;
  policy: AddressPolicy;
  /** Extra CAs for the repositories' HTTPS (PEM texts), beside the public roots. */
  extraCa?: readonly string[];
  maxRedirects?: number;
}

/** max-age of a Cache-Control header; no-store or no-cache is 0; undefined when it sets neither. */
export function cacheSeconds(header: string | undefined): number | undefined {
  if (!header) return undefined;
  if (/(^|,)\s*(no-store|no-cache)\b/i.test(header)) return 0;
  const m = /(^|,)\s*(?:s-maxage|max-age)\s*=\s*"?(\d{1,10})"?/i.exec(header);
  return m ? Number(m[2]) : undefined;
}

/**
 * Fetches a signing certificate over HTTPS and nothing else: the host's every address is vetted (after DNS,
 * and again at each redirect), the connection goes to the vetted address (no second resolution to rebind),
 * the body is capped, and one deadline covers the whole fetch, redirects included.
 */
export class CertificateFetcher {
  private readonly ca: string[] | undefined;

  constructor(private readonly options: FetcherOptions) {
    this.ca = options.extraCa?.length ? [...rootCertificates, ...options.extraCa] : undefined;
  }

  async fetch(url: string): Promise<FetchedCertificate> {
    const deadline = new AbortController();
    const timer = setTimeout(
      () =>
        deadline.abort(new CertificateFetchError(`no certificate within ${this.options.timeoutMs} ms`, 'unreachable')),
      this.options.timeoutMs,
    );
    // the deadline covers name resolution too, which no socket option bounds
    const expired = new Promise<never>((_, reject) =>
      deadline.signal.addEventListener('abort', () => reject(deadline.signal.reason as Error), { once: true }),
    );
    expired.catch(() => undefined);
    const work = async (): Promise<FetchedCertificate> => {
      let next = url;
      for (let hop = 0; ; hop++) {
        const result = await this.fetchOnce(next, deadline.signal);
        if ('body' in result) return result;
        if (hop >= (this.options.maxRedirects ?? 3)) throw new CertificateFetchError('too many redirects', 'refused');
        next = result.location;
      }
    };
    try {
      return await Promise.race([work(), expired]);
    } finally {
      deadline.abort(new CertificateFetchError('fetch over', 'unreachable'));
      clearTimeout(timer);
    }
  }

  private async target(text: string): Promise<{ url: URL; address: string; family: number }> {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new CertificateFetchError('x5u is not a URL', 'refused');
    }
    if (url.protocol !== 'https:') throw new CertificateFetchError(`x5u must be https, not ${url.protocol}`, 'refused');
    if (url.username || url.password) throw new CertificateFetchError('x5u carries credentials', 'refused');
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let addresses: { address: string; family: number }[];
    if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
    else {
      try {
        addresses = await dnsLookup(host, { all: true, verbatim: true });
      } catch (err) {
        throw new CertificateFetchError(`x5u host ${host} not resolved: ${(err as Error).message}`, 'unreachable');
      }
    }
    if (addresses.length === 0) throw new CertificateFetchError(`x5u host ${host} has no address`, 'unreachable');
    // every address must be acceptable: a name that also resolves to a private address is refused outright
    for (const a of addresses) {
      const refusal = this.options.policy.refusal(a.address);
      if (refusal) throw new CertificateFetchError(`x5u host ${host}: ${refusal}`, 'refused');
    }
    return { url, ...addresses[0] };
  }

  private async fetchOnce(text: string, signal: AbortSignal): Promise<FetchedCertificate | { location: string }> {
    signal.throwIfAborted();
    const { url, address, family } = await this.target(text);
    signal.throwIfAborted();
    const pinned: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'GET',
          lookup: pinned,
          // a connection of its own for each fetch (they are rare: certificates are cached); no pooled socket
          // outlives the fetch or carries a request to an address that was not vetted for it
          agent: false,
          ...(this.ca ? { ca: this.ca } : {}),
          headers: { accept: 'application/x-pem-file, application/pkix-cert', 'user-agent': 'spoofguard-stir' },
          signal,
        },
        (res) => this.read(res, url, resolve, reject),
      );
      req.on('error', (err) =>
        reject(
          err instanceof CertificateFetchError
            ? err
            : signal.aborted && signal.reason instanceof CertificateFetchError
              ? signal.reason
              : new CertificateFetchError(`certificate fetch failed: ${err.message}`, 'unreachable'),
        ),
      );
      req.end();
    });
  }

  private read(
    res: IncomingMessage,
    url: URL,
    resolve: (r: FetchedCertificate | { location: string }) => void,
    reject: (err: Error) => void,
  ): void {
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      resolve({ location: new URL(res.headers.location, url).toString() });
      return;
    }
    if (status !== 200) {
      res.resume();
      reject(new CertificateFetchError(`certificate repository answered HTTP ${status}`, 'unreachable'));
      return;
    }
    const max = this.options.maxBytes;
    const declared = Number(res.headers['content-length']);
    if (declared > max) {
      res.destroy();
      reject(new CertificateFetchError(`certificate of ${declared} bytes, more than ${max}`, 'refused'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        res.destroy();
        reject(new CertificateFetchError(`certificate of more than ${max} bytes`, 'refused'));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => {
      const maxAgeSeconds = cacheSeconds(res.headers['cache-control']);
      resolve({ body: Buffer.concat(chunks), ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}) });
    });
    res.on('error', (err) =>
      reject(new CertificateFetchError(`certificate fetch failed: ${err.message}`, 'unreachable')),
    );
  }
}
