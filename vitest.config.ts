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
    env: {
      // Powertools Logger and Metrics normally write through a Console of their own bound to process.stdout, which
      // vitest cannot intercept, so `silent` would not hold their lines back. In dev mode they write through the
      // global console instead (vitest's: buffered, shown only for a failing test; spies on console.* see them).
      // Dev mode pretty-prints log entries and would turn metrics off: keep metrics on, tests read the EMF lines.
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_METRICS_DISABLED: 'false',
    },
  },
});
