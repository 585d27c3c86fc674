import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { Config } from '../../services/common/config';

export const PG_ADMIN_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh database on the real PostgreSQL for one test file; drop() removes it. */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `sg_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A test config whose flagged-call log is a fresh SQLite file, or a fresh PostgreSQL database; drop() cleans up. */
export async function configWithLogStore(
  kind: 'sqlite' | 'postgres',
  testConfig: (o?: Record<string, unknown>) => Config,
): Promise<{ config: Config; drop(): Promise<void> }> {
  if (kind === 'sqlite') return { config: testConfig(), drop: async () => undefined };
  const db = await createTestDatabase();
  return { config: testConfig({ flaggedLog: { databaseUrl: db.url } }), drop: db.drop };
}
