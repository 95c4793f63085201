// Identity from the enterprise's own provider, against a real one: oidc-provider (the certified
// OpenID Provider for Node) on loopback issues client-credentials access tokens as JWTs (resource
// indicators, RS256, roles in a `roles` claim). The server verifies them against the provider's
// JWKS, found through its discovery document; refuses tokens for another audience, expired,
// or signed by another key; and serves RFC 9728 metadata that lets the official MCP SDK client
// find the provider, get a token for /mcp and call an agent, all on its own.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider from 'oidc-provider';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { openStore, type Store } from '@aifactory/store';
import { runs } from '@aifactory/store/schema';
import { startServer, type RunningServer } from '@aifactory/server';
import { eq } from 'drizzle-orm';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

/** A free loopback port (the server's URL is its audience, so it must be known before it starts). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('OIDC access tokens from a real provider', () => {
  const workspace = prepareBusinessWorkspace();
  let idp: Server;
  let issuer: string;
  let store: Store;
  let server: RunningServer;
  let apiAudience: string;
  let mcpResource: string;
  const logs: Array<Record<string, unknown>> = [];
  const secrets = { ci: 'ci-bot-secret-0123456789abcdef0123456789', mcp: 'desk-bot-secret-0123456789abcdef012345' };

  beforeAll(async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const signingKey = { ...(await exportJWK(privateKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
    idp = createServer();
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    const port = await freePort();
    apiAudience = `http://127.0.0.1:${port}`;
    mcpResource = `http://127.0.0.1:${port}/mcp`;
    const rolesOf: Record<string, string[]> = { 'ci-bot': ['operator', 'auditor'], 'desk-bot': ['operator'] };
    const provider = new Provider(issuer, {
      clients: [
        { client_id: 'ci-bot', client_secret: secrets.ci, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
        { client_id: 'desk-bot', client_secret: secrets.mcp, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      ],
      jwks: { keys: [signingKey as never] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => apiAudience,
          getResourceServerInfo: (_ctx, resource) => ({
            scope: 'agents',
            audience: resource,
            accessTokenFormat: 'jwt',
            // The "short" resource issues tokens that expire at once (to see them refused).
            accessTokenTTL: resource.endsWith('/short') ? 1 : 300,
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      extraTokenClaims: (_ctx, token) => ({ roles: rolesOf[(token as { clientId?: string }).clientId ?? ''] ?? [] }),
    });
    idp.on('request', provider.callback());
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port,
      log: (line) => logs.push(line),
      mcpAgents: ['order-desk'],
      oidc: { issuer, audience: [apiAudience, mcpResource, `${apiAudience}/short`], clockToleranceSeconds: 0 },
    });
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    idp?.closeAllConnections();
    await new Promise((resolve) => idp?.close(resolve));
    rmSync(workspace.root, { recursive: true, force: true });
  });

  /** A client-credentials access token from the provider's token endpoint. */
  async function accessToken(client: 'ci-bot' | 'desk-bot', resource: string): Promise<string> {
    const secret = client === 'ci-bot' ? secrets.ci : secrets.mcp;
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'agents' }),
    });
    const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!body.access_token) throw new Error(`token endpoint: ${body.error}: ${body.error_description}`);
    return body.access_token;
  }

  const me = (token: string) => fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });

  it('accepts a JWT access token of the issuer for this audience, with principal and roles from its claims', async () => {
    const token = await accessToken('ci-bot', apiAudience);
    expect(token.split('.')).toHaveLength(3);
    const response = await me(token);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { principal: string; roles: string[]; token: string };
    expect(body).toMatchObject({ principal: 'ci-bot', roles: ['operator', 'auditor'] });
    expect(body.token).toMatch(/^jwt:/);
    // Roles decide as they do for our own tokens: an operator may start a run and list it.
    const run = await fetch(`${server.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'order-desk', input: 'Where is my order?' }),
    });
    expect(run.status, await run.clone().text()).toBe(200);
    const { runId } = (await run.json()) as { runId: string };
    const [row] = await store.db.select().from(runs).where(eq(runs.id, runId));
    expect(row?.principal).toBe('ci-bot');
  });

  it('refuses tokens for another audience, expired ones and ones signed by another key, with 401 and the challenge', async () => {
    const otherAudience = await accessToken('ci-bot', 'https://payroll.example/api');
    const expiring = await accessToken('ci-bot', `${apiAudience}/short`); // lives one second
    const { privateKey: foreignKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-key-1' })
      .setIssuer(issuer)
      .setAudience(apiAudience)
      .setSubject('mallory')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(foreignKey);
    const valid = await accessToken('ci-bot', apiAudience);
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const escalated = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), roles: ['admin'] }),
    ).toString('base64url');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    for (const [name, token] of Object.entries({ otherAudience, expiring, forged, tampered: `${header}.${escalated}.${signature}` })) {
      const response = await me(token);
      expect(response.status, name).toBe(401);
      expect(response.headers.get('www-authenticate'), name).toBe(
        `Bearer realm="aifactory", resource_metadata="${apiAudience}/.well-known/oauth-protected-resource", error="invalid_token"`,
      );
    }
    const reasons = logs.filter((line) => line.event === 'auth.decided' && line.outcome === 'denied').map((line) => line.reason);
    expect(reasons).toEqual(expect.arrayContaining(['jwt_claim_aud', 'jwt_expired', 'jwt_signature']));
  });

  it('publishes RFC 9728 metadata naming the provider, and points 401s from /mcp to it', async () => {
    const api = (await (await fetch(`${server.url}/.well-known/oauth-protected-resource`)).json()) as Record<string, unknown>;
    expect(api).toMatchObject({ resource: apiAudience, authorization_servers: [issuer], bearer_methods_supported: ['header'] });
    const mcp = (await (await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<string, unknown>;
    expect(mcp).toMatchObject({ resource: mcpResource, authorization_servers: [issuer] });
    const challenge = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{}',
    });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toBe(
      `Bearer realm="aifactory", resource_metadata="${mcpResource.replace('/mcp', '')}/.well-known/oauth-protected-resource/mcp"`,
    );
  });

  it('lets the official MCP SDK client discover the provider, obtain a token for /mcp on its own and call an agent', async () => {
    const authProvider = new ClientCredentialsProvider({
      clientId: 'desk-bot',
      clientSecret: secrets.mcp,
      scope: 'agents',
      expectedIssuer: issuer,
    });
    const client = new Client({ name: 'desk-bot', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(mcpResource), { authProvider });
    try {
      await client.connect(transport).catch(async (error: Error) => {
        // The SDK answers the first 401 by completing OAuth, then asks to be connected again.
        if (!/Unauthorized/i.test(error.message)) throw error;
        await client.connect(new StreamableHTTPClientTransport(new URL(mcpResource), { authProvider }));
      });
      const tokens = authProvider.tokens();
      expect(tokens?.access_token.split('.')).toHaveLength(3);
      const claims = JSON.parse(Buffer.from(tokens!.access_token.split('.')[1]!, 'base64url').toString()) as { aud: string; iss: string };
      expect(claims).toMatchObject({ aud: mcpResource, iss: issuer });
      const result = await client.callTool({ name: 'order-desk', arguments: { input: 'Where is my order?' } });
      const structured = result.structuredContent as { status: string; runId: string };
      expect(structured.status).toBe('completed');
      const [row] = await store.db.select().from(runs).where(eq(runs.id, structured.runId));
      expect(row?.principal).toBe('desk-bot');
    } finally {
      await client.close();
    }
  });
});
