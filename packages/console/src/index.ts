// @aifactory/console public API: anything exported here is public API.
// Node's side of the console: where its built files are, and building them when they are missing
// (a clean clone builds them in `pnpm install` through the package's prepare script; a checkout
// whose install skipped scripts builds them on the first `factory serve`).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The console package's folder. */
export const consolePackageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The built console (index.html and assets/), served by `factory serve` at `/`. */
export const consoleAssetsDir = path.join(consolePackageDir, 'dist');

/** Whether the console has been built. */
export function consoleIsBuilt(dir = consoleAssetsDir): boolean {
  return existsSync(path.join(dir, 'index.html'));
}

/** Builds the console with Vite (offline: everything it needs is installed); resolves with the assets folder. */
export async function buildConsole(options: { outDir?: string } = {}): Promise<string> {
  // Vite is loaded only when a build is needed, never by a server that just serves the files.
  const { build } = await import('vite');
  const outDir = options.outDir ?? consoleAssetsDir;
  await build({
    configFile: path.join(consolePackageDir, 'vite.config.ts'),
    root: path.join(consolePackageDir, 'app'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

/** The assets folder, built first when it is missing. */
export async function ensureConsoleBuilt(): Promise<string> {
  if (!consoleIsBuilt()) await buildConsole();
  return consoleAssetsDir;
}
