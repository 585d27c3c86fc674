import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { hashToken } from '../../services/console/auth';
import { AriTestServer } from '../support/ari-server/server';
import { exited, spawnSpoofguard } from '../support/child';
import { testConfig } from '../support/config';
import { dropQueue, until } from '../support/events';
import { dropPrefix, freePort } from '../support/redis';

it('`spoofguard serve`: ready, screens a call through ARI, logs it, shows it in the console, stops cleanly', async () => {
  const ari = new AriTestServer();
  await ari.start();
  const token = randomBytes(16).toString('hex');
  const port = await freePort();
  const config = testConfig({
    ari: { url: ari.url, username: ari.username, password: ari.password, digitTimeoutMs: 300 },
    console: { port, tokens: { ops: { role: 'analyst', sha256: hashToken(token) } } },
  });
  const child = spawnSpoofguard(['serve'], config);
  const url = `http://127.0.0.1:${port}`;
  const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  try {
    await until(
      async () => (await get('/health/ready').catch(() => undefined))?.status === 200,
      30000,
      `ready\n${child.output()}`,
    );
    await until(() => ari.connectedApps > 0, 15000, 'ARI app connected');
    // the brand lists were seeded on first start: a spoofed Amazon call is warned about
    const a = ari.inboundCall({ number: '+18882804331', name: 'Amazon', args: ['+4930901899', 'de-national', '', ''] });
    const b = `${a}-sub`;
    await ari.waitForEvent(
      (e) => e.type === 'PlaybackStarted' && (e.playback as { target_uri: string }).target_uri === `channel:${b}`,
    );
    ari.press(b, '3');
    await until(
      async () => {
        const page = (await (await get('/api/calls?outcome=reported')).json()) as { records: unknown[] };
        return page.records.length === 1;
      },
      15000,
      'reported call in the console',
    );
    const page = (await (await get('/api/calls')).json()) as { records: Record<string, unknown>[] };
    expect(page.records[0]).toMatchObject({ verdict: 'warn', brand: 'amazon', outcome: 'reported', source: 'ari' });
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toMatch(/spoofguard_screenings_total\{verdict="warn",role="serve"\} 1/);
    expect(metrics).toMatch(/spoofguard_call_outcomes_total\{source="ari",outcome="reported",role="serve"\} 1/);

    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(child.output()).not.toMatch(/"level":50/); // no error lines
    // nothing left behind in the spool: every event reached the queue and the log
    const spool = config.queue.spoolDir;
    const leftovers = existsSync(spool) ? readdirSync(spool).filter((f) => statSync(join(spool, f)).size > 0) : [];
    expect(leftovers).toEqual([]);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await ari.stop();
    await dropQueue(config);
    await dropPrefix(config.redis.keyPrefix);
  }
});

it('`spoofguard serve` without an Asterisk: runs, says so once (not in a flood), and stops cleanly', async () => {
  // a port that takes each connection and drops it at once: no Asterisk, and every attempt can be counted
  let attempts = 0;
  const refusing = createServer((socket) => {
    attempts++;
    socket.destroy();
  });
  const closedPort = await freePort();
  await new Promise<void>((resolve) => refusing.listen(closedPort, '127.0.0.1', resolve));
  const config = testConfig({ ari: { url: `http://127.0.0.1:${closedPort}` } });
  const child = spawnSpoofguard(['serve'], config);
  try {
    await until(() => child.output().includes('spoofguard ready'), 30000, `ready\n${child.output()}`);
    // the ARI client retries with backoff meanwhile: three attempts, one line
    await until(() => attempts >= 3, 30000, 'three connection attempts');
    expect(child.output().match(/Asterisk ARI not reachable/g)).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    refusing.close();
    await dropQueue(config);
    await dropPrefix(config.redis.keyPrefix);
  }
});

describe('`spoofguard serve` starts every role or none', () => {
  const startsNone = async (config: ReturnType<typeof testConfig>, role: string): Promise<void> => {
    const child = spawnSpoofguard(['serve'], config);
    try {
      const { code } = await Promise.race([
        exited(child),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`still running after 30 s\n${child.output()}`)), 30_000),
        ),
      ]);
      expect(code).toBe(69);
      const stderr = child
        .output()
        .split('\n')
        .filter((l) => l.startsWith('spoofguard:'));
      expect(stderr).toEqual([
        expect.stringMatching(new RegExp(`^spoofguard: could not start the ${role} role: .+; every role stopped$`)),
      ]);
      expect(child.output()).not.toContain('spoofguard ready');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await dropQueue(config);
      await dropPrefix(config.redis.keyPrefix);
    }
  };

  it('the console’s port is taken: the other roles stop and it exits non-zero with one line', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const closed = await freePort();
      await startsNone(testConfig({ ari: { url: `http://127.0.0.1:${closed}` }, console: { port } }), 'console');
    } finally {
      blocker.close();
    }
  });

  it('the worker cannot open the log store: the roles started before it stop and it exits non-zero', async () => {
    const closed = await freePort();
    await startsNone(
      testConfig({
        ari: { url: `http://127.0.0.1:${closed}` },
        flaggedLog: { databaseUrl: `postgres://spoofguard@127.0.0.1:${closed}/test` },
      }),
      'worker',
    );
  });
});
