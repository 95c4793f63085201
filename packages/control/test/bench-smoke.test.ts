// The benchmark's quick variant as a test: it must run, and aifactory and Cedar must reach the
// same authority on every generated request. Timings are printed by the benchmark, never asserted.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('bench/control.bench.ts (BENCH_QUICK=1)', () => {
  it('runs both engines on the same requests and they agree on every decision', async () => {
    const output = join(await mkdtemp(join(tmpdir(), 'control-bench-')), 'control.json');
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const exitCode = await new Promise<number>((resolve) => {
      execFile(
        process.execPath,
        ['--expose-gc', 'bench/control.bench.ts'],
        { cwd: root, env: { ...process.env, BENCH_QUICK: '1', BENCH_RESULTS_FILE: output } },
        (error) => resolve(error ? Number((error as { code?: number }).code ?? 1) : 0),
      );
    });
    expect(exitCode).toBe(0);
    const results = JSON.parse(await readFile(output, 'utf8')) as {
      targets: { mismatches: number };
      sizes: Array<{ rules: number; requests: number; mismatches: number; outcomes: Record<string, number> }>;
    };
    expect(results.targets.mismatches).toBe(0);
    expect(results.sizes.map((size) => size.rules)).toEqual([10, 100]);
    for (const size of results.sizes) {
      expect(size.mismatches).toBe(0);
      // The sample exercises every outcome, so agreement is not trivial.
      expect(Object.values(size.outcomes).every((count) => count > 0)).toBe(true);
    }
  });
});
