import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../common/config';
import { fromPackageRoot } from '../common/package-root';
import type { LogStore } from './log-store';
import { PostgresLogStore } from './postgres-store';
import { CalledNumberPolicy } from './rows';
import { SqliteLogStore } from './sqlite-store';

export type { LogStore, FlaggedCallRecord, CallFilter, CallStats, Page } from './log-store';

/** The HMAC key for called numbers: from config, or made once and kept beside the SQLite file. */
function pseudonymKey(config: Config): string {
  if (config.flaggedLog.pseudonymKey) return config.flaggedLog.pseudonymKey;
  const file = join(dirname(fromPackageRoot(config.flaggedLog.sqlitePath)), 'pseudonym.key');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}

export function calledNumberPolicy(config: Config): CalledNumberPolicy {
  return new CalledNumberPolicy(
    config.flaggedLog.calledNumbers,
    config.flaggedLog.calledNumbers === 'plain' ? '' : pseudonymKey(config),
  );
}

/** SQLite by default; PostgreSQL when flaggedLog.databaseUrl (DATABASE_URL) is a postgres URL. Migrated on open. */
export async function openLogStore(config: Config): Promise<LogStore> {
  const policy = calledNumberPolicy(config);
  const store: LogStore = config.flaggedLog.databaseUrl
    ? new PostgresLogStore(config.flaggedLog.databaseUrl, policy)
    : new SqliteLogStore(fromPackageRoot(config.flaggedLog.sqlitePath), policy);
  await store.migrate();
  return store;
}
