import { createServer, type Server } from 'node:http';
import type { Health } from './health';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

export const OPS_PATHS = ['/health/live', '/health/ready', '/metrics'] as const;

/** The answer of an ops path, the same from this endpoint and from the console; undefined for other paths. */
export async function opsAnswer(
  path: string,
  health: Health,
  metrics: Metrics,
): Promise<{ status: number; contentType: string; body: string } | undefined> {
  const json = 'application/json; charset=utf-8';
  if (path === '/health/live') return { status: 200, contentType: json, body: '{"ok":true}' };
  if (path === '/health/ready') {
    const ready = await health.ready();
    return { status: ready.ok ? 200 : 503, contentType: json, body: JSON.stringify(ready) };
  }
  if (path === '/metrics') return { status: 200, contentType: metrics.contentType, body: await metrics.text() };
  return undefined;
}

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
    const path = (request.url ?? '/').split('?')[0] as string;
    void (async () => {
      const answer = request.method === 'GET' ? await opsAnswer(path, health, metrics) : undefined;
      if (!answer) return void response.writeHead(request.method === 'GET' ? 404 : 405).end();
      response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
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
