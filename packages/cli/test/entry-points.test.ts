// The two ways `factory` runs: the bundle (the package's bin, packages/cli/dist/factory.mjs, what the
// other process tests spawn) and the source entry (`pnpm factory`, node packages/cli/src/main.ts, no
// build step). Both are real processes here, so neither can drift from the other unnoticed.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const packageDirectory = path.resolve(import.meta.dirname, '..');
const bundle = path.join(packageDirectory, 'dist', 'factory.mjs');
const source = path.join(packageDirectory, 'src', 'main.ts');

async function factory(entry: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [entry, ...args], { cwd: packageDirectory, env: { ...process.env, NO_COLOR: '1' } });
}

describe('factory entry points', () => {
  it('the source entry and the bundle print the same help, naming every command group', async () => {
    const [fromSource, fromBundle] = await Promise.all([factory(source, '--help'), factory(bundle, '--help')]);
    expect(fromBundle).toEqual(fromSource);
    for (const group of ['run', 'policy', 'runs', 'serve', 'worker', 'mcp']) expect(fromSource.stdout).toContain(`\n  ${group} `);
  });

  it('the package bin is the bundle, which the global setup keeps newer than its sources', async () => {
    const manifest = JSON.parse(await readFile(path.join(packageDirectory, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(path.resolve(packageDirectory, manifest.bin.factory!)).toBe(bundle);
    const { bundleIsStale } = await import('../scripts/bundle.ts');
    expect(await bundleIsStale()).toBe(false);
  });
});
