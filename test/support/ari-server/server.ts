import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { description } from './description';

/**
 * An ARI test server: ARI's REST resources and its event WebSocket over the network, with channel, bridge and
 * playback state and events in Asterisk's order, so the real ari-client runs against it unchanged. Tests
 * drive the network side: inbound calls, how subscribers answer, key presses, hang-ups, dropped sockets.
 */
export interface ChannelState {
  id: string;
  name: string;
  state: string;
  caller: { name: string; number: string };
  connected: { name: string; number: string };
  accountcode: string;
  dialplan: { context: string; exten: string; priority: number; app_name: string; app_data: string };
  creationtime: string;
  language: string;
  protocol_id: string;
  /** Not in ARI's model: where the test server keeps what it needs. */
  vars: Record<string, string>;
  apps: Set<string>;
  inStasis: boolean;
  bridge?: string;
  endpoint?: string;
  timers: NodeJS.Timeout[];
  hungUp: boolean;
  /** Entered Stasis from the dialplan (an inbound call), as opposed to originated through ARI. */
  fromDialplan: boolean;
  /** Where `continue` sent it on in the dialplan (the test server runs no dialplan). */
  continuedTo?: { context?: string; extension?: string; priority?: string };
}

/** How the far end of a dialled endpoint behaves. */
export type SubscriberBehaviour =
  { answerAfterMs: number } | { busyAfterMs: number } | { neverAnswer: true } | { rejectAfterMs: number };

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
}

const CAUSES: Record<string, [number, string]> = {
  normal: [16, 'Normal Clearing'],
  busy: [17, 'User busy'],
  no_answer: [19, 'No answer'],
  congestion: [34, 'Circuit/channel congestion'],
  timeout: [19, 'No answer'],
  rejected: [21, 'Call Rejected'],
  unallocated: [1, 'Unallocated (unassigned) number'],
  normal_unspecified: [31, 'Normal, unspecified'],
  number_incomplete: [28, 'Invalid number format (incomplete number)'],
  codec_mismatch: [58, 'Bearer capability not available'],
  interworking: [127, 'Interworking, unspecified'],
  failure: [38, 'Network out of order'],
  answered_elsewhere: [26, 'Answered elsewhere'],
};

const stamp = (): string => new Date().toISOString().replace('Z', '+0000');

export class AriTestServer {
  readonly channels = new Map<string, ChannelState>();
  readonly bridges = new Map<
    string,
    { id: string; name: string; channels: Set<string>; bridge_type: string; creationtime: string }
  >();
  readonly playbacks = new Map<
    string,
    { id: string; channelId: string; media: string[]; language: string; timer?: NodeJS.Timeout; state: string }
  >();
  readonly requests: RequestRecord[] = [];
  readonly events: Record<string, unknown>[] = [];
  /** How long each played media lasts (ms). */
  playbackMs = 30;
  behaviour: (endpoint: string) => SubscriberBehaviour = () => ({ answerAfterMs: 20 });
  /** Requests answered with an error instead, `times` times each (a loaded or confused Asterisk): failure tests. */
  readonly failures: { method: string; path: RegExp; status: number; times: number }[] = [];
  /** Keep every request and event for assertions; benchmarks turn it off so memory stays flat. */
  keepHistory = true;
  /** Extra delay of every REST answer (ms), to test timeouts. */
  responseDelayMs = 0;
  private server?: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Map<WebSocket, Set<string>>();
  private seq = 0;
  private listeners: ((event: Record<string, unknown>) => void)[] = [];
  port = 0;

  constructor(
    readonly username = 'spoofguard',
    readonly password = 'secret',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/ari/events' || url.searchParams.get('api_key') !== `${this.username}:${this.password}`) {
        socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
        socket.destroy();
        return;
      }
      const apps = new Set((url.searchParams.get('app') ?? '').split(',').filter(Boolean));
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.set(ws, apps);
        ws.on('close', () => this.sockets.delete(ws));
        // as Asterisk does, events flow from here on, before the client has seen its socket open
        this.onAppConnected?.();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
  }

  /** Stops listening and drops every connection, as when Asterisk goes down. */
  async stop(): Promise<void> {
    for (const ws of this.sockets.keys()) ws.terminate();
    this.sockets.clear();
    for (const c of this.channels.values()) c.timers.forEach(clearTimeout);
    for (const p of this.playbacks.values()) clearTimeout(p.timer);
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Drops the event WebSockets (the client reconnects) but keeps every call. */
  dropWebSockets(): void {
    for (const ws of this.sockets.keys()) ws.terminate();
    this.sockets.clear();
  }

  /** Called as an app's event socket is accepted (a test's call that arrives in that very moment). */
  onAppConnected?: () => void;

  get connectedApps(): number {
    return this.sockets.size;
  }

  private requestListeners: ((method: string, path: string, query: Record<string, string>) => void)[] = [];

  onRequest(listener: (method: string, path: string, query: Record<string, string>) => void): void {
    this.requestListeners.push(listener);
  }

  onEvent(listener: (event: Record<string, unknown>) => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }

  /** Resolves with the first event (already sent or future) that matches. */
  waitForEvent(match: (e: Record<string, unknown>) => boolean, timeoutMs = 15000): Promise<Record<string, unknown>> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error('event not seen in time'));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (match(e)) {
          clearTimeout(timer);
          off();
          resolve(e);
        }
      });
    });
  }

  /** REST requests being answered now, and the most at once so far (what an app's request cap allows). */
  requestsInProgress = 0;
  mostRequestsAtOnce = 0;

  /** What /asterisk/info names this Asterisk by (asterisk.conf entityid). */
  entityId = '02:00:5e:00:53:01';
  /** Asterisk's global variables (GET/POST /asterisk/variable). */
  readonly globals = new Map<string, string>();
  /** Calls the dialplan sent past Stasis() (the project's extensions.conf, while the bypass is on). */
  readonly bypassedCalls: string[] = [];

  // ---- the network side, driven by tests ----

  /** A call arrives from a trunk and the dialplan sends it to Stasis(app, args…). */
  inboundCall(options: {
    number: string;
    name?: string;
    args: string[];
    app?: string;
    vars?: Record<string, string>;
    exten?: string;
    /** The call waited this long in Asterisk before it reached the app (Asterisk falling behind). */
    createdAgoMs?: number;
  }): string {
    const channel = this.newChannel(`PJSIP/trunk-${this.pad()}`, 'Ring', {
      name: options.name ?? '',
      number: options.number,
    });
    if (options.createdAgoMs)
      channel.creationtime = new Date(Date.now() - options.createdAgoMs).toISOString().replace('Z', '+0000');
    channel.vars = { ...options.vars };
    // the project's dialplan: while SPOOFGUARD_BYPASS_UNTIL lies ahead, SPOOFGUARD_BYPASS_SHARE percent of the
    // calls skip Stasis() (RAND(1,100) <= share) and are counted
    const share = Number(this.globals.get('SPOOFGUARD_BYPASS_SHARE') ?? 0);
    if (
      Number(this.globals.get('SPOOFGUARD_BYPASS_UNTIL') ?? 0) > Math.floor(Date.now() / 1000) &&
      1 + Math.floor(Math.random() * 100) <= share
    ) {
      this.globals.set('SPOOFGUARD_BYPASSED', String(Number(this.globals.get('SPOOFGUARD_BYPASSED') ?? 0) + 1));
      const exten = options.exten ?? 's';
      channel.dialplan = { context: 'spoofguard-trunk', exten, priority: 4, app_name: 'Dial', app_data: '' };
      this.bypassedCalls.push(channel.id);
      return channel.id;
    }
    // the project's dialplan checks the called number in [from-trunk] and goes on at spoofguard-trunk,s,1
    channel.dialplan = {
      context: 'spoofguard-trunk',
      exten: options.exten ?? 's',
      priority: 3,
      app_name: 'Stasis',
      app_data: [options.app ?? 'spoofguard', ...options.args].join(','),
    };
    channel.apps.add(options.app ?? 'spoofguard');
    channel.inStasis = true;
    channel.fromDialplan = true;
    this.emit('StasisStart', channel, { args: options.args, channel: this.json(channel) });
    return channel.id;
  }

  /** A DTMF digit from the channel's phone. */
  press(channelId: string, digit: string): void {
    const channel = this.channels.get(channelId);
    if (channel && !channel.hungUp)
      this.emit('ChannelDtmfReceived', channel, { digit, duration_ms: 100, channel: this.json(channel) });
  }

  /** The far end hangs up (a BYE from the network). */
  hangupFromNetwork(channelId: string, cause = 16): void {
    const channel = this.channels.get(channelId);
    if (channel) this.destroy(channel, cause, CAUSES.normal[1], true);
  }

  channelByEndpointPrefix(prefix: string): ChannelState | undefined {
    return [...this.channels.values()].find((c) => c.endpoint?.startsWith(prefix) && !c.hungUp);
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams.entries());
    const auth = req.headers.authorization;
    const basic = `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
    if (auth !== basic && query.api_key !== `${this.username}:${this.password}`)
      return this.reply(res, 401, { message: 'Authentication required' });
    let body = '';
    for await (const chunk of req) body += chunk;
    if (body) {
      try {
        Object.assign(
          query,
          (JSON.parse(body) as { variables?: object }).variables
            ? { variables: JSON.stringify((JSON.parse(body) as { variables: object }).variables) }
            : {},
        );
      } catch {
        return this.reply(res, 400, { message: 'Invalid JSON body' });
      }
    }
    const path = url.pathname.replace(/^\/ari/, '');
    if (this.keepHistory) this.requests.push({ method: req.method ?? 'GET', path, query });
    for (const l of this.requestListeners) l(req.method ?? 'GET', path, query);
    this.requestsInProgress++;
    this.mostRequestsAtOnce = Math.max(this.mostRequestsAtOnce, this.requestsInProgress);
    res.once('close', () => this.requestsInProgress--);
    if (this.responseDelayMs) await new Promise((r) => setTimeout(r, this.responseDelayMs));
    const failure = this.failures.find((f) => f.times > 0 && f.method === req.method && f.path.test(path));
    if (failure) {
      failure.times--;
      return this.reply(res, failure.status, { message: 'Internal Server Error' });
    }
    const docs = /^\/api-docs\/(\w+)\.json$/.exec(path);
    if (req.method === 'GET' && docs) {
      const doc = description(`${this.url}/ari`)[docs[1]];
      return doc ? this.reply(res, 200, doc) : this.reply(res, 404, { message: 'Resource not found' });
    }
    try {
      const [status, payload] = this.route(req.method ?? 'GET', path, query);
      this.reply(res, status, payload);
    } catch (err) {
      this.reply(res, 500, { message: (err as Error).message });
    }
  }

  private reply(res: ServerResponse, status: number, payload?: unknown): void {
    if (status === 204 || payload === undefined) {
      res.writeHead(status === 200 ? 204 : status).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  }

  private route(method: string, path: string, q: Record<string, string>): [number, unknown?] {
    let m: RegExpExecArray | null;
    // as Asterisk 22 answers ?only=system: its version and entity id (asterisk.conf entityid, else a MAC address)
    if (path === '/asterisk/info' && method === 'GET')
      return [200, { system: { version: '22.10.1', entity_id: this.entityId } }];
    if (path === '/asterisk/variable' && (method === 'GET' || method === 'POST')) {
      if (!q.variable) return [400, { message: 'Variable name is required' }];
      if (method === 'POST') {
        this.globals.set(q.variable, q.value ?? '');
        return [204];
      }
      // Asterisk answers an unset global with an empty value, not 404
      return [200, { value: this.globals.get(q.variable) ?? '' }];
    }
    if (method === 'GET' && path === '/channels')
      return [200, [...this.channels.values()].filter((c) => !c.hungUp).map((c) => this.json(c))];
    if (method === 'POST' && path === '/channels') return this.originate(q);
    if ((m = /^\/channels\/([^/]+)$/.exec(path))) {
      const channel = this.channels.get(m[1]);
      if (method === 'GET')
        return channel && !channel.hungUp ? [200, this.json(channel)] : [404, { message: 'Channel not found' }];
      if (method === 'DELETE') {
        if (q.reason && !CAUSES[q.reason]) return [400, { message: 'Invalid reason for hangup provided' }];
        if (!channel || channel.hungUp) return [404, { message: 'Channel not found' }];
        const [cause, text] = CAUSES[q.reason ?? 'normal'];
        setImmediate(() => this.destroy(channel, cause, text, false));
        return [204];
      }
    }
    if ((m = /^\/channels\/([^/]+)\/(\w+)$/.exec(path))) {
      const channel = this.channels.get(m[1]);
      if (!channel || channel.hungUp) return [404, { message: 'Channel not found' }];
      const action = m[2];
      if (action === 'variable' && method === 'GET') {
        if (!q.variable) return [400, { message: 'Variable name is required' }];
        const value = channel.vars[q.variable];
        return value === undefined ? [404, { message: 'Provided variable was not found' }] : [200, { value }];
      }
      // Asterisk sets a channel variable whether or not the channel is in Stasis
      if (action === 'variable' && method === 'POST') {
        if (!q.variable) return [400, { message: 'Variable name is required' }];
        channel.vars[q.variable.replace(/^_{1,2}/, '')] = q.value ?? '';
        return [204];
      }
      if (!channel.inStasis) return [412, { message: 'Channel not in Stasis application' }];
      if (action === 'answer' && method === 'POST') {
        if (channel.state !== 'Up') this.setState(channel, 'Up');
        return [204];
      }
      if (action === 'ring') {
        if (method === 'POST' && channel.state !== 'Up') this.setState(channel, 'Ringing');
        return [204];
      }
      if (action === 'play' && method === 'POST') return this.play(channel, q);
      if (action === 'continue' && method === 'POST') {
        // Asterisk 22: StasisEnd, then the channel goes on in the dialplan and the app hears no more of it
        channel.inStasis = false;
        channel.continuedTo = { context: q.context, extension: q.extension, priority: q.priority };
        setImmediate(() => {
          this.emit('StasisEnd', channel, { channel: this.json(channel) });
          channel.apps.clear();
        });
        return [204];
      }
    }
    if (method === 'GET' && path === '/bridges')
      return [200, [...this.bridges.values()].map((b) => this.bridgeJson(b))];
    if (method === 'POST' && path === '/bridges') {
      const id = q.bridgeId || `bridge-${this.pad()}`;
      if (this.bridges.has(id)) return [409, { message: 'Bridge with this ID already exists' }];
      const bridge = {
        id,
        name: q.name ?? '',
        channels: new Set<string>(),
        bridge_type: q.type || 'mixing',
        creationtime: stamp(),
      };
      this.bridges.set(id, bridge);
      return [200, this.bridgeJson(bridge)];
    }
    if ((m = /^\/bridges\/([^/]+)\/addChannel$/.exec(path)) && method === 'POST') {
      const bridge = this.bridges.get(m[1]);
      if (!bridge) return [404, { message: 'Bridge not found' }];
      const ids = (q.channel ?? '').split(',').filter(Boolean);
      const chans = ids.map((id) => this.channels.get(id));
      if (chans.some((c) => !c || c.hungUp)) return [400, { message: 'Channel not found' }];
      if (chans.some((c) => !c?.inStasis)) return [422, { message: 'Channel not in Stasis application' }];
      setImmediate(() => {
        for (const c of chans as ChannelState[]) {
          if (c.hungUp) continue;
          bridge.channels.add(c.id);
          c.bridge = bridge.id;
          this.emit('ChannelEnteredBridge', c, { bridge: this.bridgeJson(bridge), channel: this.json(c) });
        }
      });
      return [204];
    }
    if ((m = /^\/bridges\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      const bridge = this.bridges.get(m[1]);
      if (!bridge) return [404, { message: 'Bridge not found' }];
      this.bridges.delete(bridge.id);
      for (const id of bridge.channels) {
        const c = this.channels.get(id);
        if (c && !c.hungUp) {
          c.bridge = undefined;
          this.emit('ChannelLeftBridge', c, { bridge: this.bridgeJson(bridge), channel: this.json(c) });
        }
      }
      return [204];
    }
    if ((m = /^\/playbacks\/([^/]+)$/.exec(path))) {
      const playback = this.playbacks.get(m[1]);
      if (!playback) return [404, { message: 'Playback not found' }];
      if (method === 'GET') return [200, this.playbackJson(playback)];
      if (method === 'DELETE') {
        setImmediate(() => this.finishPlayback(playback));
        return [204];
      }
    }
    return [404, { message: `Resource not found: ${method} ${path}` }];
  }

  private originate(q: Record<string, string>): [number, unknown?] {
    if (!q.endpoint) return [400, { message: 'Endpoint must be specified' }];
    if (q.channelId && this.channels.has(q.channelId))
      return [409, { message: 'Channel with given unique ID already exists.' }];
    const callerId = /^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$/.exec(q.callerId ?? '');
    const channel = this.newChannel(
      `${q.endpoint.split('@')[0]}-${this.pad()}`,
      'Down',
      { name: callerId?.[1] ?? '', number: callerId?.[2] ?? q.callerId ?? '' },
      q.channelId,
    );
    channel.endpoint = q.endpoint;
    if (q.app) channel.apps.add(q.app);
    const appArgs = q.appArgs ? q.appArgs.split(',') : [];
    const originator = q.originator ? this.channels.get(q.originator) : undefined;
    const behaviour = this.behaviour(q.endpoint);
    const dial = (status: string): void =>
      this.emit('Dial', channel, {
        peer: this.json(channel),
        dialstring: q.endpoint.replace(/^\w+\//, ''),
        dialstatus: status,
        ...(originator ? { caller: this.json(originator) } : {}),
      });
    const later = (ms: number, fn: () => void): void => void channel.timers.push(setTimeout(fn, ms));
    setImmediate(() => {
      dial('');
      this.setState(channel, 'Ringing');
      dial('RINGING');
      if ('answerAfterMs' in behaviour)
        later(behaviour.answerAfterMs, () => {
          if (channel.hungUp) return;
          dial('ANSWER');
          this.setState(channel, 'Up');
          channel.inStasis = true;
          channel.dialplan = { ...channel.dialplan, app_name: 'Stasis', app_data: [q.app ?? '', ...appArgs].join(',') };
          this.emit('StasisStart', channel, { args: appArgs, channel: this.json(channel) });
        });
      else if ('busyAfterMs' in behaviour)
        later(behaviour.busyAfterMs, () => {
          dial('BUSY');
          this.destroy(channel, 17, 'User busy', false);
        });
      else if ('rejectAfterMs' in behaviour)
        later(behaviour.rejectAfterMs, () => {
          dial('BUSY');
          this.destroy(channel, 21, 'Call Rejected', false);
        });
      const timeoutSec = Number(q.timeout ?? 30);
      if (timeoutSec > 0)
        later(timeoutSec * 1000, () => {
          if (channel.state === 'Up' || channel.hungUp) return;
          dial('NOANSWER');
          this.destroy(channel, 19, 'No answer', false);
        });
    });
    return [200, this.json(channel)];
  }

  private play(channel: ChannelState, q: Record<string, string>): [number, unknown?] {
    const media = (q.media ?? '').split(',').filter(Boolean);
    if (media.length === 0) return [400, { message: 'media is required' }];
    const id = q.playbackId || `pb-${this.pad()}`;
    if (this.playbacks.has(id)) return [409, { message: 'Playback with this ID already exists' }];
    const playback = { id, channelId: channel.id, media, language: q.lang || channel.language, state: 'queued' };
    this.playbacks.set(id, playback);
    setImmediate(() => {
      if (!this.playbacks.has(id)) return;
      playback.state = 'playing';
      this.emit('PlaybackStarted', channel, { playback: this.playbackJson(playback) });
      (playback as { timer?: NodeJS.Timeout }).timer = setTimeout(
        () => this.finishPlayback(playback),
        this.playbackMs * media.length,
      );
    });
    return [201, this.playbackJson(playback)];
  }

  private finishPlayback(playback: {
    id: string;
    channelId: string;
    timer?: NodeJS.Timeout;
    state: string;
    media: string[];
    language: string;
  }): void {
    if (!this.playbacks.has(playback.id)) return;
    clearTimeout(playback.timer);
    this.playbacks.delete(playback.id);
    playback.state = 'done';
    const channel = this.channels.get(playback.channelId);
    if (channel) this.emit('PlaybackFinished', channel, { playback: this.playbackJson(playback) });
  }

  /**
   * Hang-up in the order Asterisk 22 sends it (recorded by the real-server suite): ChannelHangupRequest
   * (with the cause), ChannelLeftBridge, StasisEnd, then ChannelDestroyed only for a channel the app
   * originated. A channel that entered Stasis from the dialplan leaves the app at StasisEnd, and the app
   * hears nothing more of it: no ChannelDestroyed. An unanswered originated leg (busy, rejected, no answer)
   * gets ChannelHangupRequest and ChannelDestroyed.
   */
  private destroy(channel: ChannelState, cause: number, causeText: string, fromNetwork: boolean): void {
    if (channel.hungUp) return;
    channel.hungUp = true;
    channel.timers.forEach(clearTimeout);
    if (fromNetwork || channel.inStasis || !channel.fromDialplan)
      this.emit('ChannelHangupRequest', channel, { cause, channel: this.json(channel) });
    for (const p of [...this.playbacks.values()].filter((p) => p.channelId === channel.id)) this.finishPlayback(p);
    const bridge = channel.bridge ? this.bridges.get(channel.bridge) : undefined;
    if (bridge) {
      bridge.channels.delete(channel.id);
      channel.bridge = undefined;
      this.emit('ChannelLeftBridge', channel, { bridge: this.bridgeJson(bridge), channel: this.json(channel) });
    }
    if (channel.inStasis) {
      channel.inStasis = false;
      this.emit('StasisEnd', channel, { channel: this.json(channel) });
    }
    if (!channel.fromDialplan)
      this.emit('ChannelDestroyed', channel, { cause, cause_txt: causeText, channel: this.json(channel) });
    channel.apps.clear();
    this.channels.delete(channel.id);
  }

  private setState(channel: ChannelState, state: string): void {
    channel.state = state;
    this.emit('ChannelStateChange', channel, { channel: this.json(channel) });
  }

  private emit(type: string, channel: ChannelState, body: Record<string, unknown>): void {
    for (const app of channel.apps) {
      const event = { type, ...body, asterisk_id: '00:00:00:00:00:01', application: app, timestamp: stamp() };
      if (this.keepHistory) this.events.push(event);
      const text = JSON.stringify(event);
      for (const [ws, apps] of this.sockets) if (apps.has(app) && ws.readyState === WebSocket.OPEN) ws.send(text);
      for (const l of this.listeners) l(event);
    }
  }

  private newChannel(name: string, state: string, caller: { name: string; number: string }, id?: string): ChannelState {
    const channel: ChannelState = {
      id: id || `${Math.floor(Date.now() / 1000)}.${++this.seq}`,
      name,
      state,
      caller,
      connected: { name: '', number: '' },
      accountcode: '',
      dialplan: { context: 'default', exten: 's', priority: 1, app_name: '', app_data: '' },
      creationtime: stamp(),
      language: 'en',
      protocol_id: `${this.seq}-call@test`,
      vars: {},
      apps: new Set(),
      inStasis: false,
      timers: [],
      hungUp: false,
      fromDialplan: false,
    };
    this.channels.set(channel.id, channel);
    return channel;
  }

  private pad(): string {
    return (++this.seq).toString(16).padStart(8, '0');
  }

  private json(c: ChannelState): Record<string, unknown> {
    return {
      id: c.id,
      name: c.name,
      state: c.state,
      protocol_id: c.protocol_id,
      caller: c.caller,
      connected: c.connected,
      accountcode: c.accountcode,
      dialplan: c.dialplan,
      creationtime: c.creationtime,
      language: c.language,
    };
  }

  private bridgeJson(b: {
    id: string;
    name: string;
    channels: Set<string>;
    bridge_type: string;
    creationtime: string;
  }): Record<string, unknown> {
    return {
      id: b.id,
      technology: 'simple_bridge',
      bridge_type: b.bridge_type,
      bridge_class: 'stasis',
      creator: 'Stasis',
      name: b.name,
      channels: [...b.channels],
      creationtime: b.creationtime,
    };
  }

  private playbackJson(p: {
    id: string;
    channelId: string;
    media: string[];
    language: string;
    state: string;
  }): Record<string, unknown> {
    return {
      id: p.id,
      media_uri: p.media[0],
      ...(p.media.length > 1 ? { next_media_uri: p.media[1] } : {}),
      target_uri: `channel:${p.channelId}`,
      language: p.language,
      state: p.state,
    };
  }
}
