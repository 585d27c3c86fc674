import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { fromPackageRoot } from '../common/package-root';
import { createRedis, type Redis, redisReady } from '../common/redis';
import { brandCatalog, type BrandFile, loadBrandFiles, loadRulesFile } from './brand-data';
import { ScreeningEngine } from './engine';
import { ListAdmin } from './list-admin';
import { ListKeys } from './list-keys';
import { ListStore } from './list-store';
import { ReportCounter } from './reports';
import type { Verdict } from './verdict';
import { RuleSet } from './rules';
import { openStirVerifier } from '../stir';

export { ScreeningEngine } from './engine';
export type { Verdict, ScreeningRequest } from './verdict';

export interface Screening {
  engine: ScreeningEngine;
  /** The call-path Redis connection (no offline queue: a command fails at once while Redis is away). */
  redis: Redis;
  reports: ReportCounter;
  store: ListStore;
  rules: RuleSet;
  keys: ListKeys;
  brands: BrandFile[];
  close(): Promise<void>;
}

export function loadRuleSet(config: Config): { rules: RuleSet; brands: BrandFile[] } {
  const brands = loadBrandFiles(fromPackageRoot(config.screening.brandsDir));
  const rulesFile = loadRulesFile(fromPackageRoot(config.screening.rulesFile));
  const rules = new RuleSet(rulesFile, brandCatalog(brands), {
    warn: config.screening.warnThreshold,
    block: config.screening.blockThreshold,
  });
  return { rules, brands };
}

/** Builds a screening engine with its own call-path and pub/sub connections. */
export async function openScreening(
  config: Config,
  logger: Logger,
  observe?: (verdict: Verdict) => void,
  options: { clock?: () => number } = {},
): Promise<Screening> {
  const { rules, brands } = loadRuleSet(config);
  const keys = new ListKeys(config.redis.keyPrefix);
  const callPath = createRedis(config.redis, 'call-path', undefined, logger);
  const subscriber = createRedis(config.redis, 'subscriber', undefined, logger);
  const store = new ListStore(callPath, keys, logger, subscriber, {
    budgetMs: config.screening.budgetMs,
    localIndexMaxAgeMs: config.screening.localIndexMaxAgeMs,
    ...options,
  });
  const verifies = Object.values(config.trunks).some((t) => t.stir === 'verify');
  const stir = verifies ? openStirVerifier(config, callPath, logger) : undefined;
  const engine = new ScreeningEngine(
    store,
    rules,
    {
      trunks: config.trunks,
      defaultTrunk: config.screening.defaultTrunk,
      ...(observe ? { observe } : {}),
      ...(stir ? { stir } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    },
    logger,
  );
  try {
    await redisReady(callPath, config.redis.connectTimeoutMs);
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      'Redis not reachable at start: screening runs degraded (fail open) until it is',
    );
  }
  await store.start();
  return {
    engine,
    redis: callPath,
    reports: new ReportCounter(callPath, keys, logger, config.screening.reportsKeepDays),
    store,
    rules,
    keys,
    brands,
    close: async () => {
      await store.stop();
      callPath.disconnect();
      subscriber.disconnect();
    },
  };
}

export interface ListAdministration {
  admin: ListAdmin;
  reports: ReportCounter;
  redis: Redis;
  brands: BrandFile[];
  close(): Promise<void>;
}

export async function openListAdmin(
  config: Config,
  logger: Logger,
  options: { clock?: () => number } = {},
): Promise<ListAdministration> {
  const brands = loadBrandFiles(fromPackageRoot(config.screening.brandsDir));
  const redis = createRedis(config.redis, 'admin', undefined, logger);
  await redisReady(redis, Math.max(config.redis.connectTimeoutMs, 5000));
  const keys = new ListKeys(config.redis.keyPrefix);
  return {
    admin: new ListAdmin(redis, keys, logger, options.clock),
    reports: new ReportCounter(redis, keys, logger, config.screening.reportsKeepDays),
    redis,
    brands,
    close: async () => void redis.disconnect(),
  };
}
