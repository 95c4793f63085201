// Global setup of every vitest config: a freshly initialised PGlite data directory, dumped once per
// PGlite version under the system's temporary folder, that every new embedded store the tests open
// (in-process and in the `factory` processes they spawn, which inherit the environment) loads
// instead of running initdb: ~1 CPU-s instead of ~4-6, for each of the hundreds of stores opened.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export default async function setup(): Promise<void> {
  if (process.env.AIFACTORY_PGLITE_TEMPLATE) return;
  // PGlite is the store package's dependency, not the repository root's.
  const require = createRequire(path.join(import.meta.dirname, '..', 'packages', 'store', 'package.json'));
  const entry = require.resolve('@electric-sql/pglite');
  const manifest = path.join(entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`)), 'package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  const template = path.join(tmpdir(), `aifactory-pglite-initdb-${version}.tar`);
  if (!existsSync(template)) {
    const { PGlite } = (await import(pathToFileURL(entry).href)) as {
      PGlite: { create(): Promise<{ dumpDataDir(compression: 'none'): Promise<Blob>; close(): Promise<void> }> };
    };
    const database = await PGlite.create();
    const dump = await database.dumpDataDir('none');
    await database.close();
    const temporary = `${template}.${process.pid}.tmp`;
    writeFileSync(temporary, Buffer.from(await dump.arrayBuffer()));
    renameSync(temporary, template);
  }
  process.env.AIFACTORY_PGLITE_TEMPLATE = template;
}
