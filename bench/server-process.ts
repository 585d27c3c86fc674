import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../services/common/config';
import type { Logger } from '../services/common/logger';
import { openProducer } from '../services/events';
import { openListAdmin, openScreening, type Screening } from '../services/screening';
import { seedEntries } from '../services/screening/seed';

/** A benchmark's test server in its own process (as Asterisk or drachtio-server are), driven over IPC. */
export function forkServer(file: string): { child: ChildProcess; nextMessage<T>(): Promise<T> } {
  const child = fork(join(__dirname, file), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    child,
    nextMessage: <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T))),
  };
}

/** The call path a telephony benchmark drives: seeded lists, a screening engine and an event producer. */
export async function seededCallPath(
  config: Config,
  logger: Logger,
  role: string,
): Promise<{ screening: Screening; events: ReturnType<typeof openProducer> }> {
  const lists = await openListAdmin(config, logger);
  await lists.admin.import(seedEntries(lists.brands), { replace: { origin: 'seed' } });
  await lists.close();
  return { screening: await openScreening(config, logger), events: openProducer(config, logger, role) };
}
