// factory tokens create | list | revoke, in-process against a real embedded store: the secret is
// printed once and works against the API; only its hash is stored; a revoked token stops working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { apiTokens } from '@aifactory/store/schema';
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
    const created = await factory(
      'tokens',
      'create',
      '--principal',
      'bob@acme.example',
      '--role',
      'approver,ops-lead',
      '--description',
      'inbox bot',
      '--json',
    );
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

  it('gives a token a lifetime: list shows when it expires, and after that instant it is refused', async () => {
    const created = await factory(
      'tokens',
      'create',
      '--principal',
      'cron@acme.example',
      '--role',
      'operator',
      '--expires',
      '30d',
      '--json',
    );
    expect(created.exitCode).toBe(0);
    const { id, token, expiresAt } = JSON.parse(created.stdout) as { id: string; token: string; expiresAt: string };
    const lifetime = new Date(expiresAt).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(29.9 * 86_400_000);
    expect(lifetime).toBeLessThanOrEqual(30 * 86_400_000);
    expect((await factory('tokens', 'list')).stdout).toMatch(new RegExp(`${id} .*live, expires ${expiresAt.slice(0, 10)}`));
    expect(await authenticateApiToken(store, token)).toMatchObject({ tokenId: id, expiresAt: new Date(expiresAt) });
    expect(await authenticateApiToken(store, token, new Date(new Date(expiresAt).getTime() + 1))).toBeUndefined();
    const badLifetime = await factory('tokens', 'create', '--principal', 'cron@acme.example', '--role', 'operator', '--expires', 'soon');
    expect(badLifetime.exitCode).toBe(2);
    expect(badLifetime.stderr).toMatch(/--expires 'soon' is not a token lifetime; give e.g. 30d/);
  });

  it('rotates a token: the successor keeps principal, roles and lifetime; the old one stops at once or after --grace', async () => {
    const first = JSON.parse(
      (await factory('tokens', 'create', '--principal', 'ci@acme.example', '--role', 'operator,auditor', '--expires', '7d', '--json'))
        .stdout,
    ) as { id: string; token: string };
    const rotated = await factory('tokens', 'rotate', first.id, '--json');
    expect(rotated.exitCode).toBe(0);
    const { created, previous } = JSON.parse(rotated.stdout) as {
      created: { id: string; token: string; roles: string[]; rotatedFrom: string; expiresAt: string };
      previous: { revokedAt: string | null };
    };
    expect(created).toMatchObject({ roles: ['operator', 'auditor'], rotatedFrom: first.id });
    expect(new Date(created.expiresAt).getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(previous.revokedAt).not.toBeNull();
    expect(await authenticateApiToken(store, first.token)).toBeUndefined();
    expect(await authenticateApiToken(store, created.token)).toMatchObject({ id: 'ci@acme.example', roles: ['operator', 'auditor'] });

    const graced = JSON.parse((await factory('tokens', 'rotate', created.id, '--grace', '1h', '--expires', 'never', '--json')).stdout) as {
      created: { token: string; expiresAt: string | null };
    };
    expect(graced.created.expiresAt).toBeNull();
    expect(await authenticateApiToken(store, created.token)).toBeDefined(); // still works during the grace hour
    expect(await authenticateApiToken(store, created.token, new Date(Date.now() + 3_601_000))).toBeUndefined();
    expect((await factory('tokens', 'list')).stdout).toContain(`rotated from ${created.id}`);
    const again = await factory('tokens', 'rotate', first.id);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(`No live token has id '${first.id}'`);
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
