// Finds the executable script of an installed npm package, so an MCP server installed as a
// dependency runs with the current Node (`node <bin>`): no npx, no network, the same version
// every time.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';

/** Where a package's bin script is and how it was found. */
export interface PackageBin {
  /** Absolute path of the script. */
  script: string;
  /** The package's folder. */
  packageDirectory: string;
  /** The package version. */
  version: string | undefined;
}

/**
 * Resolves the bin script of `packageName`, looking in each folder of `from` in turn as Node
 * would resolve a dependency there. `bin` picks one when the package declares several.
 * Throws a UserError naming the folders searched when the package is not installed.
 */
export function resolvePackageBin(packageName: string, options: { from: string[]; bin?: string }): PackageBin {
  for (const directory of options.from) {
    // resolve.paths gives the node_modules folders Node would search, without requiring the
    // package to export its package.json.
    const candidates = createRequire(path.join(directory, 'noop.js')).resolve.paths(packageName) ?? [];
    for (const candidate of candidates) {
      const manifestPath = path.join(candidate, packageName, 'package.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version?: string; bin?: string | Record<string, string> };
      const packageDirectory = path.dirname(manifestPath);
      const script = pickBin(packageName, manifest.bin, options.bin);
      return { script: path.resolve(packageDirectory, script), packageDirectory, version: manifest.version };
    }
  }
  throw new UserError(
    ErrorCode.NotFound,
    `Package '${packageName}' is not installed where it was looked for (${options.from.join(', ')}); add it to your dependencies.`,
  );
}

function pickBin(packageName: string, bins: string | Record<string, string> | undefined, wanted: string | undefined): string {
  if (typeof bins === 'string') {
    if (wanted !== undefined && wanted !== unscoped(packageName))
      throw new UserError(ErrorCode.NotFound, `Package '${packageName}' has one bin, '${unscoped(packageName)}', not '${wanted}'.`);
    return bins;
  }
  const entries = Object.entries(bins ?? {});
  if (entries.length === 0) throw new UserError(ErrorCode.NotFound, `Package '${packageName}' declares no bin script to run.`);
  const names = entries.map(([name]) => name).join(', ');
  if (wanted !== undefined) {
    const found = entries.find(([name]) => name === wanted);
    if (!found) throw new UserError(ErrorCode.NotFound, `Package '${packageName}' has no bin '${wanted}'; it has: ${names}.`);
    return found[1];
  }
  if (entries.length === 1) return (entries[0] as [string, string])[1];
  const sameName = entries.find(([name]) => name === unscoped(packageName));
  if (sameName) return sameName[1];
  throw new UserError(ErrorCode.NotFound, `Package '${packageName}' has several bins (${names}); say which with 'bin'.`);
}

function unscoped(packageName: string): string {
  return packageName.slice(packageName.lastIndexOf('/') + 1);
}
