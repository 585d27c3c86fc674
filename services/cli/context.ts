import { type Config, loadConfig } from '../common/config';
import { createLogger, type Logger } from '../common/logger';
import { installProcessPolicy } from '../common/process-policy';
import { openListAdmin } from '../screening';

/** What every command works with: the configuration, loaded once, and the process's logger. */
export interface Context {
  config: Config;
  logger: Logger;
}

let context: Context | undefined;

/** Loads the configuration on the first use (a command that needs none never fails on a bad one). */
export const ctx = (): Context => {
  if (!context) {
    const config = loadConfig();
    context = { config, logger: createLogger({ level: config.log.level }) };
    installProcessPolicy(context.logger);
  }
  return context;
};

export const out = (text: string): boolean => process.stdout.write(text);

/** Runs `work` with the lists' admin connection, closed afterwards. */
export async function withAdmin<T>(work: (admin: Awaited<ReturnType<typeof openListAdmin>>) => Promise<T>): Promise<T> {
  const { config, logger } = ctx();
  const admin = await openListAdmin(config, logger);
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}
