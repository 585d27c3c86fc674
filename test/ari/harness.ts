import type { Config } from '../../services/common/config';
import { Metrics } from '../../services/common/metrics';
import { runAri, type RunningAri } from '../../services/ari';
import type { FlaggedCallProducer } from '../../services/events';
import type { Screening } from '../../services/screening';
import type { RunningLogWorker } from '../../services/worker';
import { AriTestServer } from '../support/ari-server/server';
import { startCallPath } from '../support/call-path';
import { quietLogger, testConfig } from '../support/config';
import { until } from '../support/events';

export const VERDICT_KEY = 'verdict-key-0123456789abcdef';

export interface Harness {
  server: AriTestServer;
  config: Config;
  screening: Screening;
  producer: FlaggedCallProducer;
  ari: RunningAri;
  worker: RunningLogWorker;
  metrics: Metrics;
  close(): Promise<void>;
}

/** The ARI app in-process against the ARI test server, real Redis, and a worker writing the log. */
export async function startHarness(
  overrides: Record<string, unknown> = {},
  beforeApp?: (server: AriTestServer) => void,
): Promise<Harness> {
  const logger = quietLogger();
  const server = new AriTestServer();
  await server.start();
  beforeApp?.(server);
  const config = testConfig({
    ...overrides,
    // a loaded CI machine may take longer than 50 ms for a look-up: a degraded (fail-open) screening would
    // hand a warned call back to the dialplan; the degraded path has tests of its own (Redis stopped)
    screening: { budgetMs: 1000, ...((overrides.screening as object) ?? {}) },
    ari: {
      url: server.url,
      username: server.username,
      password: server.password,
      digitTimeoutMs: 300,
      dialTimeoutSec: 5,
      // two loaded cores can stall an event loop for a second: only a test's own late call is "late"
      maxLagMs: 10_000,
      ...((overrides.ari as object) ?? {}),
    },
    verdictHeader: { key: VERDICT_KEY, maxAgeSec: 30, ...((overrides.verdictHeader as object) ?? {}) },
  });
  const callPath = await startCallPath(config, logger, 'ari');
  const metrics = new Metrics('ari');
  const ari = runAri(config, logger, callPath.screening, callPath.producer, metrics);
  await until(() => server.connectedApps > 0, 10000, 'ARI app connected');
  return {
    server,
    config,
    screening: callPath.screening,
    producer: callPath.producer,
    ari,
    worker: callPath.worker,
    metrics,
    close: async () => {
      // calls still up would keep the drain waiting, as it should in production: end them from the network
      for (const id of [...server.channels.keys()]) server.hangupFromNetwork(id);
      await ari.close();
      await callPath.close();
      await server.stop();
    },
  };
}

/** REST requests the app made to a path (e.g. "/channels/ID/answer"). */
export const requestsTo = (
  server: AriTestServer,
  method: string,
  path: string | RegExp,
): { query: Record<string, string> }[] =>
  server.requests.filter(
    (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)),
  );

/** spoofguard_ari_handed_back_total{reason} as the app counted it. */
export async function handedBack(h: Harness, reason: string): Promise<number> {
  const metric = await h.metrics.registry.getSingleMetric('spoofguard_ari_handed_back_total')?.get();
  return metric?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}
