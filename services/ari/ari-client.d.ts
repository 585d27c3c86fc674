// The part of ari-client 2.2.0 spoofguard uses (the package ships no types).
declare module 'ari-client' {
  import type { EventEmitter } from 'node:events';
  type Operation = (params?: Record<string, unknown>) => Promise<unknown>;
  interface AriClient extends EventEmitter {
    channels: Record<string, Operation>;
    bridges: Record<string, Operation>;
    playbacks: Record<string, Operation>;
    asterisk: Record<string, Operation>;
    start(apps: string | string[], subscribeAll?: boolean): Promise<void>;
    stop(): void;
  }
  function connect(url: string, user: string, pass: string): Promise<AriClient>;
  export { connect, AriClient };
}
