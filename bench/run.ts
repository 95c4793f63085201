// `pnpm bench`: runs every bench/*.bench.ts in its own Node process (so one benchmark's heap and
// native memory never colour the next), in name order, then prints where the figures were written.
// Usage: pnpm bench [name-filter...]   e.g. `pnpm bench control store`; BENCH_QUICK=1 for a smoke run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFactoryBundle } from '../packages/cli/scripts/bundle.ts';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2).filter((argument) => !argument.startsWith('-'));
if (process.argv.includes('--help')) {
  process.stdout.write(
    'Usage: pnpm bench [name...]\nRuns bench/<name>.bench.ts files (all by default). Set BENCH_QUICK=1 for smaller sizes.\nFigures are printed and written to bench/results/<name>.json.\n',
  );
  process.exit(0);
}
const files = readdirSync(benchDir)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  process.stderr.write(
    `No benchmark matches ${filters.join(', ')}; available: ${readdirSync(benchDir)
      .filter((file) => file.endsWith('.bench.ts'))
      .join(', ')}\n`,
  );
  process.exit(2);
}
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
// The benchmarks that run `factory` processes spawn the bundle, as the tests do: rebuilt here when a source is newer.
await ensureFactoryBundle();
const failed: string[] = [];
for (const file of files) {
  process.stdout.write(`\n=== ${file} ===\n`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--expose-gc', path.join(benchDir, file)], { stdio: 'inherit', env: process.env });
  process.stdout.write(
    `--- ${file}: ${result.status === 0 ? 'done' : `FAILED (exit ${result.status ?? result.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  if (result.status !== 0) failed.push(file);
}
process.stdout.write(`\nFigures: ${path.join('bench', 'results')}/*.json\n`);
if (failed.length > 0) {
  process.stderr.write(`Failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
