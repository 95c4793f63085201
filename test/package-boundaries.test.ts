// The workspace's packages as a reader meets them: what each one offers (its public entry points,
// read from package.json `exports`) and which packages each one may use. A change to either is a
// change to the architecture, so it shows up here as a failing test to update on purpose:
// - every entry point names what it exports (no `export *`), and the names are snapshotted;
// - each package declares exactly the @aifactory packages its source imports, and imports only
//   those pinned below, which point one way (store → control / verification → execution → ...);
// - a package's `./internal` entry (not public API: what only sibling packages wire together) is
//   imported only by the packages pinned for it, and never by examples or docs, which users copy.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const packagesDir = path.join(root, 'packages');
const packages = readdirSync(packagesDir)
  .filter((name) => existsSync(path.join(packagesDir, name, 'package.json')))
  .sort();

/** Which workspace packages each package's source may import: the plane map, pinned. */
const allowedImports: Record<string, string[]> = {
  core: [],
  store: ['core'],
  control: ['core'],
  verification: ['core', 'store'],
  knowledge: ['core', 'store'],
  execution: ['control', 'core', 'knowledge', 'store', 'verification'],
  quality: ['control', 'core', 'execution', 'store', 'verification'],
  workspace: ['core', 'execution', 'quality', 'store', 'verification'],
  server: ['control', 'core', 'execution', 'knowledge', 'quality', 'store', 'verification', 'workspace'],
  langchain: ['control', 'core', 'execution', 'store', 'workspace'],
  client: [],
  console: [],
  cli: ['client', 'console', 'control', 'core', 'execution', 'knowledge', 'quality', 'server', 'store', 'verification', 'workspace'],
};

/**
 * Which packages' source may import each package's `./internal` entry. The workspace's own tests
 * and benchmarks may too; examples and docs may not: they show the public surface.
 */
const internalImporters: Record<string, string[]> = {
  control: ['execution', 'quality'],
  execution: ['server', 'workspace'],
  verification: ['cli', 'execution', 'quality', 'server'],
};

/** Entry points whose barrel still re-exports wholesale (none: every package's surface is named and snapshotted). */
const wholesaleBarrels = new Set<string>([]);

interface PackageJson {
  name: string;
  exports?: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
}

function packageJson(name: string): PackageJson {
  return JSON.parse(readFileSync(path.join(packagesDir, name, 'package.json'), 'utf8')) as PackageJson;
}

function sourceFiles(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).flatMap((entry) => {
    const full = path.join(directory, entry);
    if (entry === 'node_modules' || entry === 'dist') return [];
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx|mts)$/.test(entry) && !entry.endsWith('.d.ts') ? [full] : [];
  });
}

/** The workspace packages a package's source imports (static and dynamic imports, type-only ones included). */
function importedPackages(name: string): string[] {
  const found = new Set<string>();
  for (const file of sourceFiles(path.join(packagesDir, name, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]@aifactory\/([a-z-]+)/g)) found.add(match[1]!);
  }
  found.delete(name);
  return [...found].sort();
}

/** Files of a folder (recursively) whose text matches `pattern`, relative to the repository. */
function filesImporting(directory: string, pattern: RegExp, extensions: RegExp): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).flatMap((entry) => {
    const full = path.join(directory, entry);
    if (entry === 'node_modules' || entry === 'dist') return [];
    if (statSync(full).isDirectory()) return filesImporting(full, pattern, extensions);
    return extensions.test(entry) && pattern.test(readFileSync(full, 'utf8')) ? [path.relative(root, full)] : [];
  });
}

/** The names an entry file exports, types marked `type`, read from its syntax alone; `*` for a wholesale re-export. */
function exportedNames(file: string): string[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.Latest,
    false,
    file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const names: string[] = [];
  const exported = (node: ts.Node) =>
    ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause;
      if (!clause) names.push(`* from ${(statement.moduleSpecifier as ts.StringLiteral).text}`);
      else if (ts.isNamespaceExport(clause)) names.push(clause.name.text);
      else
        for (const element of clause.elements)
          names.push(`${statement.isTypeOnly || element.isTypeOnly ? 'type ' : ''}${element.name.text}`);
    } else if (ts.isExportAssignment(statement)) {
      names.push('default');
    } else if (exported(statement)) {
      if (ts.isVariableStatement(statement))
        for (const declaration of statement.declarationList.declarations) names.push((declaration.name as ts.Identifier).text);
      else if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) names.push(`type ${statement.name.text}`);
      else if (
        (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)) &&
        statement.name
      )
        names.push(statement.name.text);
    }
  }
  return names.sort();
}

/** A package's TypeScript entry points by subpath. */
function entryPoints(name: string): Array<[subpath: string, file: string]> {
  return Object.entries(packageJson(name).exports ?? {})
    .map(([subpath, target]): [string, string] => [subpath, typeof target === 'string' ? target : (target.import ?? target.default ?? '')])
    .filter(([, target]) => /\.(ts|tsx)$/.test(target))
    .map(([subpath, target]) => [subpath, path.join(packagesDir, name, target)]);
}

describe('package boundaries', () => {
  it('pins every package: a new package must say which packages it may use', () => {
    expect(packages).toEqual(Object.keys(allowedImports).sort());
  });

  it.each(packages)('%s declares exactly the workspace packages its source imports', (name) => {
    const declared = Object.keys(packageJson(name).dependencies ?? {})
      .filter((dependency) => dependency.startsWith('@aifactory/'))
      .map((dependency) => dependency.slice('@aifactory/'.length))
      .sort();
    expect({ package: name, dependencies: declared }).toEqual({ package: name, dependencies: importedPackages(name) });
  });

  it.each(packages)('%s imports only the packages pinned for it', (name) => {
    const outside = importedPackages(name).filter((imported) => !(allowedImports[name] ?? []).includes(imported));
    expect({ package: name, notAllowed: outside }).toEqual({ package: name, notAllowed: [] });
  });

  it('the pinned imports point one way: no package reaches one that reaches back', () => {
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
      (allowedImports[from] ?? []).some((next) => next === to || (!seen.has(next) && (seen.add(next), reaches(next, to, seen))));
    const cycles = packages.filter((name) => reaches(name, name));
    expect(cycles).toEqual([]);
  });

  it('internal entries: exactly the pinned packages have one, and only their pinned importers use it', () => {
    const withInternal = packages.filter((name) => entryPoints(name).some(([subpath]) => subpath === './internal'));
    expect(withInternal).toEqual(Object.keys(internalImporters).sort());
    const used: Record<string, string[]> = {};
    for (const name of packages) {
      for (const file of sourceFiles(path.join(packagesDir, name, 'src'))) {
        for (const match of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)['"]@aifactory\/([a-z-]+)\/internal['"]/g))
          if (match[1] !== name) (used[match[1]!] ??= []).push(name);
      }
    }
    const outside = Object.entries(used).flatMap(([owner, importers]) =>
      [...new Set(importers)]
        .filter((importer) => !(internalImporters[owner] ?? []).includes(importer))
        .map((importer) => `${importer} → ${owner}/internal`),
    );
    expect(outside).toEqual([]);
  });

  it('examples and docs use only public entry points, never an internal one', () => {
    const internal = /(?:from\s+|import\s*\(\s*)['"]@aifactory\/[a-z-]+\/internal['"]/;
    const users = [
      ...filesImporting(path.join(root, 'examples'), internal, /\.(ts|tsx|mts|js|mjs)$/),
      ...filesImporting(path.join(root, 'docs'), internal, /\.md$/),
      ...['README.md'].filter((file) => internal.test(readFileSync(path.join(root, file), 'utf8'))),
    ];
    expect(users).toEqual([]);
  });

  it.each(packages)("%s's entry points exist and name every export (no export *)", (name) => {
    for (const [subpath, file] of entryPoints(name)) {
      expect(existsSync(file), `${name} exports ${subpath} from ${path.relative(root, file)}, which does not exist`).toBe(true);
      if (wholesaleBarrels.has(name)) continue;
      const wholesale = exportedNames(file).filter((entry) => entry.startsWith('* from'));
      expect({ entry: `${name}${subpath.slice(1)}`, wholesale }).toEqual({ entry: `${name}${subpath.slice(1)}`, wholesale: [] });
    }
  });

  it('public surfaces: the names each entry point exports', () => {
    const surfaces: Record<string, string[]> = {};
    for (const name of packages) {
      if (wholesaleBarrels.has(name)) continue;
      for (const [subpath, file] of entryPoints(name)) surfaces[`@aifactory/${name}${subpath.slice(1)}`] = exportedNames(file);
    }
    expect(surfaces).toMatchSnapshot();
  });
});
