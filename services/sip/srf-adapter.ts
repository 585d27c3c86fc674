import type { EventEmitter } from 'node:events';
import Srf from 'drachtio-srf';
import type { Logger } from '../common/logger';
import { excerpt } from '../common/excerpt';
import { readableSip, requestMethod } from './sip-text';
import { type ServerTransaction, serverTransaction } from './srf-transaction';
import {
  addStatusTexts,
  type AgentInternals,
  checkSrfInternals,
  interceptAgentMessages,
  type SrfApp,
  stopReconnecting,
} from './srf-patches';

/**
 * The drachtio-srf adapter is three files, the only ones that import drachtio-srf: this one connects to
 * drachtio-server and reconnects forever (capped backoff) and reads every message; srf-transaction.ts turns
 * drachtio's request and response into the small interface the SIP front's middleware works on (read a
 * request, answer it, proxy it, or bridge it as a B2BUA when headers must go); srf-patches.ts holds every
 * reach into drachtio-srf's internals, checked at start-up.
 */
export interface DrachtioSettings {
  host: string;
  port: number;
  secret: string;
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
    return serverTransaction(this.srf, req, res, {
      bridges: this.bridges,
      sessionExpiresSec: this.calls.sessionExpiresSec,
    });
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
