import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One DynamoDB Local and one sandbox for the whole run (free ports), shared through `inject`.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Handlers log one JSON line per event; show those only for tests that fail.
    silent: 'passed-only',
  },
});
