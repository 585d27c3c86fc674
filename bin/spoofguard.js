#!/usr/bin/env node
'use strict';
// Runs the built CLI (npm run build); in a checkout without a build, runs the TypeScript sources via tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, '..', 'dist', 'services', 'cli', 'main.js');
if (existsSync(built)) {
  require(built).main(process.argv);
} else {
  require('tsx/cjs');
  require('../services/cli/main.ts').main(process.argv);
}
