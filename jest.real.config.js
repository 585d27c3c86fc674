/**
 * The real-server suite (npm run test:real): real Asterisk 22 and drachtio-server, sipp, a Redis of its own.
 * One file at a time: each starts its servers on ports of its own, but they share the machine's two cores.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/real'],
  testMatch: ['**/*.real.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60000,
  maxWorkers: 1,
};
