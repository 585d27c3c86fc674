import { randomBytes } from 'node:crypto';
import type { Config } from '../../services/common/config';
import { Health } from '../../services/common/health';
import { Metrics } from '../../services/common/metrics';
import { runConsole, type RunningConsole } from '../../services/console';
import { hashToken } from '../../services/console/auth';
import type { FlaggedCallEvent } from '../../services/events/flagged-call';
import { openLogStore, type LogStore } from '../../services/flagged-log';
import { quietLogger, testConfig } from '../support/config';
import { dropQueue, flagged, outcome } from '../support/events';
import { configWithLogStore } from '../support/postgres';
import { dropPrefix } from '../support/redis';

export const TOKENS = {
  analyst: randomBytes(18).toString('hex'),
  admin: randomBytes(18).toString('hex'),
};

export interface ConsoleHarness {
  url: string;
  config: Config;
  store: LogStore;
  console: RunningConsole;
  metrics: Metrics;
  /** fetch against the console with a role's token (or none, or a raw Authorization value). */
  call(
    path: string,
    options?: { as?: 'analyst' | 'admin' | 'none' | string; method?: string; body?: unknown; type?: string },
  ): Promise<Response>;
  close(): Promise<void>;
}

export async function startConsoleHarness(
  kind: 'sqlite' | 'postgres' = 'sqlite',
  overrides: Record<string, unknown> = {},
  options: { reload?: (config: Config) => Config } = {},
): Promise<ConsoleHarness> {
  const { config, drop } = await configWithLogStore(kind, (o = {}) =>
    testConfig({
      ...o,
      ...overrides,
      console: {
        tokens: {
          'ana.lyst': { role: 'analyst', sha256: hashToken(TOKENS.analyst) },
          'ad.min': { role: 'admin', sha256: hashToken(TOKENS.admin) },
        },
        ...((overrides.console as object) ?? {}),
      },
    }),
  );
  const store = await openLogStore(config);
  const metrics = new Metrics('console-test');
  const reload = options.reload;
  const running = await runConsole(
    config,
    quietLogger(),
    { health: new Health(), metrics },
    reload ? { reload: () => reload(config) } : {},
  );
  return {
    url: running.url,
    config,
    store,
    console: running,
    metrics,
    call: (path, options = {}) => {
      const as = options.as ?? 'analyst';
      const authorization =
        as === 'none' ? undefined : as === 'analyst' || as === 'admin' ? `Bearer ${TOKENS[as]}` : as;
      const body =
        options.body === undefined
          ? undefined
          : typeof options.body === 'string'
            ? options.body
            : JSON.stringify(options.body);
      return fetch(`${running.url}${path}`, {
        method: options.method ?? 'GET',
        headers: {
          ...(authorization ? { authorization } : {}),
          ...(body !== undefined ? { 'content-type': options.type ?? 'application/json' } : {}),
        },
        ...(body !== undefined ? { body } : {}),
      });
    },
    close: async () => {
      await running.close();
      await store.close();
      await drop();
      await dropQueue(config);
      await dropPrefix(config.redis.keyPrefix);
    },
  };
}

/** 60 flagged calls over three days: brands, verdicts, outcomes and callers vary. */
export function seedEvents(base = Date.parse('2026-11-20T00:00:00Z')): FlaggedCallEvent[] {
  const events: FlaggedCallEvent[] = [];
  const outcomes = ['accepted', 'rejected', 'reported', 'caller-hung-up'] as const;
  for (let i = 0; i < 60; i++) {
    const callId = `seed-${String(i).padStart(3, '0')}`;
    const block = i % 10 === 0;
    events.push(
      flagged(callId, {
        receivedAt: new Date(base + i * 3_600_000).toISOString(),
        brand: block ? undefined : i % 3 === 0 ? 'paypal' : 'amazon',
        verdict: block ? 'block' : 'warn',
        reasons: block ? ['emergency-caller-id'] : ['brand-number', 'brand-name'],
        caller: {
          raw: `+1888280${String(4000 + (i % 7))}`,
          e164: `+1888280${String(4000 + (i % 7))}`,
          kind: 'number',
          displayName: 'Amazon',
        },
      }),
      outcome(callId, block ? 'blocked' : outcomes[i % 4]),
    );
  }
  return events;
}
