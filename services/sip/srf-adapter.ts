import { callerTimer, calleeOffer, refreshAnswerHeaders, termsHeaders } from './session-timer';
import type { EventEmitter } from 'node:events';
import Srf from 'drachtio-srf';
import type { Logger } from '../common/logger';
import { excerpt } from '../common/excerpt';
import { headerLinesOf, readableSip, requestMethod } from './sip-text';
import {
  addStatusTexts,
  type AgentInternals,
  checkSrfInternals,
  interceptAgentMessages,
  type SrfApp,
  stopReconnecting,
} from './srf-patches';

/**
 * The only module that imports drachtio-srf. It connects to drachtio-server and reconnects forever (capped
 * backoff), and turns drachtio's request and response objects into the small interface the SIP front's
 * middleware works on: read a request, answer it, proxy it, or bridge it as a B2BUA when headers must go.
 */
export interface DrachtioSettings {
  host: string;
  port: number;
  secret: string;
}

export interface InboundRequest {
  readonly method: string;
  readonly uri: string;
  readonly callId: string;
  readonly source: { address: string; port: number };
  /** Size of the whole SIP message as received. */
  readonly bytes: number;
  /** A header's value (several of one name joined by ","); undefined when absent. */
  header(name: string): string | undefined;
  headerNames(): string[];
  /**
   * Each line of a header as it came, unfolded: a header sent as several lines (Identity, RFC 8224, is not
   * list-safe) is copied as several lines, never joined by ",".
   */
  headerLines(name: string): string[];
}

export interface ProxyResult {
  /** The final status drachtio-server passed upstream; undefined when no target answered (it sent 408). */
  finalStatus?: number;
}

export interface BridgedCall {
  /** Resolves when either side hangs up, or the app ends the call; says who did. */
  ended: Promise<'caller' | 'callee' | 'app'>;
  /** Ends both legs (BYE to each). */
  hangUp(): void;
}

/** The B leg answered with a failure (passed on to the caller as it came). */
export class BridgeFailed extends Error {
  constructor(readonly status: number) {
    super(`B leg answered ${status}`);
  }
}

/** One server transaction: the request and what the app may do with it, once. */
export interface ServerTransaction {
  readonly request: InboundRequest;
  reply(status: number, reason?: string, headers?: Record<string, string>): void;
  /**
   * Stateful proxy. With recordRoute drachtio-server stays in the dialog (Record-Route) and passes its
   * in-dialog requests on; the app leaves the call once a final response went upstream either way.
   */
  proxy(targets: string[], headers: Record<string, string>, recordRoute: boolean): Promise<ProxyResult>;
  /**
   * Back-to-back user agent: a new INVITE carrying only `headers` (the app decides every header that goes
   * on), answered to the caller as the callee answers. Rejects with BridgeFailed when the callee fails.
   */
  bridge(target: string, headers: Record<string, string>): Promise<BridgedCall>;
}

export type RequestHandler = (transaction: ServerTransaction) => void;

const backoff = { retryMaxDelay: 5000 };

/** How long a caller's ACK may wait for the dialog it belongs to (see readEveryMessage): 100 × 20 ms. */
const ACK_WAIT_TRIES = 100;
const ACK_WAIT_STEP_MS = 20;

/** A message drachtio-server accepted but drachtio-srf cannot read (a request among them was answered 400). */
export interface UnreadableRequest {
  method?: string;
  source: string;
  bytes: number;
  firstLine: string;
}

export class SrfConnection {
  private readonly srf = new Srf();
  private connectedNow = false;
  private unreachableSaid = false;
  private closing = false;
  private readonly bridges = new Set<Srf.Dialog>();
  /** Sees each request answered 400 because it could not be read (metrics). */
  onUnreadable?: (request: UnreadableRequest) => void;

  constructor(
    private readonly settings: DrachtioSettings,
    private readonly logger: Logger,
    /** Bridged calls' session timers (RFC 4028): the interval we ask for; 0 turns them off. */
    private readonly calls: { sessionExpiresSec: number } = { sessionExpiresSec: 0 },
  ) {
    // the SIP front refuses to start on a drachtio-srf whose internals moved (srf-patches.ts)
    checkSrfInternals();
    addStatusTexts();
    this.readEveryMessage();
    this.srf.on('connect', (err: Error | undefined, hostport: string) => {
      if (err) return;
      this.connectedNow = true;
      this.unreachableSaid = false;
      this.logger.info(
        { drachtio: `${settings.host}:${settings.port}`, sip: hostport },
        'connected to drachtio-server',
      );
    });
    // drachtio-srf emits 'error' for refused connections and retries by itself; one line, not a flood
    this.srf.on('error', (err: Error) => {
      if (this.closing) return;
      if (this.connectedNow) {
        this.connectedNow = false;
        this.logger.warn({ err: err.message }, 'drachtio-server connection lost: reconnecting');
      } else if (!this.unreachableSaid) {
        this.unreachableSaid = true;
        this.logger.warn(
          { drachtio: `${settings.host}:${settings.port}`, err: err.message },
          'drachtio-server unreachable: retrying every few seconds',
        );
      }
    });
    (this.srf as EventEmitter).on('close', () => {
      if (this.closing || !this.connectedNow) return;
      this.connectedNow = false;
      this.logger.warn('drachtio-server connection closed: reconnecting');
    });
  }

  /**
   * drachtio-srf reads each message from drachtio-server with a parser stricter than drachtio-server's own:
   * what it cannot read it drops with a console.error, and an INVITE then never gets a final answer. Every
   * message passes here first: made readable as drachtio-server read it (sip-text.ts), or, when even that
   * fails, answered 400 with a log line that says why — never left hanging, never screened as clean.
   */
  private readEveryMessage(): void {
    const app = this.app;
    const srf = this.srf as unknown as { findDialogById(id: string): unknown };
    const findDialog = (id: string): boolean => srf.findDialogById(id) !== undefined;
    const logger = this.logger;
    interceptAgentMessages(app, (agent, pass) => {
      /** Messages of a dialog that wait behind its ACK, in the order they came. */
      const held = new Map<string, string[]>();

      const take = (socket: unknown, wire: string): void => {
        const read = readable(wire);
        if (!read.ok) return answerUnreadable(agent, socket, read);
        const waiting = read.dialog ? held.get(read.dialog) : undefined;
        if (waiting) return void waiting.push(read.wire);
        // An ACK holds back what comes after it in its dialog until drachtio-srf has handled it:
        // - drachtio-server may pass on the caller's ACK before the echo of the 200 it answers; the dialog is
        //   then not known yet and drachtio-srf would drop the ACK;
        // - drachtio-srf emits a dialog's 'ack' one macrotask late, but handles a BYE at once and removes
        //   every listener: an ACK and BYE that came together lost the ACK.
        // Either way createB2BUA of a call without SDP (it listens for the ACK to answer the called leg)
        // waited forever, and the called leg never got its ACK or BYE.
        if (read.ack && read.dialog) {
          held.set(read.dialog, []);
          return settleAck(socket, read.dialog, read.wire, 0);
        }
        pass(socket, read.wire);
      };

      const settleAck = (socket: unknown, dialog: string, ack: string, tries: number): void => {
        if (!findDialog(dialog) && tries < ACK_WAIT_TRIES)
          return void setTimeout(() => settleAck(socket, dialog, ack, tries + 1), ACK_WAIT_STEP_MS);
        if (!findDialog(dialog))
          logger.warn(
            { dialog, waitedMs: ACK_WAIT_TRIES * ACK_WAIT_STEP_MS },
            'ACK for a dialog the app does not hold: passed on (a late retransmission, or a call already gone)',
          );
        pass(socket, ack);
        // drachtio-srf's own 'ack' emit is queued now: what waited behind the ACK goes after it
        setImmediate(() => {
          const behind = held.get(dialog) ?? [];
          held.delete(dialog);
          for (const wire of behind) pass(socket, wire);
        });
      };

      return take;
    });
    const answerUnreadable = (agent: AgentInternals, socket: unknown, read: Unreadable): void => {
      const info: UnreadableRequest = {
        source: read.source,
        bytes: Buffer.byteLength(read.sip),
        firstLine: excerpt(read.sip),
        ...(read.method ? { method: read.method } : {}),
      };
      if (read.method && read.method !== 'ACK' && read.transactionId) {
        // a bare status line: drachtio-server completes the response from the request it holds
        agent.sendMessage(socket, `SIP/2.0 400 Bad Request\r\nWarning: 399 spoofguard "unreadable request"\r\n\r\n`, {
          stackTxnId: read.transactionId,
        });
      }
      const answered = read.method && read.method !== 'ACK' && read.transactionId;
      this.logger.warn(
        { ...info, err: read.problem },
        answered
          ? 'unreadable SIP request from drachtio-server: answered 400 Bad Request, not screened'
          : 'unreadable SIP message from drachtio-server (a response or an ACK): dropped, nothing to answer',
      );
      this.onUnreadable?.(info);
    };
  }

  private get app(): SrfApp {
    return (this.srf as unknown as { app: SrfApp }).app;
  }

  get connected(): boolean {
    return this.connectedNow;
  }

  /** Takes every request of `method` (INVITE, OPTIONS …); drachtio-server routes it to this app. */
  route(method: 'invite' | 'options', handler: RequestHandler): void {
    this.srf.use(method, (req, res) => handler(this.transaction(req, res)));
  }

  /** drachtio-server stops sending this method here (to other apps, or answers 503 itself): the drain. */
  unroute(method: 'invite'): void {
    (this.srf as unknown as { unregisterForMessages(verb: string): void }).unregisterForMessages(method);
  }

  start(): void {
    // the retry options are drachtio-srf's own (wire-protocol); without maxAttempts it retries forever
    void this.srf.connect({ ...this.settings, reconnect: backoff } as unknown as Srf.SrfConfig);
  }

  /** Hangs up bridged calls still up (after the drain) and disconnects, or stops trying to connect. */
  stop(): void {
    this.closing = true;
    for (const dialog of this.bridges) dialog.destroy();
    this.bridges.clear();
    const agent = this.app.client;
    if (!agent) return; // never started
    if (agent.mapServer.size > 0) return void this.srf.disconnect();
    // drachtio-server is away: drachtio-srf's disconnect() would assert, its retry keep the process alive
    stopReconnecting(agent);
  }

  private transaction(req: Srf.SrfRequest, res: Srf.SrfResponse): ServerTransaction {
    const headers = headerMap(req.headers);
    const raw = (req as unknown as { raw?: string }).raw ?? '';
    let lines: Map<string, string[]> | undefined;
    const request: InboundRequest = {
      method: req.method,
      uri: req.uri,
      callId: headers.get('call-id') ?? '',
      source: { address: req.source_address, port: Number(req.source_port) },
      bytes: Buffer.byteLength(raw),
      header: (name) => headers.get(name.toLowerCase()),
      headerNames: () => Object.keys(req.headers),
      headerLines: (name) => (lines ??= headerLinesOf(raw)).get(name.toLowerCase()) ?? [],
    };
    return {
      request,
      reply: (status, reason, headers) => {
        if (reason) res.send(status, reason, { headers: headers ?? {} });
        else res.send(status, { headers: headers ?? {} });
      },
      proxy: async (targets, headers, recordRoute) => {
        // drachtio-srf's types omit `headers`, which its proxy command sends
        const options = { headers, remainInDialog: recordRoute, followRedirects: false } as Srf.ProxyRequestOptions;
        const result = (await this.srf.proxyRequest(req, targets, options)) as unknown as { finalStatus?: number };
        return result.finalStatus !== undefined ? { finalStatus: result.finalStatus } : {};
      },
      bridge: async (target, headers) => {
        const ourSec = this.calls.sessionExpiresSec;
        const callerSide = callerTimer(request, ourSec);
        if (callerSide.tooSmall) {
          res.send(422, 'Session Interval Too Small', { headers: { 'Min-SE': String(callerSide.minSe) } });
          throw new BridgeFailed(422);
        }
        // the caller's 2xx states the caller leg's terms, from which drachtio-server arms that leg's timer; the
        // callee's 2xx states the callee leg's (session-timer.ts)
        const responseHeaders = (uacRes: Srf.SrfResponse): Record<string, string> =>
          uacRes.status >= 200 && uacRes.status < 300 && callerSide.terms ? termsHeaders(callerSide.terms, 'uas') : {};
        let dialogs: { uas: Srf.Dialog; uac: Srf.Dialog };
        try {
          dialogs = await this.srf.createB2BUA(req, res, target, {
            headers: withCalleeOffer(headers, ourSec),
            proxyRequestHeaders: [],
            responseHeaders,
            // drachtio-srf's types give responseHeaders' function a header map; srf.js calls it with the response
          } as unknown as Srf.CreateB2BUAOptions);
        } catch (err) {
          const status = (err as { status?: number }).status;
          throw new BridgeFailed(typeof status === 'number' ? status : 500);
        }
        const { uas, uac } = dialogs;
        this.bridges.add(uas);
        this.bridges.add(uac);
        let endByApp = (): void => undefined;
        const ended = new Promise<'caller' | 'callee' | 'app'>((resolve) => {
          const end = (side: 'caller' | 'callee', other: Srf.Dialog) => () => {
            this.bridges.delete(uas);
            this.bridges.delete(uac);
            other.destroy();
            resolve(side);
          };
          endByApp = () => {
            if (!this.bridges.has(uas)) return;
            this.bridges.delete(uas);
            this.bridges.delete(uac);
            uas.removeAllListeners('destroy');
            uac.removeAllListeners('destroy');
            uas.destroy();
            uac.destroy();
            resolve('app');
          };
          // a hang-up in the same tick as the answer came before these listeners: its dialog is already gone
          const connected = (dialog: Srf.Dialog) => (dialog as unknown as { connected?: boolean }).connected !== false;
          if (!connected(uas)) return end('caller', uac)();
          if (!connected(uac)) return end('callee', uas)();
          uas.once('destroy', end('caller', uac));
          uac.once('destroy', end('callee', uas));
        });
        if (ourSec > 0) for (const dialog of [uas, uac]) answerRefreshes(dialog);
        return { ended, hangUp: () => endByApp() };
      },
    };
  }
}

/** drachtio-srf 5.0.29's parser (sip-parser/parser.js `parse`): the start lines and header lines it accepts. */
const SRF_RESPONSE_LINE = /^SIP\/(\d+\.\d+)\s+(\d+)\s*(.*)\s*$/;
const SRF_REQUEST_LINE = /^([\w\-.!%*_+`'~]+)\s([^\s]+)\sSIP\s*\/\s*(\d+\.\d+)/;
const SRF_HEADER_LINE = /^([\S]*?)\s*:\s*([\s\S]*)$/;

/**
 * Why drachtio-srf's parser would refuse `text` (it then drops the message), or undefined when it reads it.
 * The same tests as its parser, without building the message: every message from the network passes here, and
 * parsing each twice cost the SIP front a tenth of its CPU. test/sip/sip-parts.test.ts holds it to the parser.
 */
export function drachtioSrfCannotRead(text: string): string | undefined {
  const end = text.indexOf('\r\n\r\n');
  const lines = (end < 0 ? text : text.slice(0, end)).split(/\r\n(?![ \t])/);
  if (lines[0] === '') return 'failed to parse sip message: empty start line';
  if (!SRF_RESPONSE_LINE.test(lines[0]) && !SRF_REQUEST_LINE.test(lines[0]))
    return 'failed to parse sip message: start line is neither a request nor a status line';
  for (let i = 1; i < lines.length; i++)
    if (!SRF_HEADER_LINE.test(lines[i])) return `failed to parse sip message: header line ${i} has no name and colon`;
  return undefined;
}

const START_LINE_SPACING = /^\s|\s\s|\t/;
/**
 * The header section after the start line, as readsAsItCame takes it: lines of a name of visible ASCII
 * characters (or none), optional blanks and a colon, a value without a bare CR or LF, folded lines (CRLF and a
 * blank), each ended by CRLF, then the empty line. A header line never starts with a blank and a folded line
 * always does, so each character has one reading: linear time whatever comes (no backtracking blow-up).
 */
const HEADER_SECTION = /(?:(?:[!-9;-~]+[ \t]*)?:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)*\r\n/y;

/**
 * The everyday case in one pass, without building anything: true when `text` is well-formed as it came (only
 * CRLF line ends up to its empty line, one space between the start line's parts, every header line a name
 * and a colon), so that readableSip leaves it as it is and drachtio-srf's parser reads it. False is only "not
 * sure": the caller then takes the exact way (readableSip, drachtioSrfCannotRead). Anything unusual (a folded
 * line right after the start line, a bare CR or LF, other characters before a colon, no empty line) is left to
 * the exact way. test/sip/sip-parts.test.ts holds it to both.
 */
export function readsAsItCame(text: string): boolean {
  const firstEnd = text.indexOf('\r\n');
  if (firstEnd <= 0) return false;
  const firstLine = text.slice(0, firstEnd);
  if (firstLine.includes('\n') || START_LINE_SPACING.test(firstLine)) return false;
  if (!SRF_REQUEST_LINE.test(firstLine) && !SRF_RESPONSE_LINE.test(firstLine)) return false;
  HEADER_SECTION.lastIndex = firstEnd + 2;
  return HEADER_SECTION.test(text);
}

/**
 * A request's headers by lower-case name, made once per request (drachtio-srf's own get() scans every header
 * and reads an environment variable for each look-up). Its parser keys headers by their full lower-case name
 * (compact forms expanded), except X- and P- headers, which keep the case they came in: several of one name in
 * different cases are joined with ",", as several lines of one header are.
 */
function headerMap(raw: Record<string, unknown>): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of Object.keys(raw)) {
    const value = raw[name];
    if (typeof value !== 'string') continue;
    const key = name.toLowerCase();
    const seen = map.get(key);
    map.set(key, seen === undefined ? value : `${seen},${value}`);
  }
  return map;
}

/** Token `n` (from 0) of the leader `wire.slice(0, end)`, without splitting it (every message passes here). */
function leaderToken(wire: string, end: number, n: number): string | undefined {
  let from = 0;
  for (let i = 0; i < n; i++) {
    from = wire.indexOf('|', from) + 1;
    if (from === 0 || from > end) return undefined;
  }
  const to = wire.indexOf('|', from);
  return wire.slice(from, to < 0 || to > end ? end : to);
}

type Readable = { ok: true; wire: string; dialog?: string; ack?: boolean };

type Unreadable = {
  ok: false;
  sip: string;
  method?: string;
  transactionId?: string;
  source: string;
  problem: string;
};

/**
 * One wire message (`<leader>\r\n<SIP text>`; the leader's tokens are `id|sip|network|length|protocol|address|
 * port|time|transactionId|dialogId…`): requests and responses from the network made readable; anything else
 * passed on as it came.
 */
function readable(wire: string): Readable | Unreadable {
  const at = wire.indexOf('\r\n');
  if (at < 0) return { ok: true, wire };
  if (leaderToken(wire, at, 1) !== 'sip' || leaderToken(wire, at, 2) !== 'network') return { ok: true, wire };
  const sip = wire.slice(at + 2);
  // a request inside a dialog: drachtio-server names the dialog in the leader
  const dialog = leaderToken(wire, at, 9);
  if (readsAsItCame(sip)) return dialog ? { ok: true, wire, dialog, ack: sip.startsWith('ACK ') } : { ok: true, wire };
  const text = readableSip(sip);
  const problem = drachtioSrfCannotRead(text);
  if (problem) {
    const method = requestMethod(text);
    const transactionId = leaderToken(wire, at, 8);
    return {
      ok: false,
      sip,
      source: `${leaderToken(wire, at, 5) ?? '?'}:${leaderToken(wire, at, 6) ?? '?'}`,
      problem,
      ...(method ? { method } : {}),
      ...(transactionId ? { transactionId } : {}),
    };
  }
  const ready = text === sip ? wire : `${wire.slice(0, at)}\r\n${text}`;
  return dialog ? { ok: true, wire: ready, dialog, ack: text.startsWith('ACK ') } : { ok: true, wire: ready };
}

/** The B leg's INVITE headers with our session-timer offer; the caller's Supported, whatever its case, merged in. */
function withCalleeOffer(headers: Record<string, string>, ourSec: number): Record<string, string> {
  const supportedKey = Object.keys(headers).find((k) => k.toLowerCase() === 'supported');
  const offer = calleeOffer(ourSec, supportedKey ? headers[supportedKey] : undefined);
  if (!offer.Supported) return headers;
  const out = { ...headers };
  if (supportedKey) delete out[supportedKey];
  return { ...out, ...offer };
}

/**
 * A bridged leg's re-INVITEs and UPDATEs are answered as drachtio-srf answers them while nobody listens (the
 * session's SDP unchanged), plus the session-timer terms of the request (refreshAnswerHeaders).
 */
function answerRefreshes(dialog: Srf.Dialog): void {
  // drachtio-srf keeps the dialog's own Contact beside its SDP (dialog.js answers re-INVITEs with it)
  const local = dialog.local as { sdp: string; contact?: string };
  const terms = (req: Srf.SrfRequest) => refreshAnswerHeaders({ header: (name) => req.get(name) ?? undefined });
  dialog.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    res.send(200, {
      body: local.sdp,
      headers: {
        ...(local.contact ? { Contact: local.contact } : {}),
        'Content-Type': 'application/sdp',
        ...terms(req),
      },
    });
  });
  dialog.on('update', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    const withSdp = Boolean(req.body) && Boolean(local.sdp);
    res.send(200, {
      ...(withSdp ? { body: local.sdp } : {}),
      headers: { ...(withSdp ? { 'Content-Type': 'application/sdp' } : {}), ...terms(req) },
    });
  });
}
