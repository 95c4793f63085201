// `factory serve` and `factory run` are two processes over one workspace; both must seal with the
// key the workspace is configured with (AIFACTORY_SEAL_KEY), never with one of their own. Before
// the composition root, serve generated a key in the data directory and ignored the setting, so
// an auditor pinning the configured key saw every served run as sealed by a stranger.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '@aifactory/store';
import { keyIdOf, verifyRun } from '@aifactory/verification';
import { prepareBusinessWorkspace } from '../examples/business-app/business-workspace.ts';

const cli = path.resolve(import.meta.dirname, '..', 'packages', 'cli', 'dist', 'factory.mjs');

/** Runs `factory <args>` to its end in a child process. */
function factory(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('one seal key for every process of a workspace', () => {
  const workspace = prepareBusinessWorkspace();
  const keyPath = path.join(workspace.root, 'secrets', 'seal.pem');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(path.dirname(keyPath), { recursive: true });
  writeFileSync(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const configuredKeyId = keyIdOf(publicKey.export({ format: 'der', type: 'spki' }).toString('base64'));
  const env: NodeJS.ProcessEnv = { ...process.env, AIFACTORY_HOME: workspace.dataDir, AIFACTORY_SEAL_KEY: keyPath, NO_COLOR: '1' };
  delete env.DATABASE_URL;
  delete env.AIFACTORY_DB_SCHEMA;

  afterAll(() => {
    rmSync(workspace.root, { recursive: true, force: true });
  });

  it('seals runs started by `factory run` and through `factory serve` with the configured AIFACTORY_SEAL_KEY', async () => {
    const run = await factory(
      ['run', 'order-desk', '--input', 'Where is my order?', '--agents', workspace.agentsDir, '--json'],
      env,
      workspace.root,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const cliRun = JSON.parse(run.stdout) as { runId: string; status: string };
    expect(cliRun.status).toBe('completed');

    const created = await factory(
      ['tokens', 'create', '--principal', 'alice@shop.example', '--role', 'operator', '--json'],
      env,
      workspace.root,
    );
    expect(created.code).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };

    const server = spawn(
      process.execPath,
      [cli, 'serve', '--port', '0', '--agents', workspace.agentsDir, '--policies', workspace.policiesDir],
      { env, cwd: workspace.root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    let served: { runId: string; status: string };
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stderr = '';
        const timer = setTimeout(() => reject(new Error(`factory serve did not start: ${stderr}`)), 120_000);
        server.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const match = /serving (http:\/\/\S+)/.exec(stderr);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
        server.once('exit', () => reject(new Error(`factory serve exited: ${stderr}`)));
      });
      const response = await fetch(`${url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'order-desk', input: 'Where is my order?' }),
      });
      expect(response.status).toBe(200);
      served = (await response.json()) as { runId: string; status: string };
      expect(served.status).toBe('completed');
    } finally {
      if (server.exitCode === null) server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);

    // Neither process made a key of its own in the data directory.
    expect(existsSync(path.join(workspace.dataDir, 'keys', 'seal-ed25519.pem'))).toBe(false);
    const store = await openStore({ dataDir: path.join(workspace.dataDir, 'pglite') });
    try {
      for (const runId of [cliRun.runId, served.runId]) {
        const report = await verifyRun(store, runId, { trustedKeys: [configuredKeyId] });
        expect({ runId, ok: report.ok, sealed: report.sealed, keyId: report.keyId }).toEqual({
          runId,
          ok: true,
          sealed: true,
          keyId: configuredKeyId,
        });
      }
    } finally {
      await store.close();
    }
  }, 300_000);
});
