import { defineConfig } from 'vitest/config';

// The Postgres-restart test (test/restart/): it restarts the machine's Postgres, so it never runs
// with the other tests (vitest.config.ts excludes it). CI runs it alone, after them: `pnpm test:restart`.
export default defineConfig({
  test: {
    include: ['test/restart/**/*.test.ts'],
    testTimeout: 1_200_000,
    hookTimeout: 300_000,
    maxWorkers: 1,
    fileParallelism: false,
    env: { NO_COLOR: '1' },
    // Tests spawn the bundled `factory` (packages/cli/dist/factory.mjs): built here when stale;
    // new embedded stores start from a dump of an initialised one instead of running initdb.
    globalSetup: ['test/factory-bundle.setup.ts', 'test/pglite-template.setup.ts'],
  },
});
