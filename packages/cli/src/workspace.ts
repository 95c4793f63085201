// Where the CLI finds the workspace: the store (PGlite under AIFACTORY_HOME, default ./.factory,
// or Postgres when DATABASE_URL is set) and the data directory for keys and indexes.
import { dataHome, openStore, storeOptionsFromEnv, type Store } from '@aifactory/store';

/** Opens the workspace's store from the environment. */
export function openWorkspaceStore(env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  return openStore(storeOptionsFromEnv(env));
}

/** The workspace data directory (keys, knowledge indexes, the embedded store). */
export function workspaceDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return dataHome(env);
}
