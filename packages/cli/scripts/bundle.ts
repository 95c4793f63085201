// Builds the `factory` command as one ES module, packages/cli/dist/factory.mjs (the package's bin).
//
// Why: run from source, a `factory` process loads ~2,000 modules from node_modules, and Node's
// resolution and loading of them (package.json reading, the ESM and CJS loaders) costs ~1.4 CPU-s
// before `--help` prints and ~2 before a worker takes a job. One file has none of that.
// `pnpm install` builds it (this package's prepare script) and so do the tests' global setups;
// esbuild takes about a second.
//
// dist/factory.mjs turns on Node's compile cache, then imports dist/factory-program.mjs: the cache
// serves only modules loaded after it is on, and compiling is most of what a start costs once
// nothing is resolved any more. The program is split (esbuild's code splitting) at the dynamic
// import() of each command group into dist/factory-chunk-*.mjs, so a process compiles and runs
// only what its command needs: a worker loads 4.5 of the 10 MB (a start ~0.9 CPU-s instead of ~1.15,
// `--help` ~0.93 instead of ~1.05, measured side by side at load 15).
//
// Kept out of the bundle, and imported at run time from where their importer would find them
// (a path relative to the bundle, into this checkout's node_modules): native addons and packages
// that read files (wasm, data, worker scripts, config loaders) next to their own modules.
// Our own sources that locate files beside themselves (the store's migrations, the console's built
// files, the execution package's dependencies) keep doing so: in the bundle, import.meta.url,
// dirname and filename in them name the source file, relative to the bundle.
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';

const packageDirectory = path.resolve(import.meta.dirname, '..');
const packagesDirectory = path.dirname(packageDirectory);
const outputDirectory = path.join(packageDirectory, 'dist');

/** The command's entry (the package's `bin`): turns the compile cache on and loads the program. */
export const bundleFile = path.join(outputDirectory, 'factory.mjs');
/** The bundled program the entry loads. */
export const programFile = path.join(outputDirectory, 'factory-program.mjs');

/** Packages imported from node_modules at run time rather than bundled, and why. */
export const externalPackages: Record<string, string> = {
  'hnswlib-node': 'a native addon, found by the bindings package from its own folder',
  '@electric-sql/pglite': 'loads its wasm and data files next to its modules',
  vite: 'builds the console when it is missing (a dynamic import): large, and never loaded otherwise',
  unpdf: 'pdf.js, 2.4 MB: loaded only when a PDF is ingested (a dynamic import)',
  typescript: "10 MB that only cosmiconfig's loader of a graphile-worker config written in TypeScript require()s",
};

const relativeToBundle = (file: string): string => path.relative(outputDirectory, file).split(path.sep).join('/');

const resolving = Symbol('resolving');

/** Marks the external packages external, imported by their resolved file's path relative to the bundle. */
const keptOutside: Plugin = {
  name: 'kept-outside',
  setup(builder) {
    const names = Object.keys(externalPackages).map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
    builder.onResolve({ filter: new RegExp(`^(?:${names.join('|')})(?:/|$)`) }, async (args) => {
      if (args.pluginData === resolving) return undefined;
      const resolved = await builder.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: resolving,
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      const relative = relativeToBundle(resolved.path);
      return { path: relative.startsWith('.') ? relative : `./${relative}`, external: true };
    });
  },
};

const metaLocation = /\bimport\.meta\.(url|dirname|filename)\b/g;
const commonJsLocation = /\b__(?:dirname|filename)\b/;
// A module that defines its own (ES modules often do, from import.meta.url) keeps it.
const declaresCommonJsLocation = /\b(?:var|let|const)\s+__(?:dirname|filename)\b/;
// Comments and a "use strict" directive that must stay first.
const prologue = /^(?:#![^\n]*\n)?(?:\s+|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)*(?:(['"])use strict\1;?)?/;

/**
 * Every bundled module that asks where it is (import.meta.url, dirname, filename; __dirname and
 * __filename in CommonJS) is told where its source file is, relative to the bundle: the store's
 * migrations, the console's built files, a package's createRequire() of its own dependencies and
 * .proto files read by __dirname are all found where they were.
 */
const ownLocations: Plugin = {
  name: 'own-locations',
  setup(builder) {
    builder.onLoad({ filter: /\.(?:[cm]?js|ts)$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const usesMeta = text.includes('import.meta.');
      const usesCommonJs = commonJsLocation.test(text) && !declaresCommonJsLocation.test(text);
      if (!usesMeta && !usesCommonJs) return undefined;
      const file = `__bundlePath.join(__bundleDirectory, ${JSON.stringify(relativeToBundle(args.path))})`;
      const directory = `__bundlePath.join(__bundleDirectory, ${JSON.stringify(relativeToBundle(path.dirname(args.path)))})`;
      let contents = text.replace(metaLocation, (_match, field: string) =>
        field === 'url' ? `__bundlePathToFileURL(${file}).href` : field === 'filename' ? file : directory,
      );
      if (usesCommonJs) {
        const head = prologue.exec(contents)?.[0] ?? '';
        contents = `${head}\nvar __filename = ${file}, __dirname = ${directory};\n${contents.slice(head.length)}`;
      }
      return { contents, loader: path.extname(args.path) === '.ts' ? 'ts' : 'js' };
    });
  },
};

/** The files the bundle was built from, beside it: ensureFactoryBundle() rebuilds when one is newer or gone. */
const inputsFile = path.join(outputDirectory, 'factory-program.inputs.json');
/** Changes that reach the bundle without changing one of its inputs' files. */
const buildInputs = [import.meta.filename, path.join(packagesDirectory, '..', 'pnpm-lock.yaml')];

const entry = [
  '#!/usr/bin/env node',
  '// The `factory` command, built by packages/cli/scripts/bundle.ts from packages/cli/src/main.ts.',
  "import { enableCompileCache } from 'node:module';",
  '',
  '// Before the program loads: compiling it is most of what a start costs, and the cache serves only later modules.',
  'enableCompileCache();',
  "await import('./factory-program.mjs');",
  '',
].join('\n');

/** Writes a file whole or not at all: a process starting meanwhile reads the old one or the new one. */
async function writeAtomically(file: string, contents: string | Uint8Array, mode = 0o644): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, contents, { mode });
  await rename(temporary, file);
}

/** Builds the bundle; resolves with the entry's path. */
export async function bundleFactory(): Promise<string> {
  const result = await build({
    absWorkingDir: packageDirectory,
    entryPoints: { 'factory-program': path.join(packageDirectory, 'src', 'main.ts') },
    outdir: outputDirectory,
    // Each command group's dynamic import() becomes chunks of its own: a worker loads the worker's.
    splitting: true,
    chunkNames: 'factory-chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    write: false,
    metafile: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22.18',
    // dist/factory.mjs is the process's main module; the program it imports runs as main.ts does when it is.
    define: { 'import.meta.main': 'true' },
    banner: {
      js: [
        // Bundled CommonJS modules require() Node's built-ins; an ES module has no require of its own.
        "import { createRequire as __bundleCreateRequire } from 'node:module';",
        "import __bundlePath from 'node:path';",
        "import { fileURLToPath as __bundleFileURLToPath, pathToFileURL as __bundlePathToFileURL } from 'node:url';",
        'const require = __bundleCreateRequire(import.meta.url);',
        'const __bundleDirectory = __bundlePath.dirname(__bundleFileURLToPath(import.meta.url));',
      ].join('\n'),
    },
    // Error classes and anything else that reports its constructor's name keep it.
    keepNames: true,
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [keptOutside, ownLocations],
  });
  await mkdir(outputDirectory, { recursive: true });
  const written = new Set(result.outputFiles.map((output) => path.basename(output.path)));
  // Chunks first, the program that imports them last: a process starting meanwhile finds every chunk its program names.
  for (const output of result.outputFiles.filter((file) => file.path !== programFile)) await writeAtomically(output.path, output.contents);
  for (const output of result.outputFiles.filter((file) => file.path === programFile)) await writeAtomically(output.path, output.contents);
  // Chunks of earlier builds go once an hour old: a `factory serve` started before this build may still import one it has not loaded yet.
  for (const name of await readdir(outputDirectory)) {
    const file = path.join(outputDirectory, name);
    if (name.startsWith('factory-chunk-') && !written.has(name) && Date.now() - (await stat(file)).mtimeMs > 3_600_000)
      await rm(file, { force: true });
  }
  await writeAtomically(bundleFile, entry, 0o755);
  const inputs = [...Object.keys(result.metafile.inputs).map((input) => path.resolve(packageDirectory, input)), ...buildInputs];
  await writeAtomically(inputsFile, `${JSON.stringify(inputs)}\n`);
  return bundleFile;
}

/** Whether the bundle is missing or older than a file it was built from. */
export async function bundleIsStale(): Promise<boolean> {
  let inputs: string[];
  let built: number;
  try {
    inputs = JSON.parse(await readFile(inputsFile, 'utf8')) as string[];
    built = Math.min((await stat(programFile)).mtimeMs, (await stat(bundleFile)).mtimeMs);
  } catch {
    return true;
  }
  const times = await Promise.all(inputs.map(async (input) => (await stat(input).catch(() => undefined))?.mtimeMs ?? Infinity));
  return times.some((time) => time > built);
}

/** Builds the bundle unless it is up to date (the tests' global setup); resolves with the entry's path. */
export async function ensureFactoryBundle(): Promise<string> {
  return (await bundleIsStale()) ? bundleFactory() : bundleFile;
}

if (import.meta.main) await bundleFactory();
