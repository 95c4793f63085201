// Where the CLI finds the workspace: the store (PGlite under AIFACTORY_HOME, default ./.factory,
// or Postgres when DATABASE_URL is set) and the data directory for keys and indexes.
import { dataHome, openStore, storeOptionsFromEnv, type Store } from '@aifactory/store';
import { createRecorder, defaultKeyPath, loadOrCreateSigner, loadRedactor, loadSigner, witnessFromEnvironment, type Recorder, type SealSigner } from '@aifactory/verification';

/** Opens the workspace's store from the environment. */
export function openWorkspaceStore(env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  return openStore(storeOptionsFromEnv(env));
}

/** The workspace data directory (keys, knowledge indexes, the embedded store). */
export function workspaceDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return dataHome(env);
}

/**
 * The workspace's trace recorder: seals signed with the key in the data directory (generated on
 * first use, or AIFACTORY_SEAL_KEY for a configured path), redaction configured by
 * `<data dir>/redaction.json`, checkpoints handed to the witness named by AIFACTORY_WITNESS.
 */
export async function openWorkspaceRecorder(store: Store, env: NodeJS.ProcessEnv = process.env): Promise<Recorder> {
  const dataDir = workspaceDataDir(env);
  const signer = await loadOrCreateSigner(dataDir, env.AIFACTORY_SEAL_KEY ? { keyPath: env.AIFACTORY_SEAL_KEY } : {});
  const witness = witnessFromEnvironment(env);
  return createRecorder(store, { signer, redactor: await loadRedactor(dataDir, env), ...(witness ? { witness } : {}) });
}

/** The workspace's seal signer if its key exists (verification pins it); never creates one. */
export async function findWorkspaceSigner(env: NodeJS.ProcessEnv = process.env): Promise<SealSigner | undefined> {
  return loadSigner(env.AIFACTORY_SEAL_KEY || defaultKeyPath(workspaceDataDir(env)));
}
