// @aifactory/store public API: anything exported here is public API.
export { openStore, storeOptionsFromEnv, dataHome, migrationsFolder, sql } from './open-store.ts';
export type { Database, Store, StoreOptions } from './open-store.ts';
export * as schema from './schema/index.ts';
export * from './schema/index.ts';
