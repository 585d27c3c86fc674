import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';

/**
 * A drachtio-server stand-in that speaks drachtio's TCP wire protocol, so the real drachtio-srf runs
 * unchanged against it. Frames are `<byte length>#<msgId>|<verb>|…` with the SIP message after CRLF. It
 * authenticates apps, takes their routes, answers pings, delivers SIP requests from the "network", records
 * what the app answers or proxies, and plays the far end: the next hop of proxied requests and the called
 * party of requests the app sends itself (a B2BUA's B leg), including their dialogs (ACK, BYE).
 *
 * Faithful to drachtio-server where the app can tell: `response|<msgId>|OK|<source>|<bytes>|<transport>|
 * <address>|<port>|<time>|<txn>|<dialog>` leaders, the echoed request as drachtio sent it, proxy results as
 * `…|||continue` per final response and then `done`, dialog ids as `<Call-ID>;from-tag=<tag>`.
 */
const CRLF = '\r\n';

export interface SipText {
  raw: string;
  /** The first header of that name. */
  header(name: string): string | undefined;
  /** Every header of that name, in order. */
  headers(name: string): string[];
}

export interface AppResponse extends SipText {
  kind: 'response';
  status: number;
  reason: string;
  /** The dialog drachtio created when the app answered 2xx (the A leg of a B2BUA). */
  dialogId?: string;
}

/** `raw` is the request as drachtio forwards it: the original with the app's headers added, a Via on top. */
export interface ProxyRecord extends SipText {
  kind: 'proxy';
  destinations: string[];
  /** Only what the app sent with the proxy command. */
  appHeaders: SipText;
}

export type AppAnswer = AppResponse | ProxyRecord;

/** A request the app sent itself (a B2BUA's INVITE, an in-dialog BYE), as drachtio put it on the wire. */
export interface OutgoingRequest extends SipText {
  method: string;
  uri: string;
  dialogId?: string;
}

interface AppState {
  authenticated: boolean;
  verbs: Set<string>;
}

const time = (): string => new Date().toISOString().slice(11, 23);

export function headersOf(raw: string, name: string): string[] {
  const lower = name.toLowerCase();
  const found: string[] = [];
  for (const line of raw.split(CRLF).slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === lower) found.push(line.slice(colon + 1).trim());
  }
  return found;
}

export const headerOf = (raw: string, name: string): string | undefined => headersOf(raw, name)[0];

const sipText = (raw: string): SipText => ({ raw, header: (n) => headerOf(raw, n), headers: (n) => headersOf(raw, n) });

/** Headers drachtio-server does not let an app set on a request it forwards or sends (dialog-level ones). */
const IMMUTABLE = new Set([
  'via',
  'call-id',
  'cseq',
  'from',
  'to',
  'contact',
  'max-forwards',
  'content-length',
  'route',
  'record-route',
]);

/**
 * A proxied request as it leaves drachtio: sofia adds the app's headers to the original (headers of one
 * instance replaced, others appended; it never removes one), decrements Max-Forwards, puts its Via on top.
 */
function forwardedRequest(original: string, appRequest: string, destination: string): string {
  let out = original.replace(/^(\S+) \S+ SIP\/2\.0/, `$1 ${destination} SIP/2.0`);
  const singletons = new Set(['p-asserted-identity', 'content-type', 'subject', 'expires']);
  for (const line of appRequest.slice(appRequest.indexOf(CRLF) + 2, appRequest.indexOf(CRLF + CRLF)).split(CRLF)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (IMMUTABLE.has(name.toLowerCase())) continue;
    if (singletons.has(name.toLowerCase())) out = withHeader(out, name, value);
    else out = appendHeader(out, name, value);
  }
  const hops = Number(headerOf(out, 'Max-Forwards') ?? '70');
  out = withHeader(out, 'Max-Forwards', String(hops - 1));
  return out.replace(CRLF, `${CRLF}Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-${randomUUID().slice(0, 8)}${CRLF}`);
}

function appendHeader(raw: string, name: string, value: string): string {
  const end = raw.indexOf(CRLF + CRLF);
  return `${raw.slice(0, end)}${CRLF}${name}: ${value}${raw.slice(end)}`;
}

/** Sets a header (replacing any of that name) in a SIP text; undefined removes it. */
function withHeader(raw: string, name: string, value: string | undefined): string {
  const end = raw.indexOf(CRLF + CRLF);
  const head = raw.slice(0, end).split(CRLF);
  const body = raw.slice(end + 4);
  const kept = head.filter(
    (line, i) => i === 0 || line.slice(0, line.indexOf(':')).trim().toLowerCase() !== name.toLowerCase(),
  );
  if (value !== undefined) kept.push(`${name}: ${value}`);
  return `${kept.join(CRLF)}${CRLF}${CRLF}${body}`;
}

const tagOf = (value: string | undefined): string | undefined => /;\s*tag=([^;>\s]+)/i.exec(value ?? '')?.[1];

export class DrachtioTestServer {
  private server?: Server;
  private readonly apps = new Map<Socket, AppState>();
  private readonly pendingByTxn = new Map<string, (answer: AppAnswer) => void>();
  /** Requests delivered from the network, by drachtio transaction id (to answer CANCEL, ACK). */
  private readonly delivered = new Map<string, string>();
  /** What the next hop of a proxied request answers; by default 200; 0: drachtio-server never reports a result. */
  answerProxy: (destination: string, request: SipText) => number = () => 200;
  /** What the called party of a request the app sends answers (after a 180); by default 200. */
  answerOutgoing: (request: OutgoingRequest) => number = () => 200;
  port = 0;
  /** Leaders of every frame, for debugging a test; off for benchmarks. */
  keepLog = true;
  readonly log: string[] = [];
  readonly outgoing: OutgoingRequest[] = [];
  /** In-dialog requests the app sent (BYE to either leg). */
  readonly inDialog: OutgoingRequest[] = [];
  /** ACKs the app sent for 2xx responses of its own INVITEs, by dialog id. */
  readonly acked = new Set<string>();
  /**
   * When the caller's ACK for the app's 2xx reaches the app, as the real drachtio-server does it (real suite):
   * after the echo of the 2xx (usual), before it (seen under load: the dialog is not known to the app yet),
   * or after it with the caller's BYE in the same TCP write (a caller hanging up at once).
   */
  callerAck: 'after-echo' | 'before-echo' | 'with-bye' = 'after-echo';
  /** BYEs the caller sent through callerAck 'with-bye', answered by the app, by dialog id. */
  readonly callerByes = new Map<string, number>();
  /** Proxied calls answered 2xx, by Call-ID: whether drachtio-server stays in the dialog (Record-Route). */
  readonly proxiedDialogs = new Map<string, { recordRoute: boolean }>();

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

  async waitRouted(method: string, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.routed(method) === 0) {
      if (Date.now() > until) throw new Error(`no app routed ${method} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private appFor(method: string): Socket | undefined {
    return [...this.apps.entries()].find(([, a]) => a.authenticated && a.verbs.has(method.toLowerCase()))?.[0];
  }

  /**
   * A SIP request arrives from the network (as sipp would send it); resolves with the app's final answer.
   * `raw` is the SIP text with CRLF line ends.
   */
  deliver(raw: string, from = { address: '192.0.2.10', port: 5060 }): Promise<AppAnswer> {
    const method = raw.slice(0, raw.indexOf(' ')).toLowerCase();
    const app = this.appFor(method);
    if (!app) return Promise.reject(new Error(`no app routed ${method}`));
    const txn = randomUUID();
    const answer = new Promise<AppAnswer>((resolve) => this.pendingByTxn.set(txn, resolve));
    this.delivered.set(txn, raw);
    this.sendSip(app, 'network', raw, from, txn, '');
    return answer;
  }

  /** The caller cancels an INVITE it delivered earlier (same Call-ID); drachtio answers the CANCEL itself. */
  cancel(inviteRaw: string, from = { address: '192.0.2.10', port: 5060 }): void {
    const app = this.appFor('invite');
    if (!app) throw new Error('no app routed invite');
    const cancel = inviteRaw
      .slice(0, inviteRaw.indexOf(CRLF + CRLF))
      .replace(/^INVITE /, 'CANCEL ')
      .replace(/CSeq: (\d+) INVITE/i, 'CSeq: $1 CANCEL')
      .split(CRLF)
      .filter((l) => !/^(content-type|contact)\s*:/i.test(l))
      .map((l) => (/^content-length\s*:/i.test(l) ? 'Content-Length: 0' : l))
      .join(CRLF);
    this.sendSip(app, 'network', `${cancel}${CRLF}${CRLF}`, from, randomUUID(), '');
  }

  /** The caller hangs up an answered call: BYE in the dialog the app's 2xx created. */
  hangUp(dialogId: string, answered: AppResponse, from = { address: '192.0.2.10', port: 5060 }): Promise<AppAnswer> {
    // in-dialog requests go to the app that owns the dialog, routed or not
    const app = [...this.apps.entries()].find(([, a]) => a.authenticated)?.[0];
    if (!app) return Promise.reject(new Error('no app connected'));
    const txn = randomUUID();
    const answer = new Promise<AppAnswer>((resolve) => this.pendingByTxn.set(txn, resolve));
    const bye = [
      `BYE ${/<([^>]+)>/.exec(answered.header('Contact') ?? '')?.[1] ?? 'sip:127.0.0.1:5060'} SIP/2.0`,
      `Via: SIP/2.0/UDP ${from.address}:${from.port};branch=z9hG4bK-${txn.slice(0, 8)}`,
      'Max-Forwards: 70',
      `From: ${answered.header('To')}`,
      `To: ${answered.header('From')}`,
      `Call-ID: ${answered.header('Call-ID')}`,
      'CSeq: 2 BYE',
      'Content-Length: 0',
      '',
      '',
    ].join(CRLF);
    this.sendSip(app, 'network', bye, from, txn, dialogId);
    return answer;
  }

  /**
   * A request inside a proxied dialog, as the real drachtio-server treats it (real suite): one that follows
   * the route set (a Route header naming drachtio) of a record-routed dialog is passed on to the other side
   * without the app; anything else is answered 481 (BYE, UPDATE) or dropped (ACK), and the app never sees it.
   */
  inProxiedDialog(callId: string, method: string, followsRouteSet: boolean): 'passed-on' | 481 | 'dropped' {
    const dialog = this.proxiedDialogs.get(callId);
    if (dialog?.recordRoute && followsRouteSet) {
      if (method === 'BYE') this.proxiedDialogs.delete(callId);
      return 'passed-on';
    }
    return method === 'ACK' ? 'dropped' : 481;
  }

  private sendSip(
    socket: Socket,
    source: string,
    raw: string,
    from: { address: string; port: number },
    txn: string,
    dialogId: string,
  ): void {
    const leader = [
      'sip',
      source,
      Buffer.byteLength(raw),
      'udp',
      from.address,
      from.port,
      time(),
      txn,
      dialogId,
      '127.0.0.1',
      '5060',
    ].join('|');
    this.send(socket, `${leader}${CRLF}${raw}`);
  }

  private accept(socket: Socket): void {
    this.apps.set(socket, { authenticated: false, verbs: new Set() });
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const hash = buffer.indexOf('#');
        if (hash < 0) break;
        const length = Number(buffer.subarray(0, hash).toString('utf8'));
        if (!Number.isFinite(length) || buffer.length < hash + 1 + length) break;
        const message = buffer.subarray(hash + 1, hash + 1 + length).toString('utf8');
        buffer = buffer.subarray(hash + 1 + length);
        this.handle(socket, message);
      }
    });
    socket.on('close', () => this.apps.delete(socket));
    socket.on('error', () => this.apps.delete(socket));
  }

  private send(socket: Socket, payload: string): string {
    const id = randomUUID();
    const text = `${id}|${payload}`;
    if (this.keepLog) this.log.push(`<== ${text.split(CRLF)[0]}`);
    if (!socket.destroyed) socket.write(`${Buffer.byteLength(text, 'utf8')}#${text}`);
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
    if (this.keepLog) this.log.push(`==> ${leader}`);
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
    if (verb === 'sip' && sip.startsWith('SIP/2.0 ')) return this.appResponse(socket, id, args, sip);
    if (verb === 'sip') return this.appRequest(socket, id, args, sip);
    if (verb === 'proxy') return this.proxy(socket, id, args, sip);
    this.reply(socket, id, ['NOK', `unsupported: ${verb}`]);
  }

  /** The app answers a request we delivered: `sip|<txn>|<dialog>` + the SIP response. */
  private appResponse(socket: Socket, id: string, args: string[], sip: string): void {
    const [txn] = args;
    const status = Number(/^SIP\/2\.0 (\d{3})/.exec(sip)?.[1]);
    const reason = /^SIP\/2\.0 \d{3} ?([^\r\n]*)/.exec(sip)?.[1] ?? '';
    const request = this.delivered.get(txn);
    let sent = sip;
    let dialogId = args[1] ?? '';
    if (request && status >= 200 && status < 300 && request.startsWith('INVITE ')) {
      // drachtio completes the response (To tag, Contact) and creates the UAS dialog
      const to = headerOf(sent, 'To') ?? headerOf(request, 'To') ?? '';
      if (!tagOf(to)) sent = withHeader(sent, 'To', `${to};tag=${randomUUID().slice(0, 8)}`);
      if (!headerOf(sent, 'Contact')) sent = withHeader(sent, 'Contact', '<sip:127.0.0.1:5060>');
      dialogId = `${headerOf(request, 'Call-ID')};from-tag=${tagOf(headerOf(sent, 'To'))}`;
    }
    const echo = (): void =>
      this.reply(
        socket,
        id,
        ['OK', 'application', Buffer.byteLength(sent), 'udp', '127.0.0.1', '5060', time(), txn, dialogId],
        sent,
      );
    const answered = request?.startsWith('INVITE ') === true && status >= 200 && status < 300;
    if (!(answered && this.callerAck === 'before-echo')) echo();
    if (status >= 200) {
      const resolve = this.pendingByTxn.get(txn);
      this.pendingByTxn.delete(txn);
      if (answered && request) {
        // the caller's ACK for the 2xx, in the new dialog; after a late offer (no SDP in the INVITE) it
        // carries the caller's answer
        const lateOffer = request.slice(request.indexOf(CRLF + CRLF) + 4).length === 0;
        const body = lateOffer
          ? 'v=0\r\no=- 3 3 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n'
          : '';
        const inDialog = (method: string, cseq: string, content: string): string =>
          [
            `${method} ${/<([^>]+)>/.exec(headerOf(sent, 'Contact') ?? '')?.[1] ?? 'sip:127.0.0.1'} SIP/2.0`,
            `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${method.toLowerCase()}-${randomUUID().slice(0, 8)}`,
            'Max-Forwards: 70',
            `From: ${headerOf(sent, 'From')}`,
            `To: ${headerOf(sent, 'To')}`,
            `Call-ID: ${headerOf(sent, 'Call-ID')}`,
            `CSeq: ${cseq} ${method}`,
            ...(content ? ['Content-Type: application/sdp'] : []),
            `Content-Length: ${Buffer.byteLength(content)}`,
            '',
            content,
          ].join(CRLF);
        const cseq = /^(\d+)/.exec(headerOf(sent, 'CSeq') ?? '1')?.[1] ?? '1';
        const caller = { address: '192.0.2.10', port: 5060 };
        // ACK and BYE leave in one TCP write, as drachtio-server's writes of two quick messages do
        if (this.callerAck === 'with-bye') socket.cork();
        this.sendSip(socket, 'network', inDialog('ACK', cseq, body), caller, randomUUID(), dialogId);
        if (this.callerAck === 'before-echo') echo();
        if (this.callerAck === 'with-bye') {
          const byeTxn = randomUUID();
          this.pendingByTxn.set(byeTxn, (answer) => {
            if (answer.kind === 'response') this.callerByes.set(dialogId, answer.status);
          });
          this.sendSip(socket, 'network', inDialog('BYE', String(Number(cseq) + 1), ''), caller, byeTxn, dialogId);
          socket.uncork();
        }
      }
      if (!(request?.startsWith('INVITE ') && status < 300)) this.delivered.delete(txn);
      resolve?.({ kind: 'response', status, reason, dialogId: dialogId || undefined, ...sipText(sent) });
    }
  }

  /**
   * The app sends a request itself: `sip|<txn>|<dialog>` + the request. drachtio fills in what the app left
   * out (Via, Call-ID, From tag, CSeq, Contact), echoes the request as sent, then the far end answers.
   */
  private appRequest(socket: Socket, id: string, args: string[], sip: string): void {
    const [, dialogId = ''] = args;
    const requestLine = sip.slice(0, sip.indexOf(CRLF));
    const [method, uri] = requestLine.split(' ');
    const txn = randomUUID();
    let sent = sip;
    if (method === 'ACK') {
      this.acked.add(dialogId);
      this.reply(
        socket,
        id,
        ['OK', 'application', Buffer.byteLength(sent), 'udp', '127.0.0.1', '5060', time(), txn, dialogId],
        sent,
      );
      return;
    }
    const dialog = this.outgoing.find((o) => o.dialogId === dialogId && dialogId !== '');
    if (dialog) {
      // in-dialog: drachtio takes Call-ID, From, To and the remote target from the dialog
      sent = `${method} ${dialog.uri} SIP/2.0${sip.slice(sip.indexOf(CRLF))}`;
      for (const name of ['Call-ID', 'From', 'To'])
        sent = withHeader(sent, name, dialog.header(name) + (name === 'To' ? `;tag=b-${dialogId.slice(-8)}` : ''));
      sent = withHeader(sent, 'CSeq', `2 ${method}`);
    } else {
      sent = withHeader(sent, 'Call-ID', headerOf(sent, 'Call-ID') ?? randomUUID());
      const from = headerOf(sent, 'From') ?? '<sip:spoofguard@127.0.0.1>';
      sent = withHeader(sent, 'From', tagOf(from) ? from : `${from};tag=${randomUUID().slice(0, 8)}`);
      sent = withHeader(sent, 'To', headerOf(sent, 'To') ?? `<${uri}>`);
      sent = withHeader(sent, 'CSeq', `1 ${method}`);
      sent = withHeader(sent, 'Contact', headerOf(sent, 'Contact') ?? '<sip:127.0.0.1:5060>');
    }
    sent = withHeader(sent, 'Via', `SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-${txn.slice(0, 8)}`);
    sent = withHeader(sent, 'Max-Forwards', headerOf(sent, 'Max-Forwards') ?? '70');
    const record: OutgoingRequest = { method, uri, ...sipText(sent), ...(dialogId ? { dialogId } : {}) };
    if (!dialogId) this.outgoing.push(record);
    else this.inDialog.push(record);
    this.reply(
      socket,
      id,
      ['OK', 'application', Buffer.byteLength(sent), 'udp', '127.0.0.1', '5060', time(), txn, dialogId],
      sent,
    );
    setImmediate(() => this.farEndAnswers(socket, record, txn, dialogId !== ''));
  }

  private farEndAnswers(socket: Socket, request: OutgoingRequest, txn: string, inDialog: boolean): void {
    const status = inDialog || request.method !== 'INVITE' ? 200 : this.answerOutgoing(request);
    const toTag = `b-${randomUUID().slice(0, 8)}`;
    const response = (code: number, reason: string, withBody: boolean): string => {
      const body = withBody
        ? 'v=0\r\no=- 2 2 IN IP4 198.51.100.30\r\ns=-\r\nc=IN IP4 198.51.100.30\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n'
        : '';
      return [
        `SIP/2.0 ${code} ${reason}`,
        `Via: ${request.header('Via')}`,
        `From: ${request.header('From')}`,
        `To: ${request.header('To')}${inDialog || code === 100 ? '' : `;tag=${toTag}`}`,
        `Call-ID: ${request.header('Call-ID')}`,
        `CSeq: ${request.header('CSeq')}`,
        ...(code >= 180 && code < 300 && !inDialog ? [`Contact: <${request.uri}>`] : []),
        ...(withBody ? ['Content-Type: application/sdp'] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join(CRLF);
    };
    const dialogId = `${request.header('Call-ID')};from-tag=${tagOf(request.header('From'))}`;
    const far = { address: '198.51.100.30', port: 5060 };
    if (request.method === 'INVITE' && !inDialog)
      this.sendSip(socket, 'network', response(180, 'Ringing', false), far, txn, '');
    const final = response(
      status,
      status === 200 ? 'OK' : status === 486 ? 'Busy Here' : 'Failed',
      status === 200 && request.method === 'INVITE' && !inDialog,
    );
    if (status >= 200 && status < 300 && request.method === 'INVITE') request.dialogId = dialogId;
    this.sendSip(socket, 'network', final, far, txn, status < 300 && request.method === 'INVITE' ? dialogId : '');
  }

  /** `proxy|<txn>|remainInDialog|fullResponse|followRedirects|simultaneous|provTimeout|finalTimeout|<dest>…` */
  private proxy(socket: Socket, id: string, args: string[], sip: string): void {
    const [txn, remainInDialog, , , , , , ...destinations] = args;
    const request = this.delivered.get(txn) ?? '';
    this.delivered.delete(txn);
    const forwarded = forwardedRequest(request, sip, destinations[0] ?? '');
    for (const destination of destinations) {
      const status = this.answerProxy(destination, sipText(forwarded));
      if (status === 0) return;
      const response = [
        `SIP/2.0 ${status} ${status === 200 ? 'OK' : 'Failed'}`,
        `Call-ID: ${headerOf(request, 'Call-ID') ?? headerOf(sip, 'Call-ID') ?? txn}`,
        `CSeq: ${headerOf(request, 'CSeq') ?? '1 INVITE'}`,
        'Content-Length: 0',
        '',
        '',
      ].join(CRLF);
      // as drachtio-server: `<source>|<bytes>|<transport>|<address>|<port>|<time>|||continue`
      this.reply(
        socket,
        id,
        ['OK', 'network', Buffer.byteLength(response), 'udp', '198.51.100.20', '5060', time(), '', '', 'continue'],
        response,
      );
      if (status < 300) {
        this.proxiedDialogs.set(headerOf(request, 'Call-ID') ?? txn, {
          recordRoute: remainInDialog === 'remainInDialog',
        });
        break;
      }
    }
    this.reply(socket, id, ['OK', 'done']);
    const resolve = this.pendingByTxn.get(txn);
    this.pendingByTxn.delete(txn);
    resolve?.({ kind: 'proxy', destinations, appHeaders: sipText(sip), ...sipText(forwarded) });
  }
}
