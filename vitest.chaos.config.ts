import { defineConfig } from 'vitest/config';

// The chaos test (test/chaos/): workers SIGKILLed 200 times, one paused past its lease and Postgres
// restarted once, as real processes on Postgres. It restarts the machine's Postgres and takes its
// cores, so it runs in a step of its own rather than beside the other tests (vitest.config.ts
// excludes it): `pnpm test:chaos`.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 1_500_000,
    hookTimeout: 600_000,
    maxWorkers: 1,
    fileParallelism: false,
    env: { NO_COLOR: '1' },
  },
});
