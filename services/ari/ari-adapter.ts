import { EventEmitter } from 'node:events';
import ari, { type AriClient } from 'ari-client';
import type { Logger } from '../common/logger';
import { withinBudget } from '../common/within-budget';
import { Semaphore } from 'async-mutex';
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

/** A request that timed out holds its place under the cap at most this many timeouts longer. */
const HELD_AFTER_TIMEOUT = 5;

export type HangupReason =
  'normal' | 'busy' | 'congestion' | 'no_answer' | 'rejected' | 'failure' | 'number_incomplete';

export interface OriginateRequest {
  endpoint: string;
  channelId: string;
  appArgs: string;
  callerId: string;
  timeoutSec: number;
  originator: string;
  /** Channel variables (and functions such as PJSIP_HEADER(add,…)) set on the new channel before it dials. */
  variables?: Record<string, string>;
}

export class AriRequestError extends Error {
  constructor(
    message: string,
    /** The HTTP status Asterisk answered, when it answered (404: channel or bridge gone). */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A channel or bridge as `GET /channels` and `GET /bridges` list them (the part reconciliation reads). */
export interface AriChannelInfo {
  id: string;
  state: string;
  dialplan?: { app_name?: string; app_data?: string };
  creationtime?: string;
}
export interface AriBridgeInfo {
  id: string;
  /** What the creator named it: spoofguard names its bridges after its Stasis app (older versions: the id). */
  name?: string;
  channels: string[];
  creationtime?: string;
}

/** Where a channel handed back to the dialplan goes on: the next priority unless a target is named. */
export interface DialplanTarget {
  context: string;
  extension: string;
  priority: number;
}

/**
 * swagger-client (inside ari-client) prints "This API is using a deprecated version of Swagger!" with
 * console.log on every connect. That line is not ours to print into a JSON log: it goes to the logger at
 * debug level, and everything else passes through.
 */
function quietSwagger<T>(logger: Logger, work: () => Promise<T>): Promise<T> {
  const original = console.log;
  console.log = (...args: unknown[]) => {
    const text = args.map(String).join(' ');
    if (text.includes('deprecated version of Swagger'))
      logger.debug({ swagger: text }, 'ari-client description notice');
    else original(...args);
  };
  return work().finally(() => {
    console.log = original;
  });
}

const backoffMs = (attempt: number): number => Math.min(100 * 2 ** attempt, 5000);

export class AriConnection extends EventEmitter<{
  event: [AriEvent];
  /** A (re)connection: the event stream may have missed events, so what Asterisk has is worth a look. */
  connected: [];
  disconnected: [];
}> {
  private client?: AriClient;
  /**
   * The client REST requests go through: set once its API description is loaded, before its event socket
   * opens. Asterisk sends the app's events as soon as the socket is up, before ari-client says it started: a
   * StasisStart in that moment made the call's first request fail with "not connected" (its hand-back then
   * lost one of its tries).
   */
  private rest?: AriClient;
  private stopped = false;
  private attempt = 0;
  /** The cap on requests at Asterisk at once; urgent requests (priority 1) are let in before the others. */
  private readonly cap: Semaphore;
  private waiting = 0;
  private unreachableSaid = false;
  /** Asterisk's entity id (asterisk.conf entityid, by default a MAC address of the box), once connected. */
  entityId?: string;

  constructor(
    private readonly settings: AriSettings,
    private readonly logger: Logger,
  ) {
    super();
    this.cap = new Semaphore(settings.maxInFlight);
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
      let client: AriClient | undefined;
      try {
        client = await withinBudget(
          quietSwagger(this.logger, () =>
            ari.connect(this.settings.url, this.settings.username, this.settings.password),
          ),
          10000,
          'no ARI description',
        );
        this.attach(client);
        this.rest = client;
        // the entity id names this Asterisk in call ids; asked before the app takes events, so every call has it
        const info = await this.request<{ system?: { entity_id?: string } }>('asterisk', 'getInfo', { only: 'system' });
        this.entityId = info.system?.entity_id || undefined;
        await withinBudget(client.start(this.settings.app), 10000, 'no ARI event socket');
        this.client = client;
        this.attempt = 0;
        this.unreachableSaid = false;
        this.logger.info({ url: this.settings.url, app: this.settings.app }, 'connected to Asterisk ARI');
        this.emit('connected');
      } catch (err) {
        if (client && this.client !== client) this.detach(client);
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
    client.on('WebSocketConnected', () => {
      if (!this.client) return;
      this.logger.info('ARI event socket back');
      this.emit('connected');
    });
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
    if (this.rest === client) this.rest = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.client) this.detach(this.client);
    if (this.rest) this.detach(this.rest);
  }

  /** Requests waiting for a place under the cap: a measure of how far behind Asterisk (or we) are. */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Runs one REST request within the cap and the timeout. An urgent request (handing a call back to the
   * dialplan) goes before those waiting: it is what relieves an overload. A request that timed out may still
   * be running at Asterisk (ari-client cannot abort it): it keeps its place under the cap until Asterisk
   * answers it, or for HELD_AFTER_TIMEOUT timeouts at most, so the cap counts what Asterisk really has.
   */
  private async request<T>(
    resource: 'channels' | 'bridges' | 'playbacks' | 'asterisk',
    operation: string,
    params: Record<string, unknown>,
    urgent = false,
  ): Promise<T> {
    if (!this.rest) throw new AriRequestError('not connected to Asterisk');
    const queued = this.cap.isLocked();
    if (queued) this.waiting++;
    const [, release] = await this.cap.acquire(1, urgent ? 1 : 0).finally(() => {
      if (queued) this.waiting--;
    });
    const client = this.rest;
    if (!client) {
      release();
      throw new AriRequestError('not connected to Asterisk');
    }
    let work: Promise<unknown>;
    try {
      work = client[resource][operation](params);
    } catch (err) {
      release();
      throw new AriRequestError(`ARI ${resource}.${operation}: ${(err as Error).message}`);
    }
    const held = setTimeout(release, this.settings.requestTimeoutMs * HELD_AFTER_TIMEOUT);
    held.unref();
    void work.then(
      () => (clearTimeout(held), release()),
      () => (clearTimeout(held), release()),
    );
    try {
      return (await withinBudget(work, this.settings.requestTimeoutMs, `ARI ${resource}.${operation}: no answer`)) as T;
    } catch (err) {
      // ari-client rejects with the HTTP answer's body as the message and no status: read it from the text
      const message = (err as Error).message ?? String(err);
      const status = /not found/i.test(message) ? 404 : undefined;
      throw new AriRequestError(`ARI ${resource}.${operation}: ${message}`, status);
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

  /** Hands a channel back to the dialplan (next priority after Stasis(), or the target); urgent. */
  continueInDialplan(channelId: string, target?: DialplanTarget): Promise<void> {
    return this.request('channels', 'continueInDialplan', { channelId, ...target }, true);
  }

  /** Every channel Asterisk has (reconciliation after a reconnect). */
  listChannels(): Promise<AriChannelInfo[]> {
    return this.request<AriChannelInfo[]>('channels', 'list', {}, true);
  }

  listBridges(): Promise<AriBridgeInfo[]> {
    return this.request<AriBridgeInfo[]>('bridges', 'list', {}, true);
  }

  async variable(channelId: string, variable: string): Promise<string | undefined> {
    try {
      const result = await this.request<{ value?: string }>('channels', 'getChannelVar', { channelId, variable });
      return result?.value;
    } catch {
      return undefined;
    }
  }

  /** Sets an Asterisk global variable (what the dialplan reads, e.g. the overload bypass); urgent. */
  setGlobal(variable: string, value: string): Promise<void> {
    return this.request('asterisk', 'setGlobalVar', { variable, value }, true);
  }

  /** An Asterisk global variable ('' when unset). */
  async getGlobal(variable: string): Promise<string> {
    const result = await this.request<{ value?: string }>('asterisk', 'getGlobalVar', { variable }, true);
    return result?.value ?? '';
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
      ...(request.variables ? { variables: { variables: request.variables } } : {}),
    });
  }

  /** Sets a channel variable (a leading "_" makes the channels it dials inherit it). */
  setVariable(channelId: string, variable: string, value: string): Promise<void> {
    return this.request('channels', 'setChannelVar', { channelId, variable, value });
  }

  async play(channelId: string, playbackId: string, media: string[], lang: string): Promise<void> {
    await this.request('channels', 'play', { channelId, playbackId, media, lang });
  }

  stopPlayback(playbackId: string): Promise<void> {
    return this.request('playbacks', 'stop', { playbackId });
  }

  /** A mixing bridge named after the app: another app's reconciliation on the same Asterisk leaves it alone. */
  async createBridge(bridgeId: string): Promise<void> {
    await this.request('bridges', 'create', { type: 'mixing', bridgeId, name: this.settings.app });
  }

  addToBridge(bridgeId: string, channels: string[]): Promise<void> {
    return this.request('bridges', 'addChannel', { bridgeId, channel: channels });
  }

  destroyBridge(bridgeId: string): Promise<void> {
    return this.request('bridges', 'destroy', { bridgeId });
  }
}
