// Sign-in through the enterprise's identity provider, end to end in Debian's Chromium: a real
// OpenID Provider (oidc-provider, the certified provider for Node, on loopback with its own login
// and consent pages) and a real `factory serve` configured with its issuer, the API's audience and
// the console's public client. The console sends the browser to the provider (authorization code
// with PKCE), exchanges the code at the token endpoint from the page (which the
// Content-Security-Policy admits, and nothing else), and is signed in as the person the access
// token names, with the roles its claims carry: the pages shown are those the API answers for that
// token, and when the token expires the console signs out and says so.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { buildConsole, consoleIsBuilt } from '../src/index.ts';
import { chromiumPath, launchChromium, startConsoleServer, type ConsoleServer } from './console-server.ts';

const haveChromium = existsSync(chromiumPath);

describe.skipIf(!haveChromium && !process.env.CI)('console sign-in through an OpenID Provider (authorization code + PKCE)', () => {
  let browser: Browser;
  let idp: Server;
  let issuer: string;
  let server: ConsoleServer;
  const audience = 'https://factory.acme.example/api';
  const clientId = 'aifactory-console';
  /** Roles the provider puts in the access token's `roles` claim, by account. */
  const rolesOf: Record<string, string[]> = { rita: ['auditor', 'risk_officer'], ali: ['approver'] };
  /** Lifetime of the access tokens the provider issues next (seconds). */
  let tokenLifetime = 300;

  beforeAll(async () => {
    if (!consoleIsBuilt()) await buildConsole();
    // The provider listens first (the server needs its issuer), and takes its configuration once
    // the console's URL, its redirect URI's origin, is known.
    idp = createServer();
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    server = await startConsoleServer({
      engine: 'pglite',
      env: {
        AIFACTORY_OIDC_ISSUER: issuer,
        AIFACTORY_OIDC_AUDIENCE: audience,
        AIFACTORY_OIDC_CONSOLE_CLIENT_ID: clientId,
        AIFACTORY_OIDC_CONSOLE_SCOPE: 'openid agents',
      },
    });
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
          response_types: ['code'],
          redirect_uris: [`${server.url}/sign-in/callback`],
        },
      ],
      jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' } as never] },
      // Its own login and consent pages: any login name, the password is not checked.
      features: {
        devInteractions: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => audience,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'agents',
            audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: tokenLifetime,
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      // Browsers may call the token endpoint from the console's origin only.
      clientBasedCORS: (_ctx, origin) => origin === server.url,
      findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
      extraTokenClaims: (_ctx, token) => ({ roles: rolesOf[(token as { accountId?: string }).accountId ?? ''] ?? [] }),
    });
    idp.on('request', provider.callback());
    browser = await launchChromium();
    expect((await server.startRun('Where is my order?')).status).toBe('completed');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    idp?.closeAllConnections();
    await new Promise((resolve) => idp?.close(resolve));
  });

  /** Opens `path` signed out, signs in at the provider as `login`, and waits for the console to name them. */
  async function signInThroughProvider(page: Page, path: string, login: string): Promise<void> {
    await page.goto(`${server.url}${path}`);
    await page.getByRole('button', { name: `Sign in with 127.0.0.1:${new URL(issuer).port}` }).click();
    // The provider's own pages: login, then consent to the console's access.
    await page.waitForURL((url) => url.origin === issuer);
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForSelector('[data-testid=principal]', { timeout: 30_000 });
  }

  /** The token the tab signed in with (sessionStorage), to ask the API what it lets that token see. */
  const tokenOf = async (page: Page) => String(await page.evaluate("sessionStorage.getItem('aifactory.console.token')"));
  const status = async (token: string, path: string) =>
    (await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status;

  it.skipIf(!haveChromium)(
    'signs an auditor in at the provider, lands on the page they asked for, and shows the pages the API answers for their token',
    async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && new URL(page.url()).origin === server.url) problems.push(`console: ${message.text()}`);
      });
      // The console's page admits fetches to the provider (discovery, token endpoint) and none elsewhere.
      const response = await page.goto(`${server.url}/runs?status=completed`);
      expect(response!.headers()['content-security-policy']).toContain(`connect-src 'self' ${issuer};`);
      // Both ways in are reached by keyboard, once the page has drawn them (goto resolves at the load
      // event, which can come before the app renders: Tab then only reaches the body).
      await page.getByText(`Sign in with 127.0.0.1:${new URL(issuer).port}`).waitFor();
      await page.keyboard.press('Tab');
      const reached: string[] = [];
      for (let index = 0; index < 4; index += 1) {
        reached.push(
          String(await page.evaluate("document.activeElement ? (document.activeElement.id || document.activeElement.textContent) : ''")),
        );
        await page.keyboard.press('Tab');
      }
      expect(reached).toEqual(expect.arrayContaining([`Sign in with 127.0.0.1:${new URL(issuer).port}`, 'token']));
      const axe = await new AxeBuilder({ page }).analyze();
      expect(axe.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')).toEqual([]);

      await signInThroughProvider(page, '/runs?status=completed', 'rita');
      expect(await page.textContent('[data-testid=principal]')).toBe('rita');
      expect(await page.textContent('.roles')).toBe('(auditor, risk_officer)');
      // Back where the sign-in started, the callback's code and state gone from the address bar.
      expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/runs?status=completed');
      await page.waitForSelector('table.runs');

      // The token is the provider's JWT for this API; the pages are those the API serves it.
      const token = await tokenOf(page);
      expect(token.split('.')).toHaveLength(3);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iss: string; aud: string; sub: string };
      expect(claims).toMatchObject({ iss: issuer, aud: audience, sub: 'rita' });
      expect(await page.getByRole('navigation', { name: 'Pages', exact: true }).textContent()).toBe('InboxRunsPoliciesCharts');
      expect(await status(token, '/v1/runs')).toBe(200);
      expect(await status(token, '/v1/stats')).toBe(200);
      await page.getByRole('link', { name: 'Charts' }).click();
      await page.waitForSelector('[data-testid=chart-status]');

      // A reload keeps the tab signed in (the token is kept for the tab, and /v1/me still accepts it).
      await page.reload();
      await page.waitForSelector('[data-testid=principal]');
      expect(problems).toEqual([]);
      await context.close();
    },
    120_000,
  );

  it.skipIf(!haveChromium)(
    'shows an approver only the inbox, as the API refuses them the rest, and signs them out when the token expires',
    async () => {
      tokenLifetime = 6;
      try {
        const context = await browser.newContext();
        const page = await context.newPage();
        await signInThroughProvider(page, '/', 'ali');
        expect(await page.textContent('[data-testid=principal]')).toBe('ali');
        expect(await page.getByRole('navigation', { name: 'Pages', exact: true }).textContent()).toBe('Inbox');
        const token = await tokenOf(page);
        expect(await status(token, '/v1/approvals')).toBe(200);
        expect(await status(token, '/v1/runs')).toBe(404);
        expect(await status(token, '/v1/stats')).toBe(404);
        // The token lives six seconds: then the console signs out and says why (the server itself
        // refuses it once its clock tolerance has passed too: packages/server/test/oidc-provider.test.ts).
        await page.waitForSelector('text=Your sign-in has expired; sign in again.', { timeout: 15_000 });
        expect(await page.locator('[data-testid=principal]').count()).toBe(0);
        expect(await page.getByRole('button', { name: /^Sign in with / }).count()).toBe(1);
        await context.close();
      } finally {
        tokenLifetime = 300;
      }
    },
    120_000,
  );

  it.skipIf(!haveChromium)('says what the provider answered when the sign-in is refused there, and stays signed out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: /^Sign in with / }).click();
    await page.waitForURL((url) => url.origin === issuer);
    await page.fill('input[name=login]', 'mallory');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    // Mallory declines the consent: the provider sends her back with access_denied.
    await page.getByRole('button', { name: 'Continue' }).waitFor();
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
    await page.waitForSelector('[role=alert]', { timeout: 30_000 });
    expect(await page.textContent('[role=alert]')).toContain('access_denied');
    expect(await page.locator('[data-testid=principal]').count()).toBe(0);
    expect(new URL(page.url()).pathname).toBe('/');
    await context.close();
  });
});
