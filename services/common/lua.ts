import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from './redis';

/** A Redis script read from a .lua file, with how many of its arguments are keys (its `-- keys: N` line). */
export interface LuaScript {
  name: string;
  lua: string;
  keys: number;
}

/**
 * The one loader of Lua scripts: each lives in a .lua file of its own (read, linted and reviewed as Lua), whose
 * first line says how many keys it takes (`-- keys: 1 …`: the cluster routes by them). Every script a module
 * names is read and checked once at start; a missing file or key count stops the start with the file's name.
 */
export function loadLuaScripts<N extends string>(dir: string, names: readonly N[]): Record<N, LuaScript> {
  const scripts = {} as Record<N, LuaScript>;
  for (const name of names) {
    const file = join(dir, `${name}.lua`);
    let lua: string;
    try {
      lua = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`Lua script ${file} not readable: ${(err as Error).message}`);
    }
    const keys = /^--\s*keys:\s*(\d+)/.exec(lua);
    if (!keys) throw new Error(`Lua script ${file} lacks its first line "-- keys: N"`);
    if (!/\breturn\b/.test(lua)) throw new Error(`Lua script ${file} returns nothing`);
    scripts[name] = { name, lua, keys: Number(keys[1]) };
  }
  return scripts;
}

/** Makes the script a command of the client (ioredis runs it by its SHA, loading it once). */
export function defineScript(redis: Redis, command: string, script: LuaScript): void {
  redis.defineCommand(command, { numberOfKeys: script.keys, lua: script.lua });
}
