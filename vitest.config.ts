import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files with no recorded duration (a fresh clone, as on CI) run those that start real processes
 * (test/processes/) first: they are the longest (40-145 s each on CI, most files take seconds), and
 * ordered by file size, vitest's fallback, they start anywhere; one started late runs on alone while
 * the other worker has nothing left. Longest first keeps that end short. Files with a recorded
 * duration keep vitest's order (failed first, then longest first).
 */
class ProcessTestsFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (spec: TestSpecification) =>
      /[\\/]test[\\/]processes[\\/]/.test(spec.moduleId) && this.ctx.cache.getTestSpecificationResult(spec) === undefined;
    return [...sorted.filter(first), ...sorted.filter((spec) => !first(spec))];
  }
}

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
    // Each worker runs its files one after another in one process, sharing the modules they import:
    // isolated, every file started a fresh process that imported the workspace's ~2,000 modules
    // again, a fifth of the suite's time (908 s on two cores; 615 s shared, session 12). So a test
    // file must leave the process as it found it: close what it opens (stores, servers, timers) and
    // restore the environment variables it sets. Test files never vi.mock modules.
    isolate: false,
    // Output assertions read plain text: picocolors colours whenever CI is set, so turn it off for
    // the tests and every process they start.
    env: { NO_COLOR: '1' },
    // Tests spawn the bundled `factory` (packages/cli/dist/factory.mjs): built here when stale;
    // new embedded stores start from a dump of an initialised one instead of running initdb.
    globalSetup: ['test/factory-bundle.setup.ts', 'test/pglite-template.setup.ts'],
    sequence: { sequencer: ProcessTestsFirst },
  },
});
