import { defineConfig } from 'vitest/config';

// The chaos test (test/chaos/): workers SIGKILLed mid-run 200 times, four paused past their lease and
// Postgres restarted once, as real processes on Postgres. It restarts a Postgres cluster
// (AIFACTORY_PG_CLUSTER, default "15 main") and takes the machine's cores, so it runs in a step of
// its own rather than beside the other tests (vitest.config.ts excludes it): `pnpm test:chaos`.
// The timeout is a hard bound; what a kill point costs is mostly a worker start (the test prints the CPU its processes used).
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 600_000,
    maxWorkers: 1,
    fileParallelism: false,
    env: { NO_COLOR: '1' },
    // Tests spawn the bundled `factory` (packages/cli/dist/factory.mjs): built here when stale;
    // new embedded stores start from a dump of an initialised one instead of running initdb.
    globalSetup: ['test/factory-bundle.setup.ts', 'test/pglite-template.setup.ts'],
  },
});
