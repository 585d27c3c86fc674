/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // the real-server suite has its own command: npm run test:real (jest.real.config.js)
  testPathIgnorePatterns: ['/node_modules/', '/test/real/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 30000,
  // Tests share one real Redis; each uses its own key prefix, so files can run in parallel.
  maxWorkers: 2,
};
