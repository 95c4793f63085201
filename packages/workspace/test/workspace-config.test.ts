// The workspace configuration is read once from the environment, and openWorkspace builds every
// part from it: the configured seal key is the one used (or a clear error when it is missing).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '@aifactory/verification';
import { openWorkspace, workspaceConfigAt, workspaceConfigFromEnv } from '@aifactory/workspace';

describe('workspace configuration', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'aifactory-workspace-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads the store, the seal key and the folders from the environment, relative to the working directory', () => {
    const config = workspaceConfigFromEnv(
      {
        AIFACTORY_HOME: 'data',
        AIFACTORY_SEAL_KEY: 'keys/seal.pem',
        DATABASE_URL: 'postgres://db.example/app',
        AIFACTORY_DB_SCHEMA: 'tenant_a',
      },
      { agentsDir: 'my-agents' },
      root,
    );
    expect(config).toMatchObject({
      home: path.join(root, 'data'),
      store: { databaseUrl: 'postgres://db.example/app', schema: 'tenant_a' },
      sealKeyPath: path.join(root, 'keys', 'seal.pem'),
      agentsDir: path.join(root, 'my-agents'),
      policiesDir: path.join(root, 'policies'),
    });
    const embedded = workspaceConfigFromEnv({}, {}, root);
    expect(embedded.store).toEqual({ dataDir: path.join(root, '.factory', 'pglite') });
    expect(embedded.sealKeyPath).toBeUndefined();
  });

  it('signs with the configured key, and refuses to open when that key does not exist rather than making another', async () => {
    const keyPath = path.join(root, 'seal.pem');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    // An in-memory store: the configuration's store options with neither URL nor directory.
    const workspace = await openWorkspace({ ...workspaceConfigAt(path.join(root, 'home'), { sealKeyPath: keyPath }), store: {} });
    try {
      expect(workspace.signer.keyId).toBe(keyIdOf(publicKey.export({ format: 'der', type: 'spki' }).toString('base64')));
    } finally {
      await workspace.close();
    }
    const missing = path.join(root, 'absent.pem');
    await expect(openWorkspace({ ...workspaceConfigAt(path.join(root, 'home'), { sealKeyPath: missing }), store: {} })).rejects.toThrow(
      `Seal key '${missing}' does not exist`,
    );
  });
});
