import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';

/**
 * A test STI-CA made inside the tests: root → intermediate → service-provider certificate with a TNAuthList
 * (RFC 8226), and a local HTTPS certificate repository on 127.0.0.2 serving them (and misbehaving on request).
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
const DAY = 86400000;
let serial = 1;

const keys = (alg: typeof EC | typeof RSA = EC) =>
  webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;

/** TNAuthList with one SPC entry ([0] EXPLICIT IA5String), DER. */
export function tnAuthListDer(spc: string): ArrayBuffer {
  const entry = new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 0 },
    value: [new asn1js.IA5String({ value: spc })],
  });
  return new asn1js.Sequence({ value: [entry] }).toBER();
}

export interface Issued {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  pem: string;
  /** The private key, PKCS#8 PEM. */
  keyPem: string;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END PRIVATE KEY-----\n`;
}

async function issue(o: {
  name: string;
  issuer?: Issued;
  ca: boolean;
  notBefore?: Date;
  notAfter?: Date;
  extensions?: x509.Extension[];
  rsa?: boolean;
}): Promise<Issued> {
  const pair = await keys(o.rsa ? RSA : EC);
  const extensions = [
    new x509.BasicConstraintsExtension(o.ca, undefined, true),
    new x509.KeyUsagesExtension(
      o.ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(pair.publicKey),
    ...(o.extensions ?? []),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject: `CN=${o.name}`,
    issuer: o.issuer ? o.issuer.cert.subject : `CN=${o.name}`,
    notBefore: o.notBefore ?? new Date(Date.now() - DAY),
    notAfter: o.notAfter ?? new Date(Date.now() + 365 * DAY),
    signingAlgorithm: !o.issuer && o.rsa ? RSA : EC, // every issuer here is EC
    publicKey: pair.publicKey,
    signingKey: o.issuer ? o.issuer.keys.privateKey : pair.privateKey,
    extensions,
  });
  return { cert, keys: pair, pem: cert.toString('pem') + '\n', keyPem: await keyPem(pair.privateKey) };
}

export interface TestPki {
  root: Issued;
  intermediate: Issued;
  /** The service provider's signing certificate (TNAuthList with SPC "1234"). */
  leaf: Issued;
  /** What the repository serves for the leaf: leaf then intermediate, PEM. */
  chainPem: string;
  issueLeaf(o?: {
    notBefore?: Date;
    notAfter?: Date;
    tnAuthList?: boolean;
    rsa?: boolean;
    issuer?: Issued;
  }): Promise<Issued>;
  /** Another root with its own intermediate (unknown to the verifier). */
  otherIntermediate: Issued;
}

export async function makePki(): Promise<TestPki> {
  const root = await issue({ name: 'SG Test STI-CA Root', ca: true });
  const intermediate = await issue({ name: 'SG Test STI-CA Intermediate', ca: true, issuer: root });
  const otherRoot = await issue({ name: 'Unknown Root', ca: true });
  const otherIntermediate = await issue({ name: 'Unknown Intermediate', ca: true, issuer: otherRoot });
  const issueLeaf: TestPki['issueLeaf'] = (o = {}) =>
    issue({
      name: 'SG Test Carrier SHAKEN 1234',
      ca: false,
      issuer: o.issuer ?? intermediate,
      ...(o.notBefore ? { notBefore: o.notBefore } : {}),
      ...(o.notAfter ? { notAfter: o.notAfter } : {}),
      ...(o.rsa ? { rsa: true } : {}),
      extensions:
        o.tnAuthList === false ? [] : [new x509.Extension('1.3.6.1.5.5.7.1.26', false, tnAuthListDer('1234'))],
    });
  const leaf = await issueLeaf();
  return { root, intermediate, leaf, chainPem: leaf.pem + intermediate.pem, issueLeaf, otherIntermediate };
}

export interface PassportInput {
  orig: string;
  dest: string[];
  attest?: string;
  iat?: number;
  origid?: string;
  x5u: string;
  ppt?: string;
  typ?: string;
}

/** A SHAKEN PASSporT signed with `key` (ES256), compact JWS. */
export async function signPassport(keyPemText: string, p: PassportInput): Promise<string> {
  const key = await importPKCS8(keyPemText, 'ES256');
  return new SignJWT({
    attest: p.attest ?? 'A',
    dest: { tn: p.dest },
    iat: p.iat ?? Math.floor(Date.now() / 1000),
    orig: { tn: p.orig },
    origid: p.origid ?? '123e4567-e89b-12d3-a456-426614174000',
  })
    .setProtectedHeader({ alg: 'ES256', typ: p.typ ?? 'passport', ppt: p.ppt ?? 'shaken', x5u: p.x5u })
    .sign(key);
}

/** The Identity header value of a PASSporT (RFC 8224 full form with info, alg and ppt). */
export const identityHeader = (token: string, x5u: string, ppt = 'shaken'): string =>
  `${token};info=<${x5u}>;alg=ES256;ppt=${ppt}`;

export const b64url = (v: object | string): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A repository route: a body with headers, or `hang` (never answers), or a redirect. */
export type Route =
  | { body: string | Buffer; cacheControl?: string; delayMs?: number }
  | { redirect: string }
  | { hang: true }
  | { status: number };

export interface CertRepository {
  /** https://127.0.0.2:<port> */
  base: string;
  port: number;
  routes: Map<string, Route>;
  /** Requests per path. */
  hits: Map<string, number>;
  /** PEM files for the config: the trust anchor and the repository's TLS CA. */
  anchorFile: string;
  tlsCaFile: string;
  close(): Promise<void>;
}

/** A self-signed TLS server certificate for `host`, 127.0.0.1 and localhost (test servers: HTTPS, SMTP). */
export function tlsIdentity(name: string, host = '127.0.0.1'): Promise<Issued> {
  return issue({
    name,
    ca: false,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: host },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ],
  });
}

/**
 * The `stir` settings of a spoofguard that trusts the test STI-CA and may fetch from the repository on 127.0.0.2.
 * A cold fetch from it must not run out of a call's budget on a loaded box: 2 s unless `extra` says otherwise.
 */
export const stirSettings = (repo: CertRepository, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  trustAnchors: [repo.anchorFile],
  fetchCa: [repo.tlsCaFile],
  allowNetworks: ['127.0.0.2/32'],
  callBudgetMs: 2000,
  ...extra,
});

/** The local HTTPS certificate repository, with its own TLS certificate for 127.0.0.2 and localhost. */
export async function startRepository(pki: TestPki, host = '127.0.0.2'): Promise<CertRepository> {
  const tls = await tlsIdentity('sg-test-repository', host);
  const dir = mkdtempSync(join(tmpdir(), 'sg-stir-'));
  const anchorFile = join(dir, 'anchors.pem');
  const tlsCaFile = join(dir, 'repository-ca.pem');
  writeFileSync(anchorFile, pki.root.pem);
  writeFileSync(tlsCaFile, tls.pem);
  const routes = new Map<string, Route>();
  const hits = new Map<string, number>();
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer({ key: tls.keyPem, cert: tls.pem }, (req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (!route) return void res.writeHead(404).end();
    if ('hang' in route) return void hanging.add(res);
    if ('redirect' in route) return void res.writeHead(302, { location: route.redirect }).end();
    if ('status' in route) return void res.writeHead(route.status).end();
    const send = () => {
      res.writeHead(200, {
        'content-type': 'application/x-pem-file',
        ...(route.cacheControl ? { 'cache-control': route.cacheControl } : {}),
      });
      res.end(route.body);
    };
    if (route.delayMs) setTimeout(send, route.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `https://${host}:${port}`,
    port,
    routes,
    hits,
    anchorFile,
    tlsCaFile,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The subject of a PEM certificate (to check what was served). */
export const subjectOf = (pem: string): string => new X509Certificate(pem).subject;
