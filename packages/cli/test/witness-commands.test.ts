// `factory witness`: reading what a witness holds, and refusing bad input before listening.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { createSigner, openWitness, signCheckpoint } from '@aifactory/verification';
import { registerWitnessCommands } from '../src/commands/witness.ts';
import { runProgram } from './run-program.ts';

describe('factory witness', () => {
  let directory: string;
  const signer = createSigner(generateKeyPairSync('ed25519').privateKey);

  beforeAll(async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'aifactory-witness-cli-'));
    await openWitness(directory).submit(signCheckpoint(signer, { storeId: 'store-1', sealSeq: 4, sealHash: 'a'.repeat(64) }));
  });
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  afterEach(() => {
    process.exitCode = 0;
    vi.restoreAllMocks();
  });

  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    registerWitnessCommands(program);
    return runProgram(program, ['witness', ...args]);
  }

  it('shows the checkpoints a witness holds for a store, as text and JSON', async () => {
    expect((await factory('show', directory, 'store-1')).stdout).toContain(`seal 4  ${'a'.repeat(64)}`);
    const json = JSON.parse((await factory('show', directory, 'store-1', '--json')).stdout) as {
      checkpoints: Array<{ sealSeq: number; keyId: string }>;
    };
    expect(json.checkpoints).toEqual([expect.objectContaining({ sealSeq: 4, keyId: signer.keyId })]);
    expect((await factory('show', directory, 'store-2')).stdout).toContain('No checkpoints for store store-2.');
  });

  it('refuses a bad port and a store id that is a path, exit 2', async () => {
    const port = await factory('serve', '--dir', directory, '--port', 'eighty');
    expect(port.exitCode).toBe(2);
    expect(port.stderr).toMatch(/--port 'eighty' is not a port number/);
    const traversal = await factory('show', directory, '../etc');
    expect(traversal.exitCode).toBe(2);
    expect(traversal.stderr).toMatch(/Store id '\.\.\/etc' is invalid/);
  });
});
