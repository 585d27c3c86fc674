import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { defineScript, loadLuaScripts } from '../../services/common/lua';
import { LISTS_LUA } from '../../services/screening/lists-lua';
import { REDIS_URL } from '../support/config';

describe('the Lua loader', () => {
  it('reads each script with its key count, and Redis compiles every one of the lists', async () => {
    expect(Object.values(LISTS_LUA).map((s) => [s.name, s.keys])).toEqual([
      ['lookup', 1],
      ['snapshot', 1],
      ['index-start', 1],
      ['release-lock', 1],
    ]);
    const redis = new IORedis(REDIS_URL);
    try {
      // SCRIPT LOAD compiles without running: a syntax error would be refused here
      for (const script of Object.values(LISTS_LUA))
        expect(await redis.script('LOAD', script.lua)).toMatch(/^[0-9a-f]{40}$/);
      defineScript(redis, 'sgTestReleaseLock', LISTS_LUA['release-lock']);
      await redis.set('sg-lua-test-lock', 'mine');
      const client = redis as unknown as { sgTestReleaseLock(key: string, token: string): Promise<number> };
      expect(await client.sgTestReleaseLock('sg-lua-test-lock', 'theirs')).toBe(0);
      expect(await client.sgTestReleaseLock('sg-lua-test-lock', 'mine')).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('stops with the file named when a script is missing or lacks its key count', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-lua-'));
    writeFileSync(join(dir, 'bare.lua'), 'return 1\n');
    expect(() => loadLuaScripts(dir, ['bare'])).toThrow(/bare\.lua lacks its first line "-- keys: N"/);
    expect(() => loadLuaScripts(dir, ['absent'])).toThrow(/absent\.lua not readable/);
  });
});
