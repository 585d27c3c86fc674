import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';

/**
 * A drachtio-server stand-in that speaks drachtio's TCP wire protocol, so the real drachtio-srf runs
 * unchanged against it. Frames are `<byte length>#<msgId>|<verb>|…` with the SIP message after CRLF. It
 * authenticates apps, takes their routes, answers pings, delivers SIP requests from the "network", and
 * records what the app answers or proxies, then plays the next hop for proxied requests.
 */
const CRLF = '\r\n';

export interface AppResponse {
  kind: 'response';
  status: number;
  reason: string;
  raw: string;
  header(name: string): string | undefined;
}

export interface ProxyRecord {
  kind: 'proxy';
  destinations: string[];
  /** Headers the app set on the proxied request (drachtio-srf sends only those, plus the request line). */
  raw: string;
  header(name: string): string | undefined;
}

export type AppAnswer = AppResponse | ProxyRecord;

interface Pending {
  resolve(answer: AppAnswer): void;
}

function headerOf(raw: string, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const line of raw.split(CRLF).slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === lower) return line.slice(colon + 1).trim();
  }
  return undefined;
}

export class DrachtioTestServer {
  private server?: Server;
  private readonly apps = new Map<Socket, { authenticated: boolean; verbs: Set<string> }>();
  private readonly pendingByTxn = new Map<string, Pending>();
  /** What the next hop answers to proxied requests. */
  nextHopStatus = 200;
  port = 0;
  readonly log: string[] = [];

  constructor(readonly secret = 'cymru') {}

  async start(port = 0): Promise<void> {
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
  }

  /** Drops every app connection and stops listening, as when drachtio-server restarts. */
  async stop(): Promise<void> {
    for (const socket of this.apps.keys()) socket.destroy();
    this.apps.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Apps that authenticated and routed this SIP method. */
  routed(method: string): number {
    return [...this.apps.values()].filter((a) => a.authenticated && a.verbs.has(method.toLowerCase())).length;
  }

  /**
   * A SIP request arrives from the network (as sipp would send it); resolves with the app's final answer.
   * `raw` is the SIP text with CRLF line ends.
   */
  deliver(raw: string, from = { address: '192.0.2.10', port: 5060 }): Promise<AppAnswer> {
    const method = raw.slice(0, raw.indexOf(' ')).toLowerCase();
    const app = [...this.apps.entries()].find(([, a]) => a.authenticated && a.verbs.has(method));
    if (!app) return Promise.reject(new Error(`no app routed ${method}`));
    const txn = randomUUID();
    const dialog = randomUUID();
    const answer = new Promise<AppAnswer>((resolve) => this.pendingByTxn.set(txn, { resolve }));
    const leader = [
      'sip',
      'network',
      Buffer.byteLength(raw),
      'udp',
      from.address,
      from.port,
      new Date().toISOString().slice(11, 23),
      txn,
      dialog,
      '127.0.0.1',
      '5060',
    ].join('|');
    this.send(app[0], `${leader}${CRLF}${raw}`);
    return answer;
  }

  private accept(socket: Socket): void {
    this.apps.set(socket, { authenticated: false, verbs: new Set() });
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const hash = buffer.indexOf('#');
        if (hash < 0) break;
        const length = Number(buffer.slice(0, hash));
        const body = Buffer.from(buffer.slice(hash + 1), 'utf8');
        if (!Number.isFinite(length) || body.length < length) break;
        const message = body.subarray(0, length).toString('utf8');
        buffer = body.subarray(length).toString('utf8');
        this.handle(socket, message);
      }
    });
    socket.on('close', () => this.apps.delete(socket));
    socket.on('error', () => this.apps.delete(socket));
  }

  private send(socket: Socket, payload: string): string {
    const id = randomUUID();
    const text = `${id}|${payload}`;
    this.log.push(`<== ${text.split(CRLF)[0]}`);
    socket.write(`${Buffer.byteLength(text, 'utf8')}#${text}`);
    return id;
  }

  private reply(socket: Socket, requestId: string, tokens: (string | number)[], sip?: string): void {
    this.send(socket, `response|${requestId}|${tokens.join('|')}${sip ? CRLF + sip : ''}`);
  }

  private handle(socket: Socket, message: string): void {
    const crlf = message.indexOf(CRLF);
    const leader = crlf < 0 ? message : message.slice(0, crlf);
    const sip = crlf < 0 ? '' : message.slice(crlf + 2);
    const [id, verb, ...args] = leader.split('|');
    this.log.push(`==> ${leader}`);
    const app = this.apps.get(socket);
    if (!app) return;
    if (verb === 'authenticate') {
      app.authenticated = args[0] === this.secret;
      return this.reply(
        socket,
        id,
        app.authenticated ? ['OK', '127.0.0.1:5060', 'v0.8.26', 'udp/127.0.0.1:5060'] : ['NOK', 'invalid secret'],
      );
    }
    if (!app.authenticated) return this.reply(socket, id, ['NOK', 'not authenticated']);
    if (verb === 'ping') return this.reply(socket, id, ['OK']);
    if (verb === 'route') {
      app.verbs.add(args[0]);
      return this.reply(socket, id, ['OK']);
    }
    if (verb === 'remove_route') {
      app.verbs.delete(args[0]);
      return this.reply(socket, id, ['OK']);
    }
    if (verb === 'sip') {
      // a response the app sends to a request we delivered: `sip|<txn>|<dialog>` + the SIP response
      const [txn] = args;
      const status = Number(/^SIP\/2\.0 (\d{3})/.exec(sip)?.[1]);
      const reason = /^SIP\/2\.0 \d{3} ?([^\r\n]*)/.exec(sip)?.[1] ?? '';
      this.reply(
        socket,
        id,
        [
          'OK',
          'application',
          Buffer.byteLength(sip),
          'udp',
          '127.0.0.1',
          '5060',
          new Date().toISOString().slice(11, 23),
          txn,
          args[1] ?? '',
        ],
        sip,
      );
      if (status >= 200) {
        this.pendingByTxn
          .get(txn)
          ?.resolve({ kind: 'response', status, reason, raw: sip, header: (n) => headerOf(sip, n) });
        this.pendingByTxn.delete(txn);
      }
      return;
    }
    if (verb === 'proxy') {
      // proxy|<txn>|remainInDialog|fullResponse|followRedirects|simultaneous|provTimeout|finalTimeout|<dest>…
      const [txn, , , , , , , ...destinations] = args;
      const status = this.nextHopStatus;
      const response = [
        `SIP/2.0 ${status} ${status === 200 ? 'OK' : 'Failed'}`,
        `Call-ID: ${headerOf(sip, 'Call-ID') ?? txn}`,
        'Content-Length: 0',
        '',
        '',
      ].join(CRLF);
      this.reply(
        socket,
        id,
        [
          'OK',
          'network',
          Buffer.byteLength(response),
          'udp',
          '198.51.100.20',
          '5060',
          new Date().toISOString().slice(11, 23),
          txn,
          '',
          'continue',
        ],
        response,
      );
      this.reply(socket, id, ['OK', 'done']);
      this.pendingByTxn.get(txn)?.resolve({ kind: 'proxy', destinations, raw: sip, header: (n) => headerOf(sip, n) });
      this.pendingByTxn.delete(txn);
      return;
    }
    this.reply(socket, id, ['NOK', `unsupported: ${verb}`]);
  }
}
