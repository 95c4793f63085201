// The two ways `factory` runs: the bundle (the package's bin, packages/cli/dist/factory.mjs, what the
// other process tests spawn) and the source entry (`pnpm factory`, node packages/cli/src/main.ts, no
// build step). Both are real processes here, so neither can drift from the other unnoticed.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

describe('a command on the embedded store', () => {
  it('relaunches with WebAssembly on V8’s baseline compiler alone, unless it serves, talks to a server, uses Postgres or is told not to', async () => {
    const { relaunchFlags } = await import('../src/main.ts');
    const home = { AIFACTORY_HOME: path.join(packageDirectory, 'no-such-home') };
    expect(relaunchFlags(['runs', 'list'], [], home)).toEqual(['--liftoff-only']);
    expect(relaunchFlags(['--json', 'run', 'file-clerk'], [], home)).toEqual(['--liftoff-only']);
    expect(relaunchFlags(['tokens', 'create'], [], home)).toEqual(['--liftoff-only']);
    for (const long of [['serve'], ['worker'], ['mcp', 'serve', 'file-clerk'], ['mcp', 'proxy']])
      expect(relaunchFlags(long, [], home)).toBeUndefined();
    expect(relaunchFlags(['runs', 'list', '--help'], [], home)).toBeUndefined();
    expect(relaunchFlags(['--server', 'http://127.0.0.1:1', 'runs', 'list'], [], home)).toBeUndefined();
    expect(relaunchFlags(['runs', 'list'], [], { ...home, AIFACTORY_URL: 'http://127.0.0.1:1' })).toBeUndefined();
    expect(relaunchFlags(['runs', 'list'], [], { ...home, DATABASE_URL: 'postgres://127.0.0.1/x' })).toBeUndefined();
    expect(relaunchFlags(['runs', 'list'], [], { ...home, AIFACTORY_PGLITE_TIER_UP: '1' })).toBeUndefined();
    expect(relaunchFlags(['runs', 'list'], [], { ...home, NODE_CHANNEL_FD: '3' })).toBeUndefined();
    expect(relaunchFlags(['runs', 'list'], ['--wasm-tiering-budget=1'], home)).toBeUndefined();
    expect(relaunchFlags(['no-such-group'], [], home)).toBeUndefined();
    for (const storeless of ['lint', 'test', 'explain', 'diff', 'schema'])
      expect(relaunchFlags(['policy', storeless], [], home)).toBeUndefined();
    expect(relaunchFlags(['policy', 'impact', 'policy.yaml'], [], home)).toEqual(['--liftoff-only']);
  });

  it.runIf(process.platform === 'linux')(
    'runs as the same process, which answers as before',
    async () => {
      const home = await mkdtemp(path.join(tmpdir(), 'aifactory-relaunch-'));
      try {
        const env: NodeJS.ProcessEnv = { ...process.env, AIFACTORY_HOME: home, NO_COLOR: '1' };
        delete env.DATABASE_URL;
        delete env.AIFACTORY_URL;
        delete env.AIFACTORY_PGLITE_TIER_UP;
        const child = spawn(process.execPath, [bundle, 'runs', 'list', '--json'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        // The pid the caller holds becomes the relaunched command: its command line gains the flag.
        let relaunched = false;
        while (child.exitCode === null && !relaunched) {
          relaunched = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '')).split('\0').includes('--liftoff-only');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(await exited).toBe(0);
        expect(relaunched).toBe(true);
        expect(stderr).toBe('');
        expect(JSON.parse(stdout)).toMatchObject({ runs: [] });
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
