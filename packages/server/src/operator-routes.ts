// Routes the CLI needs to work through a running server the way it works on the store: rotate a
// token, and verify every run and the seal chain (the notification inboxes are routes/console.ts).
import { verifyAll } from '@aifactory/verification';
import { createRoute, z } from '@hono/zod-openapi';
import { rotateApiToken } from './api-tokens.ts';
import { authenticatedResponses, bearer, bodyResponses, idParam, json, rotatedTokenResponse, verifyAllResponse } from './api-schemas.ts';
import type { ApiApp, RouteContext } from './routes/context.ts';

/** POST /v1/tokens/:id/rotate. */
export const rotateTokenRequest = z
  .strictObject({
    expiresInMs: z
      .number()
      .int()
      .positive()
      .nullable()
      .optional()
      .describe("Lifetime of the new token in milliseconds; null: never expires; absent: the old token's lifetime."),
    graceMs: z.number().int().min(0).optional().describe('Keep the old token working this long (default 0: revoked at once).'),
  })
  .openapi('RotateToken', { description: 'Rotate a token: a new secret with the same principal and roles.' });

/** The routes of this module, as the OpenAPI document describes them. */
export const operatorRoutes = {
  rotateToken: createRoute({
    method: 'post',
    path: '/v1/tokens/{id}/rotate',
    operationId: 'rotateToken',
    tags: ['tokens'],
    security: bearer,
    'x-roles': ['admin'],
    summary: 'Rotate a live token',
    description: 'A new secret with the same principal and roles; the old token is revoked at once, or expires after the grace period.',
    request: { params: idParam, body: { required: true, content: { 'application/json': { schema: rotateTokenRequest } } } },
    responses: {
      201: json(rotatedTokenResponse, 'The new token (its secret shown once) and the old one.'),
      ...authenticatedResponses,
      ...bodyResponses,
    },
  }),
  verifyAll: createRoute({
    method: 'post',
    path: '/v1/runs/verify',
    operationId: 'verifyAllRuns',
    tags: ['runs'],
    security: bearer,
    'x-roles': ['auditor', 'admin'],
    summary: 'Verify every run and the seal chain',
    description: 'Against this server\u2019s seal key, as `factory runs verify --all` does on the store.',
    responses: { 200: json(verifyAllResponse, 'The summary of every run\u2019s verification.'), ...authenticatedResponses },
  }),
};

/** Mounts the routes on `app`; `forgetToken` drops a token the server may have cached (revoked by a rotation). */
export function registerOperatorRoutes(app: ApiApp, ctx: RouteContext, forgetToken: (tokenId: string) => void): void {
  const { store, log } = ctx;

  app.openapi(operatorRoutes.rotateToken, async (c) => {
    const principal = ctx.requireRole(c, ['admin']);
    const request = c.req.valid('json');
    const rotated = await rotateApiToken(store, c.req.valid('param').id, {
      ...(request.graceMs === undefined ? {} : { graceMs: request.graceMs }),
      ...(request.expiresInMs === undefined ? {} : { expiresInMs: request.expiresInMs }),
    });
    forgetToken(rotated.previous.id);
    log({ event: 'token.rotated', by: principal.id, token: rotated.previous.id, replacement: rotated.created.id });
    return c.json(rotated, 201);
  });

  app.openapi(operatorRoutes.verifyAll, async (c) => {
    ctx.requireRole(c, ['auditor', 'admin']);
    const summary = await verifyAll(store, { signers: [ctx.workspace.signer] });
    return c.json({ summary, location: 'server' as const }, 200);
  });
}
