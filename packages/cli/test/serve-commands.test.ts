// factory tokens create | list | revoke, in-process against a real embedded store: the secret is
// printed once and works against the API; only its hash is stored; a revoked token stops working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiTokens, openStore, type Store } from '@aifactory/store';
import { authenticateApiToken } from '@aifactory/server';
import { serveProgram } from '../src/commands/serve.ts';
import { runProgram } from './run-program.ts';

describe('factory tokens', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore();
  });
  afterAll(async () => {
    await store?.close();
  });

  async function factory(...args: string[]) {
    const program = serveProgram({ openStore: async () => ({ ...store, close: async () => {} }) }).exitOverride();
    return runProgram(program, args);
  }

  it('creates a token shown once, stores only its hash, lists it without secrets and revokes it', async () => {
    const created = await factory('tokens', 'create', '--principal', 'bob@acme.example', '--role', 'approver,ops-lead', '--description', 'inbox bot', '--json');
    expect(created.exitCode).toBe(0);
    const { id, token, roles } = JSON.parse(created.stdout) as { id: string; token: string; roles: string[] };
    expect(token).toMatch(/^aif_/);
    expect(roles).toEqual(['approver', 'ops-lead']);
    const rows = await store.db.select().from(apiTokens);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(await authenticateApiToken(store, token)).toMatchObject({ id: 'bob@acme.example', tokenId: id });

    const listed = await factory('tokens', 'list');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('live');
    expect(listed.stdout).not.toContain(token);

    expect((await factory('tokens', 'revoke', id)).exitCode).toBe(0);
    expect(await authenticateApiToken(store, token)).toBeUndefined();
    expect(JSON.parse((await factory('tokens', 'list', '--json')).stdout).tokens[0].revokedAt).not.toBeNull();
  });

  it('refuses bad input with exit code 2 and a message naming it', async () => {
    const badRole = await factory('tokens', 'create', '--principal', 'eve', '--role', 'Super User');
    expect(badRole.exitCode).toBe(2);
    expect(badRole.stderr).toMatch(/Role 'Super User' is not valid/);
    const unknown = await factory('tokens', 'revoke', 'tok_000000000000');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/No live token has id 'tok_000000000000'/);
    const badPort = await factory('serve', '--port', 'eighty');
    expect(badPort.exitCode).toBe(2);
    expect(badPort.stderr).toMatch(/--port 'eighty' is not a port/);
  });
});
