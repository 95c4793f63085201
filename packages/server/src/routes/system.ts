// The server itself: liveness, the OpenAPI document, who-am-I, Prometheus metrics, and MCP.
import type { TokenPrincipal } from '../api-tokens.ts';
import { openApiDocument, type RouteDoc } from '../api-schemas.ts';
import { notVisible, type ApiApp, type RouteContext } from './context.ts';

/** Liveness, the OpenAPI document of `routes`, and /v1/me. */
export function registerSystemRoutes(app: ApiApp, ctx: RouteContext, routes: readonly RouteDoc[]): void {
  app.get('/healthz', (c) => c.json({ ok: true, closing: ctx.closing.aborted }, ctx.closing.aborted ? 503 : 200));
  app.get('/v1/openapi.json', (c) => c.json(openApiDocument(routes, { version: '0.1.0' })));

  app.get('/v1/me', (c) => {
    const principal = c.get('principal');
    return c.json({ principal: principal.id, roles: principal.roles, token: principal.tokenId });
  });
}

/** /metrics (auditor or admin, unless public). */
export function registerMetricsRoute(app: ApiApp, ctx: RouteContext, publicMetrics: boolean): void {
  const { metrics } = ctx;
  if (!metrics) return;
  app.get('/metrics', async (c) => {
    if (!publicMetrics) {
      const principal = await ctx.authenticate(c);
      if (!ctx.hasRole(principal, ['auditor', 'admin'])) {
        ctx.authDecided(principal.id, 'denied', { reason: 'role', token: principal.tokenId, path: '/metrics' });
        throw notVisible('route');
      }
    }
    return c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType });
  });
}

/** /mcp: MCP Streamable HTTP for operators and admins. */
export function registerMcpRoute(app: ApiApp, ctx: RouteContext, mcp: ((request: Request, principal: TokenPrincipal) => Promise<Response>) | undefined): void {
  if (!mcp) return;
  app.all('/mcp', async (c) => {
    const principal = await ctx.authenticate(c);
    if (!ctx.hasRole(principal, ['operator', 'admin'])) {
      ctx.authDecided(principal.id, 'denied', { reason: 'role', token: principal.tokenId, path: '/mcp' });
      throw notVisible('route');
    }
    return mcp(c.req.raw, principal);
  });
}
