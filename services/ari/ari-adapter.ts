import { EventEmitter } from 'node:events';
import ari, { type AriClient } from 'ari-client';
import type { Logger } from '../common/logger';
import { withinBudget } from '../common/within-budget';
import { type AriEvent, ariEventSchema, HANDLED_EVENTS } from './ari-events';

/**
 * The only module that imports ari-client. It connects and reconnects forever with capped backoff (ari-client
 * alone gives up after about ten tries), gives every request a timeout and caps how many run at once
 * (Asterisk stops answering past its http.conf sessionlimit), and hands out validated events. It keeps no
 * per-call listeners (ari-client's per-instance listeners leak unless removed): callers route by channel id.
 */
export interface AriSettings {
  url: string;
  username: string;
  password: string;
  app: string;
  requestTimeoutMs: number;
  maxInFlight: number;
}

export type HangupReason = 'normal' | 'busy' | 'congestion' | 'no_answer' | 'rejected' | 'failure';

export interface OriginateRequest {
  endpoint: string;
  channelId: string;
  appArgs: string;
  callerId: string;
  timeoutSec: number;
  originator: string;
}

export class AriRequestError extends Error {}

const backoffMs = (attempt: number): number => Math.min(100 * 2 ** attempt, 5000);

export class AriConnection extends EventEmitter<{ event: [AriEvent]; connected: []; disconnected: [] }> {
  private client?: AriClient;
  private stopped = false;
  private attempt = 0;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private unreachableSaid = false;

  constructor(
    private readonly settings: AriSettings,
    private readonly logger: Logger,
  ) {
    super();
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Connects in the background, forever; resolves at the first successful connection or when stopped. */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.once('connected', resolve);
      void this.connectLoop(resolve);
    });
  }

  private async connectLoop(giveUp: () => void): Promise<void> {
    while (!this.stopped && !this.client) {
      try {
        const client = await withinBudget(
          ari.connect(this.settings.url, this.settings.username, this.settings.password),
          10000,
          'no ARI description',
        );
        this.attach(client);
        await withinBudget(client.start(this.settings.app), 10000, 'no ARI event socket');
        this.client = client;
        this.attempt = 0;
        this.unreachableSaid = false;
        this.logger.info({ url: this.settings.url, app: this.settings.app }, 'connected to Asterisk ARI');
        this.emit('connected');
      } catch (err) {
        // one clear line while Asterisk is unreachable, not a flood
        if (!this.unreachableSaid)
          this.logger.warn(
            { url: this.settings.url, err: (err as Error).message },
            'Asterisk ARI not reachable; retrying until it is',
          );
        this.unreachableSaid = true;
        await new Promise((r) => setTimeout(r, backoffMs(this.attempt++)));
      }
    }
    if (this.stopped) giveUp();
  }

  private attach(client: AriClient): void {
    for (const type of HANDLED_EVENTS) {
      client.on(type, (raw: unknown) => {
        const parsed = ariEventSchema.safeParse(raw);
        if (parsed.success) this.emit('event', parsed.data);
        else this.logger.warn({ type, problem: parsed.error.issues[0]?.message }, 'ARI event not understood; ignored');
      });
    }
    client.on('WebSocketReconnecting', () => this.logger.warn('ARI event socket lost; ari-client reconnecting'));
    client.on('WebSocketConnected', () => this.client && this.logger.info('ARI event socket back'));
    // ari-client stops trying after about ten attempts: then start over with a new client, forever
    client.on('WebSocketMaxRetries', () => {
      this.logger.warn('ari-client gave up reconnecting; starting a new connection');
      this.detach(client);
      this.emit('disconnected');
      void this.connectLoop(() => undefined);
    });
  }

  private detach(client: AriClient): void {
    client.removeAllListeners();
    try {
      client.stop();
    } catch {
      // already closed
    }
    if (this.client === client) this.client = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.client) this.detach(this.client);
  }

  /** Runs one REST request within the cap and the timeout. */
  private async request<T>(
    resource: 'channels' | 'bridges' | 'playbacks',
    operation: string,
    params: Record<string, unknown>,
  ): Promise<T> {
    const client = this.client;
    if (!client) throw new AriRequestError('not connected to Asterisk');
    if (this.inFlight >= this.settings.maxInFlight) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
    try {
      return (await withinBudget(
        client[resource][operation](params),
        this.settings.requestTimeoutMs,
        `ARI ${resource}.${operation}: no answer`,
      )) as T;
    } catch (err) {
      throw new AriRequestError(`ARI ${resource}.${operation}: ${(err as Error).message ?? String(err)}`);
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  answer(channelId: string): Promise<void> {
    return this.request('channels', 'answer', { channelId });
  }

  ring(channelId: string): Promise<void> {
    return this.request('channels', 'ring', { channelId });
  }

  hangup(channelId: string, reason: HangupReason = 'normal'): Promise<void> {
    return this.request('channels', 'hangup', { channelId, reason });
  }

  continueInDialplan(channelId: string): Promise<void> {
    return this.request('channels', 'continueInDialplan', { channelId });
  }

  async variable(channelId: string, variable: string): Promise<string | undefined> {
    try {
      const result = await this.request<{ value?: string }>('channels', 'getChannelVar', { channelId, variable });
      return result?.value;
    } catch {
      return undefined;
    }
  }

  async originate(request: OriginateRequest): Promise<void> {
    await this.request('channels', 'originate', {
      endpoint: request.endpoint,
      app: this.settings.app,
      appArgs: request.appArgs,
      callerId: request.callerId,
      timeout: request.timeoutSec,
      channelId: request.channelId,
      originator: request.originator,
    });
  }

  async play(channelId: string, playbackId: string, media: string[], lang: string): Promise<void> {
    await this.request('channels', 'play', { channelId, playbackId, media, lang });
  }

  stopPlayback(playbackId: string): Promise<void> {
    return this.request('playbacks', 'stop', { playbackId });
  }

  async createBridge(bridgeId: string): Promise<void> {
    await this.request('bridges', 'create', { type: 'mixing', bridgeId, name: bridgeId });
  }

  addToBridge(bridgeId: string, channels: string[]): Promise<void> {
    return this.request('bridges', 'addChannel', { bridgeId, channel: channels });
  }

  destroyBridge(bridgeId: string): Promise<void> {
    return this.request('bridges', 'destroy', { bridgeId });
  }
}
