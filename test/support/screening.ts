import { type Config } from '../../services/common/config';
import { openListAdmin, openScreening, type Screening } from '../../services/screening';
import { seedEntries } from '../../services/screening/seed';
import { quietLogger } from './config';

/** A screening engine on a seeded, private key prefix. */
export async function seededScreening(config: Config): Promise<Screening> {
  const admin = await openListAdmin(config, quietLogger());
  await admin.admin.import(seedEntries(admin.brands), { replace: { origin: 'seed' } });
  await admin.close();
  return openScreening(config, quietLogger());
}
