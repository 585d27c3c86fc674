import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { fromPackageRoot } from '../common/package-root';
import type { LogStore } from './log-store';
import { PostgresLogStore } from './postgres-store';
import { CalledNumberPolicy } from './rows';
import { SqliteLogStore } from './sqlite-store';

export { permanentRefusal } from './refusals';
export type { LogStore, FlaggedCallRecord, CallFilter, CallStats, Page } from './log-store';

/**
 * The HMAC key for called numbers: from config, or made once and kept beside the SQLite file. Processes that
 * start together may all find no file: each writes a whole key to a file of its own and links it into place,
 * which only the first one does (link fails when the name exists); everyone then reads the one that won. A
 * reader never sees a half-written key.
 */
export function pseudonymKey(config: Config): string {
  if (config.flaggedLog.pseudonymKey) return config.flaggedLog.pseudonymKey;
  const file = join(dirname(fromPackageRoot(config.flaggedLog.sqlitePath)), 'pseudonym.key');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const mine = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(mine, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    try {
      linkSync(mine, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(mine);
    }
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
export async function openLogStore(config: Config, logger?: Logger): Promise<LogStore> {
  const policy = calledNumberPolicy(config);
  const store: LogStore = config.flaggedLog.databaseUrl
    ? new PostgresLogStore(config.flaggedLog.databaseUrl, policy, logger, config.flaggedLog.statementTimeoutMs)
    : new SqliteLogStore(fromPackageRoot(config.flaggedLog.sqlitePath), policy);
  await store.migrate();
  return store;
}
