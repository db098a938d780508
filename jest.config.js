/** One jest project per workspace; tests import sibling packages from source, so no build is needed first. */
const swc = [
  '@swc/jest',
  { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
];
const workspaces = [
  'protocol',
  'shared',
  'media',
  'client',
  'users-service',
  'auth-service',
  'chat-service',
  'gateway',
  'standalone',
  'web',
  'bench',
];

/** @type {import('jest').Config} */
module.exports = {
  projects: workspaces.map((name) => ({
    displayName: name,
    rootDir: `<rootDir>/${name}`,
    testEnvironment: 'node',
    transform: { '^.+\\.ts$': swc },
    testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
    moduleNameMapper: { '^@chat/([a-z-]+)$': '<rootDir>/../$1/src/index.ts' },
    setupFiles: ['<rootDir>/../jest.setup.js'],
  })),
  testTimeout: 30000,
  // Finds or starts NATS and a MongoDB-protocol server once per run (README, "Testing": the order of resolution).
  globalSetup: '<rootDir>/testing/src/global-setup.ts',
  globalTeardown: '<rootDir>/testing/src/global-teardown.ts',
};
