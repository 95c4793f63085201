import { defineConfig } from 'vitest/config';

// The chaos test (test/chaos/): workers SIGKILLed 200 times and one paused past its lease, as
// real processes on Postgres. It takes the machine's two cores for itself, so it runs in a step of
// its own rather than beside the other tests (vitest.config.ts excludes it): `pnpm test:chaos`.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    maxWorkers: 1,
    fileParallelism: false,
    env: { NO_COLOR: '1' },
  },
});
