// Shared by the knowledge tests: engines to run on, and temporary document trees.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, sql, type Store } from '@aifactory/store';

export const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

/** The stores every store-backed test runs on; Postgres only when AIFACTORY_TEST_DATABASE_URL is set. */
export const engines: Array<{ name: string; skip: boolean; open: (tag: string) => Promise<Store> }> = [
  { name: 'pglite', skip: false, open: () => openStore() },
  {
    name: 'postgres',
    skip: !postgresUrl,
    open: (tag) => openStore({ databaseUrl: postgresUrl!, schema: `t_kn_${tag}_${randomUUID().slice(0, 8)}`, maxConnections: 4 }),
  },
];

/** Drops a test's Postgres schema and closes the store. */
export async function disposeStore(store: Store): Promise<void> {
  if (store.kind === 'postgres' && store.schemaName !== 'public')
    await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
  await store.close();
}

/** A temporary folder removed by the returned cleanup. */
export function temporaryFolder(prefix = 'aifactory-kn-'): { path: string; remove: () => void } {
  const folder = mkdtempSync(path.join(tmpdir(), prefix));
  return { path: folder, remove: () => rmSync(folder, { recursive: true, force: true }) };
}

/** Writes files (relative path -> text or bytes) under a folder. */
export function writeTree(folder: string, files: Record<string, string | Uint8Array>): void {
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(folder, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}
