import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withReference } from '../../services/common/config-reference';
import { listSettings } from '../../services/common/config-schema';
import { ROOT } from '../support/child';

it('the configuration reference (docs/CONFIGURATION.md) is current with the schema (npm run config:reference)', () => {
  const readme = readFileSync(join(ROOT, 'docs', 'CONFIGURATION.md'), 'utf8');
  expect(withReference(readme) === readme ? 'current' : 'stale: run npm run config:reference').toBe('current');
  for (const { path, env } of listSettings()) expect(readme).toContain(`| \`${path}\` | \`${env}\` |`);
});
