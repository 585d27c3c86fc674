import type { Health } from '../common/health';
import type { Metrics } from '../common/metrics';
import { opsAnswer, OPS_PATHS } from '../common/ops-server';
import { route, type Route } from './route';

const SUMMARIES: Record<(typeof OPS_PATHS)[number], [string, string]> = {
  '/health/live': ['The process runs.', '{ ok: true }'],
  '/health/ready': ['Redis and the log store answer (503 and which one did not, otherwise).', '{ ok, checks }'],
  '/metrics': ['Prometheus metrics.', 'text/plain (Prometheus exposition format)'],
};

/** Health and metrics on the console's port, answered as the roles' ops endpoint answers them. */
export function opsRoutes(health: Health, metrics: Metrics): Route[] {
  return OPS_PATHS.map((path) =>
    route({
      method: 'GET',
      path,
      summary: SUMMARIES[path][0],
      // health is always open; metrics behind a token unless console.publicOps
      ...(path === '/metrics' ? { role: 'analyst' as const, ops: true } : { role: 'public' as const }),
      responds: SUMMARIES[path][1],
      handler: async () => {
        const answer = await opsAnswer(path, health, metrics);
        if (!answer) throw new Error(`no ops answer for ${path}`);
        return { status: answer.status, text: answer.body, contentType: answer.contentType };
      },
    }),
  );
}
