import { type Config } from '../../services/common/config';
import { testConfig } from './config';
import { dropPrefix } from './redis';
import { openListAdmin, openScreening, type Screening } from '../../services/screening';
import type { ListEntry } from '../../services/screening/list-entry';
import { seedEntries } from '../../services/screening/seed';
import { quietLogger } from './config';

/** A list entry as an analyst adds it (source "test", added now); `extra` sets brand, reason, expiry … */
export const listEntry = (kind: ListEntry['kind'], value: string, extra: Partial<ListEntry> = {}): ListEntry => ({
  kind,
  value,
  source: 'test',
  origin: 'admin',
  addedAt: Date.now(),
  ...extra,
});

/** A screening engine on a seeded, private key prefix. */
export async function seededScreening(config: Config): Promise<Screening> {
  const admin = await openListAdmin(config, quietLogger());
  await admin.admin.import(seedEntries(admin.brands), { replace: { origin: 'seed' } });
  await admin.close();
  return openScreening(config, quietLogger());
}

/**
 * A test file's screening against seeded lists on a key prefix of its own: made before the file's tests,
 * closed and its keys dropped after them. Read `.config` and `.screening` inside tests.
 */
export function seededScreeningPerFile(overrides: Record<string, unknown> = {}): {
  readonly config: Config;
  readonly screening: Screening;
} {
  const state = {} as { config: Config; screening: Screening };
  beforeAll(async () => {
    state.config = testConfig(overrides);
    state.screening = await seededScreening(state.config);
  });
  afterAll(async () => {
    await state.screening?.close();
    if (state.config) await dropPrefix(state.config.redis.keyPrefix);
  });
  return state;
}
