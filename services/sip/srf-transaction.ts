import Srf from 'drachtio-srf';
import { callerTimer, calleeOffer, refreshAnswerHeaders, termsHeaders } from './session-timer';
import { headerLinesOf } from '../carrier/sip-headers';

/**
 * Part of the drachtio-srf adapter (see srf-adapter.ts): one server transaction as the SIP front's middleware
 * sees it, and what it may do with it once: answer, proxy, or bridge as a B2BUA (with session timers,
 * session-timer.ts).
 */

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

export interface BridgeSettings {
  /** Bridged calls' dialogs, both legs, while they are up (hung up by a stop after the drain). */
  bridges: Set<Srf.Dialog>;
  /** Bridged calls' session timers (RFC 4028): the interval we ask for; 0 turns them off. */
  sessionExpiresSec: number;
}

export function serverTransaction(
  srf: Srf,
  req: Srf.SrfRequest,
  res: Srf.SrfResponse,
  calls: BridgeSettings,
): ServerTransaction {
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
      const result = (await srf.proxyRequest(req, targets, options)) as unknown as { finalStatus?: number };
      return result.finalStatus !== undefined ? { finalStatus: result.finalStatus } : {};
    },
    bridge: async (target, headers) => {
      const ourSec = calls.sessionExpiresSec;
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
        dialogs = await srf.createB2BUA(req, res, target, {
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
      calls.bridges.add(uas);
      calls.bridges.add(uac);
      let endByApp = (): void => undefined;
      const ended = new Promise<'caller' | 'callee' | 'app'>((resolve) => {
        const end = (side: 'caller' | 'callee', other: Srf.Dialog) => () => {
          calls.bridges.delete(uas);
          calls.bridges.delete(uac);
          other.destroy();
          resolve(side);
        };
        endByApp = () => {
          if (!calls.bridges.has(uas)) return;
          calls.bridges.delete(uas);
          calls.bridges.delete(uac);
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
  // drachtio-srf keeps the dialog's own Contact beside its SDP (dialog.js answers re-INVITEs with it); read at
  // each answer, as drachtio-srf does: a re-INVITE of ours changes the SDP
  const current = () => dialog.local as { sdp: string; contact?: string };
  const terms = (req: Srf.SrfRequest) => refreshAnswerHeaders({ header: (name) => req.get(name) ?? undefined });
  dialog.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    const local = current();
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
    const local = current();
    const withSdp = Boolean(req.body) && Boolean(local.sdp);
    res.send(200, {
      ...(withSdp ? { body: local.sdp } : {}),
      headers: { ...(withSdp ? { 'Content-Type': 'application/sdp' } : {}), ...terms(req) },
    });
  });
}
