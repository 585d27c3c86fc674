import { type KeyObject, X509Certificate } from 'node:crypto';
import { readTnAuthList } from './tn-auth-list';

/** A signing certificate whose chain was checked: what a PASSporT check needs of it. */
export interface VerifiedSigner {
  key: KeyObject;
  /** The service provider code(s) of its TNAuthList. */
  spcs: string[];
  /** The chain is valid from the latest notBefore to the earliest notAfter of its certificates (ms). */
  notBefore: number;
  notAfter: number;
  subject: string;
}

export class CertificateError extends Error {}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;
const MAX_CHAIN = 6;

/** The certificates a repository served: PEM (leaf first, then intermediates) or one DER certificate. */
export function readCertificates(body: Buffer): X509Certificate[] {
  const text = body.toString('latin1');
  try {
    if (text.includes('-----BEGIN')) {
      const blocks = text.match(PEM_BLOCK) ?? [];
      if (blocks.length === 0) throw new CertificateError('no PEM certificate in the response');
      if (blocks.length > MAX_CHAIN) throw new CertificateError(`${blocks.length} certificates in the response`);
      return blocks.map((b) => new X509Certificate(b));
    }
    return [new X509Certificate(body)];
  } catch (err) {
    if (err instanceof CertificateError) throw err;
    throw new CertificateError(`certificate unreadable: ${(err as Error).message}`);
  }
}

/** Trust anchors: the STI-CA roots, from PEM texts. */
export function readAnchors(pems: readonly string[]): X509Certificate[] {
  return pems.flatMap((pem) => (pem.match(PEM_BLOCK) ?? []).map((b) => new X509Certificate(b)));
}

const time = (text: string): number => new Date(text).getTime();

/**
 * Builds the chain from the leaf through the served intermediates to a trust anchor, with node's
 * X509Certificate (issuer names, signatures, CA flags); the leaf must be an ES256 key with a TNAuthList that
 * names an SPC. The dates are returned, not checked here: a cached signer is checked at each call's time.
 */
export function verifyChain(certs: readonly X509Certificate[], anchors: readonly X509Certificate[]): VerifiedSigner {
  const [leaf, ...pool] = certs;
  if (!leaf) throw new CertificateError('no certificate');
  const details = leaf.publicKey.asymmetricKeyDetails;
  if (leaf.publicKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1')
    throw new CertificateError('the signing certificate has no P-256 key (ES256)');
  if (leaf.ca) throw new CertificateError('the signing certificate is a CA certificate');
  let tn;
  try {
    tn = readTnAuthList(leaf.raw);
  } catch (err) {
    throw new CertificateError(`TNAuthList unreadable: ${(err as Error).message}`);
  }
  if (!tn) throw new CertificateError('the signing certificate has no TNAuthList');
  if (tn.spcs.length === 0) throw new CertificateError('the TNAuthList names no SPC');

  const path = [leaf];
  let current = leaf;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_CHAIN) throw new CertificateError('certificate chain too long');
    const anchor = anchors.find((a) => current.checkIssued(a) && current.verify(a.publicKey));
    if (anchor) {
      path.push(anchor);
      break;
    }
    const issuer = pool.find((c) => c.ca && !path.includes(c) && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) throw new CertificateError(`no chain from "${current.issuer.replace(/\n/g, ', ')}" to a trust anchor`);
    path.push(issuer);
    current = issuer;
  }
  return {
    key: leaf.publicKey,
    spcs: tn.spcs,
    notBefore: Math.max(...path.map((c) => time(c.validFrom))),
    notAfter: Math.min(...path.map((c) => time(c.validTo))),
    subject: leaf.subject.replace(/\n/g, ', '),
  };
}
