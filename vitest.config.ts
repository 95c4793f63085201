import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores on CI: PGlite (wasm) and child-process tests are CPU-heavy.
    maxWorkers: 2,
    // Output assertions read plain text: picocolors colours whenever CI is set, so turn it off for
    // the tests and every process they start.
    env: { NO_COLOR: '1' },
  },
});
