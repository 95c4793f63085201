// @aifactory/store public API: anything exported here is public API.
export { openStore, storeOptionsFromEnv, storeLockFile, dataHome, migrationsFolder, sql } from './open-store.ts';
export { isConnectionLoss, storeUnavailable } from './connection-loss.ts';
export { errorText } from './error-text.ts';
export { runPrepared } from './pglite-prepared.ts';
export type { PreparedParameter, PreparedResult } from './pglite-prepared.ts';
export { StoreBusyError, acquireDirectoryLock, isAlive, processStartTime, readLockOwner } from './directory-lock.ts';
export type { AcquireOptions, DirectoryLock, LockOwner } from './directory-lock.ts';
export type { Database, Store, StoreOptions } from './open-store.ts';
// The tables are not part of this surface: each has one owning package, whose *-rows.ts files
// import them from '@aifactory/store/schema' (eslint.config.js enforces it).
