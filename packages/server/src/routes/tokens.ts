// API tokens (admin): list, create (the secret is shown once), revoke (refused at once).
import { createApiToken, listApiTokens, revokeApiToken } from '../api-tokens.ts';
import { createTokenRequest } from '../api-schemas.ts';
import type { ApiApp, RouteContext } from './context.ts';

export function registerTokenRoutes(app: ApiApp, ctx: RouteContext, forgetToken: (tokenId: string) => void): void {
  const { store, log } = ctx;

  app.get('/v1/tokens', async (c) => {
    ctx.requireRole(c, ['admin']);
    return c.json({ tokens: await listApiTokens(store) });
  });

  app.post('/v1/tokens', async (c) => {
    const principal = ctx.requireRole(c, ['admin']);
    const request = await ctx.readBody(c, createTokenRequest);
    const created = await createApiToken(store, {
      principal: request.principal,
      roles: request.roles,
      ...(request.description ? { description: request.description } : {}),
      ...(request.expiresInMs ? { expiresInMs: request.expiresInMs } : {}),
    });
    log({ event: 'token.created', by: principal.id, token: created.id, principal: created.principal, roles: created.roles });
    return c.json(created, 201);
  });

  app.post('/v1/tokens/:id/revoke', async (c) => {
    const principal = ctx.requireRole(c, ['admin']);
    const revoked = await revokeApiToken(store, c.req.param('id'));
    forgetToken(revoked.id);
    log({ event: 'token.revoked', by: principal.id, token: revoked.id });
    return c.json(revoked);
  });
}
