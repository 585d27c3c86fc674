import type { Health } from '../common/health';
import type { Metrics } from '../common/metrics';
import { route, type Route } from './route';

/** Health and metrics on the console's port: open (metrics behind a token unless console.publicOps). */
export function opsRoutes(health: Health, metrics: Metrics): Route[] {
  return [
    route({
      method: 'GET',
      path: '/health/live',
      summary: 'The process runs.',
      role: 'public',
      responds: '{ ok: true }',
      handler: async () => ({ json: { ok: true } }),
    }),
    route({
      method: 'GET',
      path: '/health/ready',
      summary: 'Redis and the log store answer (503 and which one did not, otherwise).',
      role: 'public',
      responds: '{ ok, checks }',
      handler: async () => {
        const ready = await health.ready();
        return { status: ready.ok ? 200 : 503, json: ready };
      },
    }),
    route({
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics.',
      role: 'analyst',
      ops: true,
      responds: 'text/plain (Prometheus exposition format)',
      handler: async () => ({ text: await metrics.text(), contentType: metrics.contentType }),
    }),
  ];
}
