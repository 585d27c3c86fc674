import { asteriskCannotRun, type RealServerEnv, realServerEnv } from './asterisk';

/**
 * The real-server suite runs where real servers are: `ASTERISK_BIN` (Asterisk 22), `DRACHTIO_BIN`
 * (drachtio-server) and `KAMAILIO_BIN`/`KAMCMD_BIN` (Kamailio 5.6, found on PATH too), pointed at your own builds. Without them it is skipped with one loud line saying why;
 * with REQUIRE_REAL_SERVERS=1 or CI=true a server that is missing or cannot run here is a failure.
 */
export type RealServer = 'asterisk' | 'drachtio' | 'kamailio';

const VARIABLES: Record<RealServer, (keyof RealServerEnv)[]> = {
  asterisk: ['asteriskBin', 'asteriskModules', 'asteriskData'],
  drachtio: ['drachtioBin'],
  kamailio: ['kamailioBin', 'kamcmdBin'],
};
const NAMES: Record<keyof RealServerEnv, string> = {
  asteriskBin: 'ASTERISK_BIN',
  asteriskModules: 'ASTERISK_MODULES',
  asteriskData: 'ASTERISK_DATA',
  drachtioBin: 'DRACHTIO_BIN',
  kamailioBin: 'KAMAILIO_BIN',
  kamcmdBin: 'KAMCMD_BIN',
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
  // an Asterisk built for instructions this CPU lacks is no real server here either
  const unrunnable =
    missing.length === 0 && needed.includes('asterisk') ? asteriskCannotRun(env.asteriskBin as string) : undefined;
  if (missing.length === 0 && !unrunnable) {
    describe(title, () => body(env as Required<RealServerEnv>));
    return;
  }
  const why = unrunnable
    ? `real ${server} tests skipped: ${unrunnable}`
    : `real ${server} tests skipped: ${missing.join(', ')} not set (point them at your own servers: see docs/TESTING.md)`;
  // REQUIRE_REAL_SERVERS (and CI) make a missing server, or one that cannot run here, a failure
  if (process.env.REQUIRE_REAL_SERVERS === '1' || process.env.CI === 'true') {
    describe(title, () => {
      it('has its real server (REQUIRE_REAL_SERVERS=1 or CI)', () => {
        throw new Error(why);
      });
    });
    return;
  }
  // jest drops console output of a file whose tests are all skipped: this line must reach the terminal
  process.stderr.write(`\n!!! SKIPPED: ${why}\n`);
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
