import { asteriskCannotRun, type RealServerEnv, realServerEnv } from './asterisk';

/**
 * The real-server suite runs where real servers are: `ASTERISK_BIN` (Asterisk 22) and `DRACHTIO_BIN`
 * (drachtio-server), as `../shared/real-servers/install.sh` prints them or as a user points them at their own.
 * Without them it is skipped with one line saying why; with REQUIRE_REAL_SERVERS=1 (CI) a skip is a failure.
 */
export type RealServer = 'asterisk' | 'drachtio';

const VARIABLES: Record<RealServer, (keyof RealServerEnv)[]> = {
  asterisk: ['asteriskBin', 'asteriskModules', 'asteriskData'],
  drachtio: ['drachtioBin'],
};
const NAMES: Record<keyof RealServerEnv, string> = {
  asteriskBin: 'ASTERISK_BIN',
  asteriskModules: 'ASTERISK_MODULES',
  asteriskData: 'ASTERISK_DATA',
  drachtioBin: 'DRACHTIO_BIN',
  sippBin: 'SIPP_BIN',
  dtmfPcaps: 'SIPP_DTMF_PCAPS',
};

export function describeReal(
  servers: RealServer | RealServer[],
  title: string,
  body: (env: Required<RealServerEnv>) => void,
): void {
  const env = realServerEnv();
  const needed = [servers].flat();
  const server = needed.join(' and ');
  const missing = needed
    .flatMap((s) => VARIABLES[s])
    .filter((key) => !env[key])
    .map((key) => NAMES[key]);
  // an Asterisk built for another CPU is no real server here either; CI says so and goes on (below)
  const unrunnable =
    missing.length === 0 && needed.includes('asterisk') ? asteriskCannotRun(env.asteriskBin as string) : undefined;
  if (missing.length === 0 && !unrunnable) {
    describe(title, () => body(env as Required<RealServerEnv>));
    return;
  }
  const why = unrunnable
    ? `real ${server} tests skipped: ${unrunnable}`
    : `real ${server} tests skipped: ${missing.join(', ')} not set (bash ../shared/real-servers/install.sh prints them)`;
  // REQUIRE_REAL_SERVERS makes a missing server a failure; a binary this CPU cannot execute is the machine's
  // fault, not the code's: it is skipped with the line below, loudly, rather than failing every change
  if (process.env.REQUIRE_REAL_SERVERS === '1' && !unrunnable) {
    describe(title, () => {
      it('has its real server (REQUIRE_REAL_SERVERS=1)', () => {
        throw new Error(why);
      });
    });
    return;
  }
  // jest drops console output of a file whose tests are all skipped: this line must reach the terminal
  process.stderr.write(`${unrunnable ? '\n!!! ' : ''}${why}\n`);
  const skipped = describe.skip;
  skipped(title, () => body(env as Required<RealServerEnv>));
}

/** Polls until `check` holds, or fails with what it waited for. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      // a server being restarted refuses for a moment: try again, and say so if it never answers
      lastError = ` (last try: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${lastError}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
