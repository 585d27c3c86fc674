import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** The folder holding spoofguard's package.json, whether running from services/ (tsx) or dist/ (built). */
export const packageRoot: string = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) {
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
})();

export const fromPackageRoot = (path: string): string => (isAbsolute(path) ? path : resolve(packageRoot, path));
