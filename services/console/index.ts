import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, loadConfig } from '../common/config';
import type { Health } from '../common/health';
import type { Logger } from '../common/logger';
import type { Metrics } from '../common/metrics';
import { fromPackageRoot, packageRoot } from '../common/package-root';
import { openQueue } from '../events';
import { calledNumberPolicy, openLogStore } from '../flagged-log';
import { loadRuleSet, openListAdmin } from '../screening';
import { openReportDesk } from '../abuse-reports';
import { adminRoutes } from './admin-routes';
import { reportRoutes } from './report-routes';
import { analystRoutes } from './analyst-routes';
import { TokenRegistry } from './auth';
import { createHttpServer } from './http-server';
import { openApiDocument } from './openapi';
import { opsRoutes } from './ops-routes';
import { route, type Route } from './route';

export interface RunningConsole {
  url: string;
  close(): Promise<void>;
}

const DASHBOARD_FILES: [string, string, string][] = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/dashboard/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['/dashboard/style.css', 'style.css', 'text/css; charset=utf-8'],
];

/** `spoofguard console`: the HTTP API, its OpenAPI description, the dashboard, health and metrics. */
export async function runConsole(
  config: Config,
  logger: Logger,
  shared: { health: Health; metrics: Metrics },
  options: { reload?: () => Config } = {},
): Promise<RunningConsole> {
  const log = logger.child({ role: 'console' });
  const store = await openLogStore(config, log);
  const lists = await openListAdmin(config, log);
  const events = openQueue(config);
  const reports = openReportDesk(config, store, log, { brands: lists.brands });
  shared.health.add('redis', () => lists.redis.ping());
  shared.health.add('log store', () => store.ping());
  shared.metrics.watchQueue(async () => events.queue.counts());

  const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const routes: Route[] = [
    ...analystRoutes({
      store,
      called: calledNumberPolicy(config),
      rules: loadRuleSet(config).rules,
      reports: lists.reports,
    }),
    ...adminRoutes({ admin: lists.admin, reports: lists.reports, importLimitBytes: config.console.importLimitBytes }),
    ...reportRoutes({ desk: reports.desk, called: calledNumberPolicy(config) }),
    ...opsRoutes(shared.health, shared.metrics),
  ];
  const description = openApiDocument(routes, version);
  routes.push(
    route({
      method: 'GET',
      path: '/openapi.json',
      summary: 'This description.',
      role: 'public',
      responds: 'OpenAPI 3.1',
      handler: async () => ({ json: description }),
    }),
  );
  const dashboardDir = fromPackageRoot('services/console/dashboard');
  const tokens = new TokenRegistry(config.console.tokens);
  if (tokens.size === 0)
    log.warn('console.tokens is empty: every API call will be refused; make one with `spoofguard console token`');
  // SIGHUP reloads the tokens from the config (files and environment, as at start): revoking needs no restart
  const reloadTokens = (): void => {
    try {
      const fresh = (options.reload ?? loadConfig)();
      tokens.replace(fresh.console.tokens);
      log.info({ tokens: tokens.size }, 'console tokens reloaded (SIGHUP)');
    } catch (err) {
      log.error(
        { err: (err as Error).message },
        'console tokens not reloaded: the config does not load; the old tokens stay',
      );
    }
  };
  process.on('SIGHUP', reloadTokens);
  const app = createHttpServer({
    routes,
    tokens,
    audit: (entry) => store.audit(entry),
    anonymousRateLimitPerMinute: config.console.anonymousRateLimitPerMinute,
    rateLimitPerMinute: config.console.rateLimitPerMinute,
    bodyLimitBytes: config.console.bodyLimitBytes,
    publicOps: config.console.publicOps,
    staticFiles: new Map(
      DASHBOARD_FILES.map(([path, file, contentType]) => [
        path,
        { contentType, body: readFileSync(join(dashboardDir, file)) },
      ]),
    ),
    logger: log,
  });
  const address = await app.listen({ host: config.console.host, port: config.console.port });
  log.info({ url: address }, 'console listening');
  return {
    url: address,
    close: async () => {
      process.off('SIGHUP', reloadTokens);
      // a client that holds a response open (an unread body, a long export) must not hold up the shutdown
      const cut = setTimeout(() => app.server.closeAllConnections(), 2000);
      await app.close();
      clearTimeout(cut);
      await events.close();
      reports.close();
      await lists.close();
      await store.close();
    },
  };
}
