// The two engines every store-backed test runs on: in-memory PGlite always, Postgres when
// AIFACTORY_TEST_DATABASE_URL is set (each store in a schema of its own, dropped afterwards).
import { randomUUID } from 'node:crypto';
import { openStore, sql, type Store } from '@aifactory/store';

export const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

let warned = false;
/** Prints once per file that the Postgres half is skipped. */
export function warnIfNoPostgres(suite: string): void {
  if (!postgresUrl && !warned) {
    warned = true;
    console.warn(`[${suite}] AIFACTORY_TEST_DATABASE_URL is not set: Postgres tests are skipped (PGlite tests still run).`);
  }
}

/** An engine a suite runs on. */
export interface Engine {
  name: 'pglite' | 'postgres';
  skip: boolean;
  /** Opens a fresh, empty store (a new schema on Postgres). */
  open(options?: { maxConnections?: number; schema?: string }): Promise<Store>;
  /** Drops what open() created and closes it. */
  dispose(store: Store): Promise<void>;
}

/** A fresh schema name for a Postgres test store. */
export function freshSchema(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
}

/** Both engines; the prefix names the Postgres schemas (t_<suite>_<random>). */
export function engines(prefix: string): Engine[] {
  return [
    { name: 'pglite', skip: false, open: () => openStore(), dispose: (store) => store.close() },
    {
      name: 'postgres',
      skip: !postgresUrl,
      open: (options = {}) =>
        openStore({
          databaseUrl: postgresUrl!,
          schema: options.schema ?? freshSchema(prefix),
          ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
        }),
      async dispose(store) {
        if (store.schemaName !== 'public') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
        await store.close();
      },
    },
  ];
}
