// The workspace's configuration, read once from the environment: where the store lives (PGlite
// under AIFACTORY_HOME, default ./.factory, or Postgres at DATABASE_URL in AIFACTORY_DB_SCHEMA),
// the seal key (AIFACTORY_SEAL_KEY, else one generated in the data directory), the redaction
// configuration (<home>/redaction.json and the environment variables it names) and the agents and
// policies folders, and the witness checkpoints are handed to (AIFACTORY_WITNESS, with
// AIFACTORY_WITNESS_TOKEN), and the notification channels file (AIFACTORY_NOTIFICATIONS, default
// ./notifications.yaml). Every adapter (serve, the CLI, the demo) builds its parts from one of these,
// so they cannot disagree about a key or a store.
import path from 'node:path';
import { ErrorCode, SystemError } from '@aifactory/core';
import { dataHome, openStore, StoreBusyError, storeOptionsFromEnv, type Store, type StoreOptions } from '@aifactory/store';
import {
  createRecorder,
  defaultKeyPath,
  loadOrCreateSigner,
  loadRedactor,
  loadSigner,
  openWitness,
  type Recorder,
  type Redactor,
  type SealSigner,
  type Witness,
} from '@aifactory/verification';
import { readLocalCredential, ServedStoreError } from './local-credential.ts';

/** Everything a workspace is opened from. */
export interface WorkspaceConfig {
  /** Data directory: the embedded store, seal and redaction keys, knowledge indexes (AIFACTORY_HOME, default ./.factory). */
  home: string;
  /** Where the store lives (DATABASE_URL and AIFACTORY_DB_SCHEMA, else PGlite under `home`). */
  store: StoreOptions;
  /** A configured seal key file that must exist (AIFACTORY_SEAL_KEY); absent: `<home>/keys/seal-ed25519.pem`, generated on first use. */
  sealKeyPath?: string;
  /** Folder agents are looked up in by name (default ./agents). */
  agentsDir: string;
  /** Folder of organisation policies (default ./policies). */
  policiesDir: string;
  /** The environment the redaction configuration's `secretEnv` names are read from (a snapshot). */
  redactionEnv: Readonly<Record<string, string | undefined>>;
  /** Where signed checkpoints go besides the anchor file: a directory or an HTTP witness (AIFACTORY_WITNESS, AIFACTORY_WITNESS_TOKEN). */
  witness?: { target: string; token?: string };
  /** The notification channels file: Slack channels and e-mail, naming the variables that hold their secrets (AIFACTORY_NOTIFICATIONS, default ./notifications.yaml). */
  notificationsFile: string;
}

/** Folders a caller chooses (command-line options) over the defaults. */
export interface WorkspaceConfigOverrides {
  /** Agents folder, resolved against the working directory. */
  agentsDir?: string;
  /** Policies folder, resolved against the working directory. */
  policiesDir?: string;
  /** Notification channels file, resolved against the working directory. */
  notificationsFile?: string;
}

/** Reads the workspace configuration from `env` once; relative paths resolve against `cwd`. */
export function workspaceConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  overrides: WorkspaceConfigOverrides = {},
  cwd = process.cwd(),
): WorkspaceConfig {
  const sealKey = env.AIFACTORY_SEAL_KEY?.trim();
  const witness = env.AIFACTORY_WITNESS?.trim();
  return {
    home: dataHome(env, cwd),
    store: storeOptionsFromEnv(env, cwd),
    ...(sealKey ? { sealKeyPath: path.resolve(cwd, sealKey) } : {}),
    agentsDir: path.resolve(cwd, overrides.agentsDir ?? 'agents'),
    policiesDir: path.resolve(cwd, overrides.policiesDir ?? 'policies'),
    redactionEnv: Object.freeze({ ...env }),
    notificationsFile: path.resolve(cwd, overrides.notificationsFile ?? (env.AIFACTORY_NOTIFICATIONS?.trim() || 'notifications.yaml')),
    ...(witness ? { witness: { target: witness, ...(env.AIFACTORY_WITNESS_TOKEN ? { token: env.AIFACTORY_WITNESS_TOKEN } : {}) } } : {}),
  };
}

/**
 * A configuration spelled out instead of read from the environment (tests, examples, embedding
 * apps): the data directory, the store (default PGlite in `<home>/pglite`) and the folders.
 */
export function workspaceConfigAt(
  home: string,
  options: WorkspaceConfigOverrides & { store?: StoreOptions; sealKeyPath?: string; redactionEnv?: NodeJS.ProcessEnv } = {},
): WorkspaceConfig {
  const root = path.resolve(home);
  return {
    home: root,
    store: options.store ?? { dataDir: path.join(root, 'pglite') },
    ...(options.sealKeyPath ? { sealKeyPath: path.resolve(options.sealKeyPath) } : {}),
    agentsDir: path.resolve(options.agentsDir ?? 'agents'),
    policiesDir: path.resolve(options.policiesDir ?? 'policies'),
    redactionEnv: Object.freeze({ ...(options.redactionEnv ?? process.env) }),
    notificationsFile: path.resolve(options.notificationsFile ?? 'notifications.yaml'),
  };
}

/**
 * Opens the workspace's store. The embedded store admits one process: finding it held, this waits
 * up to AIFACTORY_STORE_WAIT_MS (default 15 s) for the holder to finish — but not for a
 * `factory serve`, which is named at once (ServedStoreError) so the CLI can go through it.
 */
export async function openWorkspaceStore(
  config: WorkspaceConfig = workspaceConfigFromEnv(),
  tuning: Pick<StoreOptions, 'pgliteSharedBuffers' | 'openConnections'> = {},
): Promise<Store> {
  const waitMs = Number(process.env.AIFACTORY_STORE_WAIT_MS ?? 15_000);
  try {
    return await openStore({
      ...config.store,
      ...tuning,
      lock: {
        waitMs: Number.isFinite(waitMs) && waitMs >= 0 ? waitMs : 15_000,
        onBusy: (owner) => readLocalCredential(config.home)?.pid === owner.pid,
      },
    });
  } catch (error) {
    if (!(error instanceof StoreBusyError)) throw error;
    const credential = readLocalCredential(config.home);
    if (credential && credential.pid === error.owner.pid) throw new ServedStoreError(config.store.dataDir ?? 'memory', credential, error);
    throw new SystemError(ErrorCode.StoreBusy, `${error.message} Wait for that command to finish and run this one again.`, {
      details: error.details,
      cause: error,
    });
  }
}

export {
  localCredentialFile,
  newLocalToken,
  readLocalCredential,
  removeLocalCredential,
  ServedStoreError,
  writeLocalCredential,
} from './local-credential.ts';
export type { LocalCredential } from './local-credential.ts';
export { workspaceNotificationChannels, workspaceNotificationDispatcher } from './workspace-notifications.ts';

/** The workspace data directory (keys, knowledge indexes, the embedded store). */
export function workspaceDataDir(config: WorkspaceConfig = workspaceConfigFromEnv()): string {
  return config.home;
}

/** The workspace's seal signer: the configured key, else the data directory's (generated on first use). */
export function workspaceSigner(config: WorkspaceConfig = workspaceConfigFromEnv()): Promise<SealSigner> {
  return loadOrCreateSigner(config.home, config.sealKeyPath ? { keyPath: config.sealKeyPath } : {});
}

/** The workspace's seal signer if its key exists (verification pins it); never creates one. */
export function findWorkspaceSigner(config: WorkspaceConfig = workspaceConfigFromEnv()): Promise<SealSigner | undefined> {
  return loadSigner(config.sealKeyPath ?? defaultKeyPath(config.home));
}

/** The workspace's redactor: the data directory's HMAC key and `<home>/redaction.json`. */
export function workspaceRedactor(config: WorkspaceConfig = workspaceConfigFromEnv()): Promise<Redactor> {
  return loadRedactor(config.home, config.redactionEnv);
}

/** The witness the workspace hands signed checkpoints to, if one is configured. */
export function workspaceWitness(config: WorkspaceConfig = workspaceConfigFromEnv()): Witness | undefined {
  return config.witness ? openWitness(config.witness.target, config.witness.token ? { token: config.witness.token } : {}) : undefined;
}

/** The workspace's trace recorder over `store`: seals signed with the workspace key, secrets redacted, checkpoints to its witness. */
export async function openWorkspaceRecorder(store: Store, config: WorkspaceConfig = workspaceConfigFromEnv()): Promise<Recorder> {
  const witness = workspaceWitness(config);
  return createRecorder(store, {
    signer: await workspaceSigner(config),
    redactor: await workspaceRedactor(config),
    ...(witness ? { witness } : {}),
  });
}
