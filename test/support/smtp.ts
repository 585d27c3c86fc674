import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { tlsIdentity } from './stir-pki';

/**
 * A real SMTP server for the tests (smtp-server, the receiving side), with STARTTLS on a certificate of its own
 * and AUTH PLAIN/LOGIN for one user; every message is parsed back with mailparser.
 */
export interface TestSmtp {
  port: number;
  /** PEM file of the server's certificate, for the client's CA. */
  caFile: string;
  user: string;
  password: string;
  received: { envelope: { from: string; to: string[] }; raw: string; mail: ParsedMail }[];
  /** Refuse the next messages' recipients with this reply (e.g. 550) until cleared. */
  refuse?: { code: number; message: string };
  close(): Promise<void>;
}

export async function startSmtp(): Promise<TestSmtp> {
  const tls = await tlsIdentity('sg-test-smtp');
  const dir = mkdtempSync(join(tmpdir(), 'sg-smtp-'));
  const caFile = join(dir, 'smtp-ca.pem');
  writeFileSync(caFile, tls.pem);
  const state: TestSmtp = {
    port: 0,
    caFile,
    user: 'reports',
    password: 'relay-password-1',
    received: [],
    close: async () => undefined,
  };
  const server = new SMTPServer({
    key: tls.keyPem,
    cert: tls.pem,
    authMethods: ['PLAIN', 'LOGIN'],
    // no authentication before STARTTLS: a client that would send its password in clear is refused
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === state.user && auth.password === state.password) callback(null, { user: auth.username });
      else callback(new Error('invalid credentials'));
    },
    onRcptTo(_address, _session, callback) {
      if (state.refuse) {
        const err = new Error(state.refuse.message) as Error & { responseCode: number };
        err.responseCode = state.refuse.code;
        callback(err);
      } else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw)
          .then((mail) => {
            state.received.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              raw,
              mail,
            });
            callback();
          })
          .catch((err: Error) => callback(err));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.server.address() as AddressInfo).port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

/** The `reports` settings of a spoofguard that sends through the test server (`extra` overrides or adds). */
export const reportSettings = (smtp: TestSmtp, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  networkName: 'Example Carrier GmbH',
  from: 'fraud-desk@carrier.example',
  smtpHost: '127.0.0.1',
  smtpPort: smtp.port,
  smtpStartTls: true,
  smtpUser: smtp.user,
  smtpPassword: smtp.password,
  smtpCaFile: smtp.caFile,
  ...extra,
});
