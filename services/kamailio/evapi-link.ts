import { createConnection, type Socket } from 'node:net';
import type { Logger } from '../common/logger';
import { NetstringDecoder, netstringText } from './netstring';

/** What went wrong on a link, for the counters: each is logged where it happens. */
export type LinkFault = 'oversized' | 'garbage' | 'half-frame';

export interface LinkHandlers {
  /** One whole frame from Kamailio, and when it arrived (performance.now()). */
  frame(data: Buffer, link: EvapiLink): void;
  fault(kind: LinkFault): void;
  /** The link came up or went down. */
  state?(up: boolean, link: EvapiLink): void;
}

export interface LinkOptions {
  reconnectMs: number;
  maxMessageBytes: number;
}

/** The longest wait between reconnection attempts: a restarted Kamailio is taken up again within it. */
const MAX_BACKOFF_MS = 1000;

/**
 * The adapter to one Kamailio's evapi socket (the only node:net user of the Kamailio front): a TCP connection
 * kept up, reconnected after a loss with a short backoff, netstring frames in and out. What does not frame
 * (an oversized frame, bytes that are no netstring, a frame cut off by the connection's end) is logged and
 * counted, never thrown.
 */
export class EvapiLink {
  private socket?: Socket;
  private connectedSocket?: Socket;
  private readonly decoder: NetstringDecoder;
  private backoffMs: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Whether the loss of the link was logged (once per episode, not once per failed attempt). */
  private lossLogged = false;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly endpoint: string,
    private readonly options: LinkOptions,
    private readonly handlers: LinkHandlers,
    private readonly log: Logger,
  ) {
    const split = /^\[?([^\]]+)\]?:(\d+)$/.exec(endpoint);
    if (!split) throw new Error(`kamailio.endpoints: not host:port: ${endpoint}`);
    this.host = split[1] as string;
    this.port = Number(split[2]);
    this.decoder = new NetstringDecoder(options.maxMessageBytes);
    this.backoffMs = options.reconnectMs;
  }

  get connected(): boolean {
    return this.connectedSocket !== undefined;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /**
   * Sends one frame; false when the link is down (Kamailio then passes the call on when its budget ends). The
   * answers of one turn of the event loop leave in one write: each write is a system call.
   */
  send(text: string): boolean {
    const socket = this.connectedSocket;
    if (!socket) return false;
    this.pending.push(netstringText(text));
    if (this.pending.length === 1) setImmediate(() => this.flush(socket));
    return true;
  }

  private pending: string[] = [];

  private flush(socket: Socket): void {
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    if (!socket.destroyed) socket.write(text);
  }

  /** Closes the link for good. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // answers still waiting for the end of this turn go first: Kamailio is waiting for them
    if (this.pending.length > 0 && this.connectedSocket) this.flush(this.connectedSocket);
    const socket = this.socket;
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }

  private connect(): void {
    const socket = createConnection({ host: this.host, port: this.port, noDelay: true, keepAlive: true });
    this.socket = socket;
    socket.on('connect', () => {
      this.connectedSocket = socket;
      this.backoffMs = this.options.reconnectMs;
      this.lossLogged = false;
      this.log.info({ endpoint: this.endpoint }, 'connected to Kamailio (evapi)');
      this.handlers.state?.(true, this);
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.lossLogged || this.stopped) return;
      this.lossLogged = true;
      this.log.warn(
        { endpoint: this.endpoint, err: err.code ?? err.message },
        `Kamailio evapi link failed (${err.code ?? err.message}): reconnecting; Kamailio passes calls on unscreened meanwhile`,
      );
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onData(chunk: Buffer): void {
    for (const event of this.decoder.push(chunk)) {
      if (event.kind === 'frame') {
        this.handlers.frame(event.data, this);
        continue;
      }
      this.handlers.fault(event.kind);
      if (event.kind === 'oversized')
        this.log.warn(
          { endpoint: this.endpoint, bytes: event.bytes, max: this.options.maxMessageBytes },
          'message from Kamailio larger than kamailio.maxMessageBytes: skipped unread',
        );
      else {
        // the stream is out of step: a fresh connection is the only sure way back into it
        this.log.warn(
          { endpoint: this.endpoint, excerpt: event.excerpt },
          'bytes from Kamailio that are no netstring frame: reconnecting to get back in step',
        );
        this.socket?.destroy();
        return;
      }
    }
  }

  private onClose(socket: Socket): void {
    const wasUp = this.connectedSocket === socket;
    this.connectedSocket = undefined;
    if (this.decoder.buffered > 0) {
      this.handlers.fault('half-frame');
      this.log.warn(
        { endpoint: this.endpoint, bytes: this.decoder.buffered },
        'Kamailio evapi link closed in the middle of a frame: the half frame is dropped',
      );
    }
    this.decoder.reset();
    if (wasUp) {
      this.handlers.state?.(false, this);
      if (!this.stopped) {
        this.lossLogged = true;
        this.log.warn(
          { endpoint: this.endpoint },
          'Kamailio closed the evapi link: reconnecting; Kamailio passes calls on unscreened meanwhile',
        );
      }
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => this.connect(), this.backoffMs);
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
  }
}
