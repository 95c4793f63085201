// What the server hands the console for sign-in through the enterprise's identity provider: the
// settings in a meta tag of index.html (escaped as an attribute), and a Content-Security-Policy
// whose connect-src admits the provider's origin and its token endpoint's, read from the
// provider's discovery document (a provider that serves its token endpoint elsewhere, as some
// large ones do), the issuer's alone while discovery fails, and nothing more without a console
// client. The browser flow itself runs against a real provider in
// packages/console/test/console-oidc.e2e.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { startServer, type OidcOptions, type RunningServer } from '@aifactory/server';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

describe('console sign-in settings and CSP', () => {
  const workspace = prepareBusinessWorkspace();
  const assets = mkdtempSync(path.join(tmpdir(), 'aifactory-console-sign-in-'));
  let store: Store;
  let discovery: Server;
  let issuer: string;
  const tokenOrigin = 'https://tokens.login.example';
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    writeFileSync(path.join(assets, 'index.html'), '<!doctype html><html><head><title>console</title></head><body></body></html>');
    // The provider's discovery document, naming a token endpoint on another origin.
    discovery = createServer((request, response) => {
      if (request.url !== '/realms/main/.well-known/openid-configuration') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${tokenOrigin}/token` }));
    });
    await new Promise<void>((resolve) => discovery.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(discovery.address() as AddressInfo).port}/realms/main`;
    store = await openStore();
  });

  afterAll(async () => {
    for (const server of servers) await server.close();
    await store?.close();
    await new Promise((resolve) => discovery?.close(resolve));
    rmSync(workspace.root, { recursive: true, force: true });
    rmSync(assets, { recursive: true, force: true });
  });

  const serve = async (oidc: OidcOptions) => {
    const server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: () => {},
      consoleDir: assets,
      oidc,
    });
    servers.push(server);
    return server;
  };
  const connectSrc = (response: Response) => /connect-src ([^;]+)/.exec(response.headers.get('content-security-policy') ?? '')?.[1];

  it('puts the issuer, client id, scopes and API audience in the page, and admits the provider and its token endpoint', async () => {
    const server = await serve({
      issuer,
      audience: ['https://factory.acme.example', 'https://factory.acme.example/mcp'],
      consoleClientId: 'aifactory-console',
      consoleScope: 'openid "profile"',
    });
    const response = await fetch(`${server.url}/runs`);
    const html = await response.text();
    const meta = /<meta name="aifactory-sign-in" content="([^"]*)" \/>/.exec(html)?.[1];
    expect(meta).toContain('&quot;');
    const settings = JSON.parse(
      meta!
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&'),
    ) as unknown;
    expect(settings).toEqual({
      issuer,
      clientId: 'aifactory-console',
      scope: 'openid "profile"',
      resource: 'https://factory.acme.example',
    });
    expect(connectSrc(response)).toBe(`'self' ${new URL(issuer).origin} ${tokenOrigin}`);
  });

  it('admits only the issuer while its discovery document cannot be read, and nothing beyond itself without a console client', async () => {
    const unreachable = `${issuer}-gone`;
    const withoutDiscovery = await serve({ issuer: unreachable, audience: ['https://factory.acme.example'], consoleClientId: 'c' });
    expect(connectSrc(await fetch(`${withoutDiscovery.url}/`))).toBe(`'self' ${new URL(issuer).origin}`);
    const tokensOnly = await serve({ issuer, audience: ['https://factory.acme.example'] });
    const page = await fetch(`${tokensOnly.url}/`);
    expect(connectSrc(page)).toBe("'self'");
    expect(await page.text()).not.toContain('aifactory-sign-in');
  });
});
