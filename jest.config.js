'use strict';
/**
 * One jest run over every workspace. Tests are TypeScript, transpiled by ts-jest without type
 * checking (`npm test` type-checks everything first with `tsc -b`), and import the other packages
 * through their built `dist/`, exactly as the server and SDK do at run time.
 */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
};

/** @param {string} name @param {string[]} testMatch @param {object} [extra] */
function project(name, testMatch, extra = {}) {
  return {
    displayName: name,
    rootDir: __dirname,
    testEnvironment: 'node',
    transform,
    testMatch,
    testPathIgnorePatterns: ['/node_modules/', '/dist/', '/dist-test/'],
    ...extra,
  };
}

module.exports = {
  projects: [
    project('protocol', ['<rootDir>/protocol/test/**/*.test.ts']),
    project('embedded-mongo', ['<rootDir>/embedded-mongo/test/**/*.test.ts']),
    project('realtime-adapter', ['<rootDir>/realtime-adapter/test/**/*.test.ts']),
    project('server', ['<rootDir>/server/test/**/*.test.ts']),
    project('client-sdk', ['<rootDir>/client-sdk/test/**/*.test.ts']),
    project('integration', ['<rootDir>/test/src/**/*.test.ts'], {
      // Drops the test databases of each file on a real MongoDB (MONGODB_URI).
      setupFilesAfterEnv: ['<rootDir>/test/src/support/after-suite.ts'],
    }),
  ],
  testTimeout: 30000,
  maxWorkers: 2,
};
