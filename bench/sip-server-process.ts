/**
 * The drachtio wire-protocol test server in a process of its own for bench:sip (as drachtio-server is in
 * production): it delivers the sipp scenarios' INVITEs (90% clean, 8% spoofed Amazon, 2% 110 as caller ID)
 * with N in flight and counts completed transactions per second. Driven over IPC by bench/sip.ts.
 */
import { performance } from 'node:perf_hooks';
import { DrachtioTestServer } from '../test/support/drachtio-server/server';
import { scenarioMessage } from '../test/support/sipp/scenario';

interface RunCommand {
  /** ratePerSec: offered load, paced (at most `concurrency` in flight); 0: as fast as the app answers. */
  run: { invites: number; concurrency: number; ratePerSec: number };
}

(async () => {
  const server = new DrachtioTestServer();
  server.keepLog = false;
  await server.start();
  const kinds = ['clean-call.xml', 'spoofed-amazon.xml', 'caller-110.xml'];
  const templates = kinds.map((file) => scenarioMessage(file, { service: '+4930901820', callId: 'CALLID' }));
  const pick = (i: number): string => {
    const m = i % 50;
    const template = templates[m === 0 ? 2 : m <= 4 ? 1 : 0] as string;
    return template.replaceAll('CALLID', `bench-${process.pid}-${i}`);
  };
  process.on('message', (message: RunCommand) => {
    void (async () => {
      const { invites, concurrency, ratePerSec } = message.run;
      await server.waitRouted('invite', 30000);
      let next = 0;
      const statuses: Record<string, number> = {};
      const started = performance.now();
      const due = (i: number): number => (ratePerSec > 0 ? started + (i * 1000) / ratePerSec : 0);
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < invites) {
            const i = next++;
            const wait = due(i) - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            const answer = await server.deliver(pick(i), { address: '192.0.2.10', port: 5060 });
            const key = answer.kind === 'proxy' ? 'proxied' : String(answer.status);
            statuses[key] = (statuses[key] ?? 0) + 1;
          }
        }),
      );
      process.send?.({ rate: invites / ((performance.now() - started) / 1000), statuses });
    })();
  });
  process.send?.({ port: server.port, secret: server.secret });
})();
