// The console (packages/console) served at `/`: its built files, and index.html for any other
// path that is not the API's, so the app's own routes (/runs/run_…, /policies) survive a reload.
// Hashed assets are cached for a year (their names change with their content); index.html is
// revalidated on every load so a new build is picked up at once. Every answer carries a
// Content-Security-Policy that admits only this origin's scripts and connections: the console
// talks to the API it is served by and, where sign-in through the enterprise's identity provider
// is configured, to that provider's discovery and token endpoints (and nothing else).
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Env, Hono } from 'hono';

/** Options of the console's static routes. */
export interface ConsoleAssetsOptions {
  /** The console's built files (packages/console/dist): index.html and assets/. */
  dir: string;
  /** Sign-in through the enterprise's identity provider (authorization code with PKCE), when configured. */
  signIn?: ConsoleSignIn;
}

/** What the console needs to sign in through an OIDC provider; handed to the page in a meta tag (none of it is secret). */
export interface ConsoleSignIn {
  /** The issuer, whose discovery document names the authorization and token endpoints. */
  issuer: string;
  /** The console's public client id there. */
  clientId: string;
  /** Scopes asked for, space-separated. */
  scope: string;
  /** The resource indicator (RFC 8707) asked for: the API's audience, so the access token is one this server accepts. */
  resource: string;
}

/** The policy every console response carries: scripts, stylesheets, images and fetches from this origin only; no frames, no plugins, no foreign forms. */
export const consoleContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Paths that belong to the API (or other servers' routes), never to the console's fallback. */
const apiPath = /^\/(v1|mcp|metrics|healthz|\.well-known)(\/|$)/;

const securityHeaders = {
  'content-security-policy': consoleContentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Mounts the console: GET (and HEAD) of any non-API path answers a built file or index.html. Register after every API route. */
export function registerConsoleAssets<E extends Env>(app: Hono<E>, options: ConsoleAssetsOptions): void {
  const root = path.resolve(options.dir);
  const signIn = options.signIn;
  const providerOrigins = signIn ? providerOriginsOf(signIn.issuer) : async () => [];
  const signInMeta = signIn ? `\n    <meta name="aifactory-sign-in" content="${attribute(JSON.stringify(signIn))}" />` : '';
  // Read on each load (it is small), so a rebuild is served without a restart.
  const readIndex = () => readFile(path.join(root, 'index.html'));

  // Hono answers HEAD with the GET handler, without the body.
  app.get('/*', async (c) => {
    const pathname = c.req.path;
    if (apiPath.test(pathname)) return c.notFound();
    // The URL's path names a file under root only after normalisation, and only if it stays inside.
    const relative = path
      .normalize(decodeURIComponent(pathname))
      .replace(/^(\.\.[/\\])+/, '')
      .replace(/^[/\\]+/, '');
    const file = path.join(root, relative);
    if (relative !== '' && file.startsWith(root + path.sep)) {
      const info = await stat(file).catch(() => undefined);
      if (info?.isFile()) {
        const extension = path.extname(file);
        const immutable = relative.startsWith(`assets${path.sep}`);
        return c.body(new Uint8Array(await readFile(file)), 200, {
          ...securityHeaders,
          'content-type': contentTypes[extension] ?? 'application/octet-stream',
          'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        });
      }
      // A missing asset is a 404, not the app: a stale page asking for an old bundle must see it fail.
      if (relative.startsWith(`assets${path.sep}`) || path.extname(relative) !== '') return c.notFound();
    }
    let html: Buffer;
    try {
      html = await readIndex();
    } catch {
      return c.text('The console is not built: run `pnpm install` (or `pnpm --filter @aifactory/console build`).', 503, {
        'cache-control': 'no-store',
      });
    }
    // The code editor (CodeMirror) writes its theme into a <style> element: the page admits exactly
    // the one carrying this load's nonce, which it reads from a meta tag. Injected markup cannot know it.
    const nonce = randomBytes(16).toString('base64');
    const page = html.toString('utf8').replace('<head>', `<head>\n    <meta name="csp-nonce" content="${nonce}" />${signInMeta}`);
    const connect = ["'self'", ...(await providerOrigins())].join(' ');
    return c.body(page, 200, {
      ...securityHeaders,
      'content-security-policy': consoleContentSecurityPolicy
        .replace("style-src 'self'", `style-src 'self' 'nonce-${nonce}'`)
        .replace("connect-src 'self'", `connect-src ${connect}`),
      'content-type': contentTypes['.html']!,
      'cache-control': 'no-cache',
    });
  });
}

/** Escapes text for a double-quoted HTML attribute. */
function attribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The origins the console's sign-in fetches from: the issuer's (its discovery document) and its
 * token endpoint's, which a provider may serve elsewhere (read from the discovery document once;
 * while that cannot be had, the issuer's alone, asked again after 30 s).
 */
function providerOriginsOf(issuer: string): () => Promise<string[]> {
  const base = [new URL(issuer).origin];
  let known: string[] | undefined;
  let retryAt = 0;
  return async () => {
    if (known) return known;
    if (Date.now() < retryAt) return base;
    try {
      const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const response = await fetch(url, { signal: AbortSignal.timeout(2000), headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`discovery answered ${response.status}`);
      const document = (await response.json()) as { issuer?: unknown; token_endpoint?: unknown };
      if (document.issuer !== issuer) throw new Error('discovery names another issuer');
      const tokenEndpoint = typeof document.token_endpoint === 'string' ? URL.parse(document.token_endpoint) : null;
      const extra = tokenEndpoint && /^https?:$/.test(tokenEndpoint.protocol) ? [tokenEndpoint.origin] : [];
      known = [...new Set([...base, ...extra])];
      return known;
    } catch {
      retryAt = Date.now() + 30_000;
      return base;
    }
  };
}
