import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runScript } from '../support/child';

/** One process that starts, makes or reads the pseudonym key, and prints it. */
function keyFromProcess(dir: string): Promise<{ code: number | null; key: string; stderr: string }> {
  const script = `
    const { pseudonymKey } = require(${JSON.stringify(join(ROOT, 'services/flagged-log'))});
    process.stdout.write(pseudonymKey({ flaggedLog: { pseudonymKey: '', sqlitePath: ${JSON.stringify(join(dir, 'log.sqlite'))} } }));
  `;
  return runScript(script).then(({ code, stdout, stderr }) => ({ code, key: stdout, stderr }));
}

it('processes that start together all get the one pseudonym key: none fails, none reads half a key', async () => {
  for (let round = 0; round < 3; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'sg-pseudonym-'));
    const results = await Promise.all(Array.from({ length: 6 }, () => keyFromProcess(dir)));
    expect(results.map((r) => [r.code, r.stderr])).toEqual(results.map(() => [0, '']));
    expect(new Set(results.map((r) => r.key)).size).toBe(1);
    expect(results[0].key).toMatch(/^[0-9a-f]{64}$/);
    // no temporary files left behind
    expect(readdirSync(dir)).toEqual(['pseudonym.key']);
  }
}, 60_000);
