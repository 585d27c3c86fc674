/**
 * The ARI test server in a process of its own for bench:ari (as Asterisk is in production): it places calls,
 * ends them once bridged, and measures the added setup time on its side (StasisStart sent → dial request
 * received). Driven over IPC by bench/ari.ts.
 */
import { performance } from 'node:perf_hooks';
import { AriTestServer } from '../test/support/ari-server/server';

interface RunCommand {
  run: { calls: number; concurrency: number };
}

(async () => {
  const server = new AriTestServer();
  server.keepHistory = false;
  server.behaviour = () => ({ answerAfterMs: 0 });
  await server.start();
  const sentAt = new Map<string, number>();
  let setup: number[] = [];
  const ended = new Map<string, () => void>();
  server.onEvent((e) => {
    const channel = (e.channel as { id?: string } | undefined)?.id ?? '';
    if (e.type === 'StasisStart' && (e.args as string[])[0] !== 'dialed') sentAt.set(channel, performance.now());
    if (e.type === 'ChannelEnteredBridge' && !channel.endsWith('-sub'))
      setImmediate(() => server.hangupFromNetwork(channel));
    if (e.type === 'ChannelDestroyed') ended.get(channel)?.();
  });
  server.onRequest((method, path, query) => {
    if (method !== 'POST' || path !== '/channels') return;
    const t0 = sentAt.get(query.originator);
    if (t0 !== undefined) setup.push(performance.now() - t0);
    sentAt.delete(query.originator);
  });
  const oneCall = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const a = server.inboundCall({
        number: `+4930${1000000 + (i % 900000)}`,
        name: 'Erika Mustermann',
        args: ['+4930901899', 'de-national', '', ''],
      });
      ended.set(`${a}-sub`, () => {
        ended.delete(`${a}-sub`);
        resolve();
      });
    });
  process.on('message', (message: RunCommand) => {
    void (async () => {
      const { calls, concurrency } = message.run;
      setup = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < calls) await oneCall(next++);
        }),
      );
      process.send?.({ setup, rate: calls / ((performance.now() - started) / 1000) });
    })();
  });
  process.send?.({ url: server.url, username: server.username, password: server.password });
})();
