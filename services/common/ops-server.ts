import { createServer, type Server } from 'node:http';
import type { Health } from './health';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/**
 * /health/live, /health/ready and /metrics of a role run alone (ari, sip, worker), on ops.host:ops.port. The
 * console serves the same on its own port. A port already taken is logged, not fatal: calls matter more.
 */
export async function startOpsServer(
  settings: { host: string; port: number },
  health: Health,
  metrics: Metrics,
  logger: Logger,
): Promise<{ close(): Promise<void> } | undefined> {
  if (settings.port === 0) return undefined;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    void (async () => {
      if (request.method !== 'GET') {
        response.writeHead(405).end();
      } else if (path === '/health/live') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      } else if (path === '/health/ready') {
        const ready = await health.ready();
        response.writeHead(ready.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(ready));
      } else if (path === '/metrics') {
        response.writeHead(200, { 'content-type': metrics.contentType }).end(await metrics.text());
      } else {
        response.writeHead(404).end();
      }
    })().catch(() => response.writeHead(500).end());
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(settings.port, settings.host, () => resolve());
    });
  } catch (err) {
    logger.warn(
      { err: (err as Error).message, port: settings.port },
      'health and metrics endpoint not started (set ops.port to a free port)',
    );
    return undefined;
  }
  logger.info({ url: `http://${settings.host}:${settings.port}/metrics` }, 'health and metrics endpoint up');
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
