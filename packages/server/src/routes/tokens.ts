// API tokens (admin): list, create (the secret is shown once), revoke (refused at once).
import { createRoute } from '@hono/zod-openapi';
import { createApiToken, listApiTokens, revokeApiToken } from '../api-tokens.ts';
import {
  authenticatedResponses,
  bearer,
  bodyResponses,
  createdToken,
  createTokenRequest,
  idParam,
  json,
  tokenInfo,
  tokenListResponse,
} from '../api-schemas.ts';
import type { ApiApp, RouteContext } from './context.ts';

const tags = ['tokens'];
const admin = { security: bearer, 'x-roles': ['admin'] };

/** The routes of this module, as the OpenAPI document describes them. */
export const tokenRoutes = {
  list: createRoute({
    method: 'get',
    path: '/v1/tokens',
    operationId: 'listTokens',
    tags,
    ...admin,
    summary: 'List API tokens (never their secrets)',
    responses: { 200: json(tokenListResponse, 'The tokens, oldest first.'), ...authenticatedResponses },
  }),
  create: createRoute({
    method: 'post',
    path: '/v1/tokens',
    operationId: 'createToken',
    tags,
    ...admin,
    summary: 'Create an API token',
    description: 'Its secret is in the answer, once.',
    request: { body: { required: true, content: { 'application/json': { schema: createTokenRequest } } } },
    responses: { 201: json(createdToken, 'The token and its secret.'), ...authenticatedResponses, ...bodyResponses },
  }),
  revoke: createRoute({
    method: 'post',
    path: '/v1/tokens/{id}/revoke',
    operationId: 'revokeToken',
    tags,
    ...admin,
    summary: 'Revoke a token',
    description: 'It is refused at once by this server (others within their token cache time).',
    request: { params: idParam },
    responses: { 200: json(tokenInfo, 'The revoked token.'), ...authenticatedResponses },
  }),
};

export function registerTokenRoutes(app: ApiApp, ctx: RouteContext, forgetToken: (tokenId: string) => void): void {
  const { store, log } = ctx;

  app.openapi(tokenRoutes.list, async (c) => {
    ctx.requireRole(c, ['admin']);
    return c.json({ tokens: await listApiTokens(store) }, 200);
  });

  app.openapi(tokenRoutes.create, async (c) => {
    const principal = ctx.requireRole(c, ['admin']);
    const request = c.req.valid('json');
    const created = await createApiToken(store, {
      principal: request.principal,
      roles: request.roles,
      ...(request.description ? { description: request.description } : {}),
      ...(request.expiresInMs ? { expiresInMs: request.expiresInMs } : {}),
    });
    log({ event: 'token.created', by: principal.id, token: created.id, principal: created.principal, roles: created.roles });
    return c.json(created, 201);
  });

  app.openapi(tokenRoutes.revoke, async (c) => {
    const principal = ctx.requireRole(c, ['admin']);
    const revoked = await revokeApiToken(store, c.req.param('id'));
    forgetToken(revoked.id);
    log({ event: 'token.revoked', by: principal.id, token: revoked.id });
    return c.json(revoked, 200);
  });
}
