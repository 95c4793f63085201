// The server itself: liveness, the OpenAPI document, who-am-I, Prometheus metrics, and MCP.
import { createRoute, z } from '@hono/zod-openapi';
import type { TokenPrincipal } from '../api-tokens.ts';
import { authenticatedResponses, bearer, everyRoleNames, forbiddenResponse, healthResponse, json, meResponse } from '../api-schemas.ts';

/** The host guard answers every route, open ones too, when the server names its hosts. */
const hostRefused = forbiddenResponse('A foreign Host or Origin (DNS-rebinding protection).');
import { notVisible, type ApiApp, type RouteContext } from './context.ts';

const tags = ['system'];

/** The routes of this module, as the OpenAPI document describes them. */
export const systemRoutes = {
  health: createRoute({
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    tags,
    security: [],
    summary: 'Liveness',
    description: '503 while the server shuts down.',
    responses: { 200: json(healthResponse, 'Alive.'), ...hostRefused, 503: json(healthResponse, 'Shutting down.') },
  }),
  openapi: createRoute({
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'getOpenApiDocument',
    tags,
    security: [],
    summary: 'This document',
    responses: {
      200: json(
        z.record(z.string(), z.unknown()).openapi({ description: 'An OpenAPI 3.1 document.' }),
        'The OpenAPI document of this server.',
      ),
      ...hostRefused,
    },
  }),
  me: createRoute({
    method: 'get',
    path: '/v1/me',
    operationId: 'getMe',
    tags,
    security: bearer,
    'x-roles': everyRoleNames,
    summary: 'The principal and roles of the presented token',
    responses: { 200: json(meResponse, 'Who you are to this server.'), ...authenticatedResponses },
  }),
  metrics: createRoute({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags,
    security: bearer,
    'x-roles': ['auditor', 'admin'],
    summary: 'Prometheus metrics',
    description: 'Prometheus text exposition format; without a token when the server runs with public metrics.',
    responses: {
      200: {
        description: 'The metrics.',
        content: { 'text/plain': { schema: z.string().openapi({ description: 'Prometheus text format 0.0.4.' }) } },
      },
      ...authenticatedResponses,
    },
  }),
  mcp: createRoute({
    method: 'post',
    path: '/mcp',
    operationId: 'mcp',
    tags,
    security: bearer,
    'x-roles': ['operator', 'admin'],
    summary: 'MCP Streamable HTTP',
    description:
      'Model Context Protocol over Streamable HTTP: each served agent is a tool. Answers JSON-RPC as JSON or as server-sent events.',
    responses: {
      200: {
        description: 'A JSON-RPC answer.',
        content: { 'application/json': { schema: z.record(z.string(), z.unknown()) }, 'text/event-stream': { schema: z.string() } },
      },
      ...authenticatedResponses,
    },
  }),
};

/** Liveness, the OpenAPI document, and /v1/me. */
export function registerSystemRoutes(app: ApiApp, ctx: RouteContext, info: { version: string; publicUrl?: string }): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token from `factory tokens create` (or an OIDC access token when the server trusts an issuer).',
  });

  app.openapi(systemRoutes.health, (c) => c.json({ ok: true, closing: ctx.closing.aborted }, ctx.closing.aborted ? 503 : 200));

  // The document is generated from every route's schemas, which are all registered before the
  // first request: built once per origin it names (the request's unless a public URL is set) and
  // served from that text, not regenerated on each request.
  const documents = new Map<string, string>();
  app.openapi(systemRoutes.openapi, (c) => {
    const origin = info.publicUrl ?? new URL(c.req.url).origin;
    let text = documents.get(origin);
    if (text === undefined) {
      text = JSON.stringify(openApiDocument(origin));
      // The Host header chose the origin (the host guard checked it when hosts are named); keep a few.
      if (documents.size >= 8) documents.delete(documents.keys().next().value!);
      documents.set(origin, text);
    }
    return c.body(text, 200, { 'content-type': 'application/json' }) as never;
  });

  function openApiDocument(origin: string) {
    return app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'aifactory API',
        version: info.version,
        description:
          'Governed agent runs, approvals, verification, policies and usage. Every route but /healthz and /v1/openapi.json needs a bearer token; a token whose roles do not reach a route or resource gets the 404 an absent one gets. Each operation lists the roles it admits in x-roles.',
        license: { name: 'Proprietary', url: 'https://aifactory.invalid/license' },
      },
      servers: [{ url: origin, description: 'This server.' }],
      security: [{ bearer: [] }],
      tags: [
        { name: 'runs', description: 'Start, list, follow, verify, explain, replay runs.' },
        { name: 'approvals', description: 'Held actions and the votes that decide them.' },
        { name: 'policies', description: 'The policies in force, validation, impact.' },
        { name: 'agents', description: 'What this server runs.' },
        { name: 'tokens', description: 'API tokens (admin).' },
        { name: 'usage', description: 'Cost and tokens by team, feature, agent and model.' },
        { name: 'system', description: 'Liveness, this document, identity, metrics, MCP.' },
        { name: 'console', description: 'What the console reads: the live approvals inbox, notification inboxes, policy sources, charts.' },
        { name: 'feedback', description: 'People\u2019s scores, comments and corrections on runs.' },
        {
          name: 'gateway',
          description:
            'The LLM gateway: OpenAI and Anthropic wire protocols, governed and recorded (served when the server runs a gateway).',
        },
      ],
    });
  }

  app.openapi(systemRoutes.me, (c) => {
    const principal = c.get('principal');
    return c.json({ principal: principal.id, roles: principal.roles, token: principal.tokenId }, 200);
  });
}

/** /metrics (auditor or admin, unless public). */
export function registerMetricsRoute(app: ApiApp, ctx: RouteContext, publicMetrics: boolean): void {
  const { metrics } = ctx;
  if (!metrics) return;
  app.openapi(publicMetrics ? { ...systemRoutes.metrics, security: [] } : systemRoutes.metrics, async (c) => {
    if (!publicMetrics) {
      const principal = await ctx.authenticate(c);
      if (!ctx.hasRole(principal, ['auditor', 'admin'])) {
        ctx.authDecided(principal.id, 'denied', { reason: 'role', token: principal.tokenId, path: '/metrics' });
        throw notVisible('route');
      }
    }
    // The registry names its own content type (text/plain; version=0.0.4): a plain Response.
    return new Response(await metrics.registry.metrics(), {
      status: 200,
      headers: { 'Content-Type': metrics.registry.contentType },
    }) as never;
  });
}

/** /mcp: MCP Streamable HTTP for operators and admins (GET and DELETE too, as the transport needs). */
export function registerMcpRoute(
  app: ApiApp,
  ctx: RouteContext,
  mcp: ((request: Request, principal: TokenPrincipal) => Promise<Response>) | undefined,
): void {
  if (!mcp) return;
  app.openAPIRegistry.registerPath(systemRoutes.mcp);
  app.all('/mcp', async (c) => {
    const principal = await ctx.authenticate(c);
    if (!ctx.hasRole(principal, ['operator', 'admin'])) {
      ctx.authDecided(principal.id, 'denied', { reason: 'role', token: principal.tokenId, path: '/mcp' });
      throw notVisible('route');
    }
    return mcp(c.req.raw, principal);
  });
}
