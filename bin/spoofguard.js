#!/usr/bin/env node
'use strict';
// Runs the built CLI. `npm start` builds first; in a checkout, `npm run build` once (or use
// `node --import tsx services/cli/main.ts …` while developing).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, '..', 'dist', 'services', 'cli', 'main.js');
if (!existsSync(built)) {
  process.stderr.write('spoofguard: not built yet: run `npm run build` first\n');
  process.exit(1);
}
require(built).main(process.argv);
