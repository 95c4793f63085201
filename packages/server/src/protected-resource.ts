// OAuth 2.0 Protected Resource Metadata (RFC 9728) for the API and the MCP endpoint, and the
// `WWW-Authenticate` challenge that points to it. An MCP client that gets 401 from /mcp reads
// `resource_metadata`, fetches the document, finds the authorization server (the configured
// OIDC issuer), obtains a token for the resource there and retries, all on its own.
import type { Env, Hono } from 'hono';
import type { RequestView } from './request-view.ts';

/** Well-known path of the metadata (RFC 9728 §3). */
export const protectedResourcePath = '/.well-known/oauth-protected-resource';

/** Options of the metadata routes. */
export interface ProtectedResourceOptions {
  /** The server's public base URL (default: the origin of each request, whose Host the host guard checked). */
  publicUrl?: string;
  /** The authorization server (OIDC issuer) tokens come from, if one is configured. */
  issuer?: () => string | undefined;
  /** Whether /mcp is served. */
  mcp: boolean;
}

/** The public base URL a request reached. */
export function publicBase(c: RequestView, publicUrl?: string): string {
  return (publicUrl ?? new URL(c.req.url).origin).replace(/\/$/, '');
}

/** The metadata document of `resource` (the API's base URL, or its /mcp URL). */
export function protectedResourceMetadata(resource: string, issuer: string | undefined, name: string): Record<string, unknown> {
  return {
    resource,
    ...(issuer ? { authorization_servers: [issuer] } : {}),
    bearer_methods_supported: ['header'],
    resource_name: name,
    resource_documentation: 'https://github.com/aifactory/aifactory/blob/main/docs/serving.md',
  };
}

/** The challenge of a 401: where the metadata is, and whether the presented token was bad. */
export function bearerChallenge(c: RequestView, options: Pick<ProtectedResourceOptions, 'publicUrl'>, presented: boolean): string {
  const suffix = c.req.path === '/mcp' ? '/mcp' : '';
  const metadata = `${publicBase(c, options.publicUrl)}${protectedResourcePath}${suffix}`;
  return `Bearer realm="aifactory", resource_metadata="${metadata}"${presented ? ', error="invalid_token"' : ''}`;
}

/** Serves the metadata of the API (and of /mcp when it is served); public, like OpenID discovery. */
export function registerProtectedResourceRoutes<E extends Env>(app: Hono<E>, options: ProtectedResourceOptions): void {
  app.get(protectedResourcePath, (c) =>
    c.json(protectedResourceMetadata(publicBase(c, options.publicUrl), options.issuer?.(), 'aifactory API'), 200, {
      'cache-control': 'max-age=300',
    }),
  );
  if (options.mcp) {
    app.get(`${protectedResourcePath}/mcp`, (c) =>
      c.json(protectedResourceMetadata(`${publicBase(c, options.publicUrl)}/mcp`, options.issuer?.(), 'aifactory agents (MCP)'), 200, {
        'cache-control': 'max-age=300',
      }),
    );
  }
}
