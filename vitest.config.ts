import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    // test/restart/ restarts the machine's Postgres: it runs alone, after the rest (vitest.restart.config.ts, `pnpm test:restart`).
    // test/chaos/ (200 SIGKILLs of real workers) runs in a step of its own too: `pnpm test:chaos`.
    exclude: [...configDefaults.exclude, 'test/restart/**', 'test/chaos/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores on CI: PGlite (wasm) and child-process tests are CPU-heavy.
    maxWorkers: 2,
    // Output assertions read plain text: picocolors colours whenever CI is set, so turn it off for
    // the tests and every process they start.
    env: { NO_COLOR: '1' },
    // Tests spawn the bundled `factory` (packages/cli/dist/factory.mjs): built here when stale;
    // new embedded stores start from a dump of an initialised one instead of running initdb.
    globalSetup: ['test/factory-bundle.setup.ts', 'test/pglite-template.setup.ts'],
  },
});
