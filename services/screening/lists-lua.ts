import { fromPackageRoot } from '../common/package-root';
import { loadLuaScripts } from '../common/lua';

/** The lists' Lua scripts (services/screening/lua/*.lua), read and checked once at start. */
export const LISTS_LUA = loadLuaScripts(fromPackageRoot('services/screening/lua'), [
  'lookup',
  'snapshot',
  'index-start',
  'release-lock',
]);
