import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import Srf from 'drachtio-srf';
import type { Logger } from '../common/logger';

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
}

export interface ProxyResult {
  /** The final status drachtio-server passed upstream; undefined when no target answered (it sent 408). */
  finalStatus?: number;
}

export interface BridgedCall {
  /** Resolves when either side hangs up; says who did. */
  ended: Promise<'caller' | 'callee'>;
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
  /** Stateful proxy: the app leaves the call once a final response went upstream. */
  proxy(targets: string[], headers: Record<string, string>): Promise<ProxyResult>;
  /**
   * Back-to-back user agent: a new INVITE carrying only `headers` (the app decides every header that goes
   * on), answered to the caller as the callee answers. Rejects with BridgeFailed when the callee fails.
   */
  bridge(target: string, headers: Record<string, string>): Promise<BridgedCall>;
}

export type RequestHandler = (transaction: ServerTransaction) => void;

/** drachtio-srf 5.0.29's status table (sip-status) lacks 608; without a reason phrase res.send throws. */
const statusTexts = createRequire(require.resolve('drachtio-srf'))('sip-status') as Record<number, string>;
statusTexts[608] ??= 'Rejected';

const backoff = { retryMaxDelay: 5000 };

export class SrfConnection {
  private readonly srf = new Srf();
  private connectedNow = false;
  private unreachableSaid = false;
  private closing = false;
  private readonly bridges = new Set<Srf.Dialog>();

  constructor(
    private readonly settings: DrachtioSettings,
    private readonly logger: Logger,
  ) {
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

  /** Hangs up bridged calls still up (after the drain) and disconnects. */
  stop(): void {
    this.closing = true;
    for (const dialog of this.bridges) dialog.destroy();
    this.bridges.clear();
    this.srf.disconnect();
  }

  private transaction(req: Srf.SrfRequest, res: Srf.SrfResponse): ServerTransaction {
    const raw = (req as unknown as { raw?: string }).raw ?? '';
    const request: InboundRequest = {
      method: req.method,
      uri: req.uri,
      callId: req.get('Call-ID') ?? '',
      source: { address: req.source_address, port: Number(req.source_port) },
      bytes: Buffer.byteLength(raw),
      header: (name) => (req.has(name) ? req.get(name) : undefined),
      headerNames: () => Object.keys(req.headers),
    };
    return {
      request,
      reply: (status, reason, headers) => {
        if (reason) res.send(status, reason, { headers: headers ?? {} });
        else res.send(status, { headers: headers ?? {} });
      },
      proxy: async (targets, headers) => {
        // drachtio-srf's types omit `headers`, which its proxy command sends
        const options = { headers, remainInDialog: false, followRedirects: false } as Srf.ProxyRequestOptions;
        const result = (await this.srf.proxyRequest(req, targets, options)) as unknown as { finalStatus?: number };
        return result.finalStatus !== undefined ? { finalStatus: result.finalStatus } : {};
      },
      bridge: async (target, headers) => {
        let dialogs: { uas: Srf.Dialog; uac: Srf.Dialog };
        try {
          dialogs = await this.srf.createB2BUA(req, res, target, { headers, proxyRequestHeaders: [] });
        } catch (err) {
          const status = (err as { status?: number }).status;
          throw new BridgeFailed(typeof status === 'number' ? status : 500);
        }
        const { uas, uac } = dialogs;
        this.bridges.add(uas);
        this.bridges.add(uac);
        const ended = new Promise<'caller' | 'callee'>((resolve) => {
          const end = (side: 'caller' | 'callee', other: Srf.Dialog) => () => {
            this.bridges.delete(uas);
            this.bridges.delete(uac);
            other.destroy();
            resolve(side);
          };
          // a hang-up in the same tick as the answer came before these listeners: its dialog is already gone
          const connected = (dialog: Srf.Dialog) => (dialog as unknown as { connected?: boolean }).connected !== false;
          if (!connected(uas)) return end('caller', uac)();
          if (!connected(uac)) return end('callee', uas)();
          uas.once('destroy', end('caller', uac));
          uac.once('destroy', end('callee', uas));
        });
        return { ended };
      },
    };
  }
}
