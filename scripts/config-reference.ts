/**
 * npm run config:reference — rewrites the configuration reference (docs/CONFIGURATION.md) from the config schema and
 * config/default.yaml. With --check it only says whether it is current (the tests check it too).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withReference } from '../services/common/config-reference';
import { packageRoot } from '../services/common/package-root';

const file = join(packageRoot, 'docs', 'CONFIGURATION.md');
const current = readFileSync(file, 'utf8');
const fresh = withReference(current);
if (process.argv.includes('--check')) {
  if (fresh !== current) {
    console.error('docs/CONFIGURATION.md: the configuration reference is stale; run npm run config:reference');
    process.exitCode = 1;
  }
} else if (fresh !== current) {
  writeFileSync(file, fresh);
  console.log('docs/CONFIGURATION.md: configuration reference updated');
}
