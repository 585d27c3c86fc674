import WebSocket from 'ws';

/**
 * A tiny Stasis app that drives one call the way spoofguard does (ring the caller, dial the subscriber into
 * the app, bridge both on answer, answer the caller, hang up the other leg when one leaves) and records the
 * events Asterisk sends for each leg. Run against the real Asterisk and against the ARI test server, the two
 * recordings must be the same: that is what keeps the test server honest.
 */
export interface Recording {
  /** Event types per leg ("caller", "subscriber"), in the order they came. */
  caller: string[];
  subscriber: string[];
}

const RECORDED = new Set([
  'StasisStart',
  'ChannelEnteredBridge',
  'ChannelHangupRequest',
  'ChannelLeftBridge',
  'StasisEnd',
  'ChannelDestroyed',
]);

export class EventRecorder {
  private ws?: WebSocket;
  private callerId?: string;
  readonly recording: Recording = { caller: [], subscriber: [] };
  private ended?: () => void;
  /** Resolves when both legs are gone (StasisEnd of the caller, ChannelDestroyed of the subscriber). */
  readonly done = new Promise<void>((r) => (this.ended = r));

  constructor(
    private readonly baseUrl: string,
    private readonly user: string,
    private readonly password: string,
    private readonly app: string,
    private readonly endpoint: string,
  ) {}

  private async request(method: string, path: string): Promise<void> {
    await fetch(`${this.baseUrl}/ari${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${this.user}:${this.password}`).toString('base64')}` },
      signal: AbortSignal.timeout(5000),
    }).catch(() => undefined);
  }

  async start(): Promise<void> {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/ari/events?app=${this.app}&api_key=${this.user}:${this.password}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.on('message', (data) => void this.onEvent(JSON.parse(data.toString()) as Record<string, unknown>));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  private async onEvent(event: Record<string, unknown>): Promise<void> {
    const channel = event.channel as { id: string } | undefined;
    if (!channel || !RECORDED.has(event.type as string)) return;
    const args = (event.args as string[] | undefined) ?? [];
    if (event.type === 'StasisStart' && args[0] !== 'dialed' && !this.callerId) this.callerId = channel.id;
    const caller = this.callerId;
    if (!caller) return;
    const sub = `${caller}-sub`;
    const leg = channel.id === caller ? 'caller' : channel.id === sub ? 'subscriber' : undefined;
    if (!leg) return;
    this.recording[leg].push(event.type as string);
    if (event.type === 'StasisStart' && leg === 'caller') {
      await this.request('POST', `/channels/${caller}/ring`);
      await this.request(
        'POST',
        `/channels?endpoint=${encodeURIComponent(this.endpoint)}&app=${this.app}&appArgs=dialed,${caller}&channelId=${sub}&originator=${caller}`,
      );
    } else if (event.type === 'StasisStart') {
      await this.request('POST', `/bridges?type=mixing&bridgeId=${caller}-bridge`);
      await this.request('POST', `/bridges/${caller}-bridge/addChannel?channel=${caller},${sub}`);
      await this.request('POST', `/channels/${caller}/answer`);
    } else if (event.type === 'StasisEnd') {
      await this.request('DELETE', `/channels/${leg === 'caller' ? sub : caller}`);
    }
    const callerDone = this.recording.caller.includes('StasisEnd');
    const subDone = this.recording.subscriber.includes('ChannelDestroyed');
    if (callerDone && subDone) {
      await this.request('DELETE', `/bridges/${caller}-bridge`);
      // late events (a ChannelDestroyed the app should not get) would show up within this moment
      setTimeout(() => this.ended?.(), 500);
    }
  }

  close(): void {
    this.ws?.terminate();
  }
}
