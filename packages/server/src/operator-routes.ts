// Routes the CLI needs to work through a running server the way it works on the store: rotate a
// token, and verify every run and the seal chain (the notification inboxes are routes/console.ts).
// Mounted by http-app.ts with the app's own role check and body parser.
import type { Store } from '@aifactory/store';
import { verifyAll, type SealSigner } from '@aifactory/verification';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { rotateApiToken, type ServerRole, type TokenPrincipal } from './api-tokens.ts';
import type { RouteDoc } from './api-schemas.ts';
import type { ServerLog } from './server-log.ts';

/** POST /v1/tokens/:id/rotate. */
export const rotateTokenRequest = z
  .strictObject({
    expiresInMs: z.number().int().positive().nullable().optional().describe("Lifetime of the new token in milliseconds; null: never expires; absent: the old token's lifetime."),
    graceMs: z.number().int().min(0).optional().describe('Keep the old token working this long (default 0: revoked at once).'),
  })
  .describe('Rotate a token: a new secret with the same principal and roles.');

/** The routes of this module, for the OpenAPI document. */
export const operatorRouteDocs: readonly RouteDoc[] = [
  { method: 'post', path: '/v1/tokens/:id/rotate', summary: 'Rotate a live token: a new secret, same principal and roles; the old one is revoked (or after a grace).', roles: ['admin'], body: rotateTokenRequest },
  { method: 'post', path: '/v1/runs/verify', summary: 'Verify every run and the seal chain against this server\'s seal key.', roles: ['auditor', 'admin'] },
];

/** What the routes take from the app. */
export interface OperatorRouteDependencies {
  store: Store;
  signer: SealSigner;
  requireRole(c: Context, roles: readonly ServerRole[], what?: string): TokenPrincipal;
  readBody<T>(c: Context, schema: z.ZodType<T>): Promise<T>;
  /** Forgets a token the server may have cached (revoked by a rotation). */
  forgetToken(tokenId: string): void;
  log: ServerLog;
}

/** Mounts the routes on `app`. */
export function registerOperatorRoutes(app: Hono<{ Variables: { principal: TokenPrincipal } }>, deps: OperatorRouteDependencies): void {
  const { store } = deps;

  app.post('/v1/tokens/:id/rotate', async (c) => {
    const principal = deps.requireRole(c, ['admin']);
    const request = await deps.readBody(c, rotateTokenRequest);
    const rotated = await rotateApiToken(store, c.req.param('id'), {
      ...(request.graceMs === undefined ? {} : { graceMs: request.graceMs }),
      ...(request.expiresInMs === undefined ? {} : { expiresInMs: request.expiresInMs }),
    });
    deps.forgetToken(rotated.previous.id);
    deps.log({ event: 'token.rotated', by: principal.id, token: rotated.previous.id, replacement: rotated.created.id });
    return c.json(rotated, 201);
  });

  app.post('/v1/runs/verify', async (c) => {
    deps.requireRole(c, ['auditor', 'admin']);
    const summary = await verifyAll(store, { signers: [deps.signer] });
    return c.json({ summary, location: 'server' });
  });
}
