// Who a request is and what it may see: the bearer token (an API token, an OIDC access token or
// the server's local credential), the failed-authentication and per-token rate limits, roles, and
// runs visible only to their principal or a run reader (404 alike for absent and hidden).
import { timingSafeEqual } from 'node:crypto';
import { ErrorCode, sha256Hex } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import type { Workspace } from '@aifactory/workspace';
import { findRun } from '@aifactory/verification/internal';
import type { Context } from 'hono';
import { touchApiToken, type ServerRole, type TokenPrincipal } from './api-tokens.ts';
import type { HttpAppOptions } from './http-app.ts';
import { bearerChallenge } from './protected-resource.ts';
import type { RateLimiter } from './rate-limit.ts';
import { clientAddress, RequestAuthenticator } from './request-auth.ts';
import { HttpProblem, notVisible, runReaders, type RouteContext } from './routes/context.ts';
import type { RequestView } from './request-view.ts';
import type { ServerLog } from './server-log.ts';

/** Authentication, roles and run visibility for the routes (shared through RouteContext). */
export class HttpAuth {
  readonly #store: Store;
  readonly #options: HttpAppOptions;
  readonly #authenticator: RequestAuthenticator;
  readonly #limiter: RateLimiter;
  readonly #authDecided: RouteContext['authDecided'];
  readonly #log: ServerLog;
  readonly #lastTouched = new Map<string, number>();

  constructor(deps: {
    store: Store;
    options: HttpAppOptions;
    authenticator: RequestAuthenticator;
    limiter: RateLimiter;
    authDecided: RouteContext['authDecided'];
    log: ServerLog;
  }) {
    this.#store = deps.store;
    this.#options = deps.options;
    this.#authenticator = deps.authenticator;
    this.#limiter = deps.limiter;
    this.#authDecided = deps.authDecided;
    this.#log = deps.log;
  }

  readonly authenticate = async (
    c: RequestView,
    presented = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1],
  ): Promise<TokenPrincipal> => {
    const now = Date.now();
    const actAs = c.req.header(actAsHeaders.principal);
    if (presented && this.#options.localToken && sameSecret(presented, this.#options.localToken)) {
      const roles = (c.req.header(actAsHeaders.roles) ?? '')
        .split(',')
        .map((role) => role.trim())
        .filter(Boolean);
      return actAs
        ? { tokenId: 'local', id: actAs, roles, local: true }
        : { tokenId: 'local', id: 'local-admin', roles: ['admin'], local: true };
    }
    if (actAs !== undefined) {
      // Over the network a request acts as its token's principal, never as a name it sends.
      this.#authDecided('anonymous', 'denied', { reason: 'act_as', method: c.req.method, path: c.req.path });
      throw new HttpProblem(
        403,
        ErrorCode.Forbidden,
        `The ${actAsHeaders.principal} header is honoured only for the server's local credential; requests act as their token's principal.`,
      );
    }
    const outcome = await this.#authenticator.authenticate(presented, () => clientAddress(c, this.#options.trustProxy), now);
    if (outcome.kind === 'limited') {
      this.#authDecided('anonymous', 'denied', { reason: 'failed_auth_limited', method: c.req.method, path: c.req.path });
      c.header('Retry-After', String(outcome.retryAfterSeconds));
      throw new HttpProblem(
        429,
        'RATE_LIMITED',
        `Too many failed authentications from this address; retry after ${outcome.retryAfterSeconds} s.`,
      );
    }
    if (outcome.kind === 'refused') {
      this.#authDecided('anonymous', 'denied', { reason: outcome.reason, method: c.req.method, path: c.req.path });
      c.header(
        'WWW-Authenticate',
        bearerChallenge(c, this.#options.publicUrl ? { publicUrl: this.#options.publicUrl } : {}, outcome.presented),
      );
      throw new HttpProblem(
        401,
        'UNAUTHENTICATED',
        `A valid bearer token is required (Authorization: Bearer <token>; see \`factory tokens create\`${this.#authenticator.issuer ? ` or an access token from ${this.#authenticator.issuer}` : ''}).`,
      );
    }
    const { principal } = outcome;
    const rate = this.#limiter.take(principal.tokenId, now);
    if (rate.kind === 'limited') {
      this.#authDecided(principal.id, 'denied', { reason: 'rate_limited', token: principal.tokenId, path: c.req.path });
      c.header('Retry-After', String(rate.retryAfterSeconds));
      throw new HttpProblem(
        429,
        'RATE_LIMITED',
        `Too many requests for token ${principal.tokenId}; retry after ${rate.retryAfterSeconds} s.`,
      );
    }
    if (outcome.via === 'api_token' && (this.#lastTouched.get(principal.tokenId) ?? 0) < now - 60_000) {
      this.#lastTouched.set(principal.tokenId, now);
      touchApiToken(this.#store, principal.tokenId).catch((error: Error) =>
        this.#log({ event: 'token.touch_failed', token: principal.tokenId, error: error.message }),
      );
    }
    return principal;
  };

  // The local credential is the home's owner: a local administrator, admitted everywhere.
  readonly hasRole = (principal: TokenPrincipal, roles: readonly string[]) =>
    principal.local === true || principal.roles.some((role) => roles.includes(role));

  /** Admits a principal with one of `roles`, else answers as if nothing were there. */
  readonly requireRole = (c: Context, roles: readonly ServerRole[], what = 'route'): TokenPrincipal =>
    this.admit(c.get('principal') as TokenPrincipal, roles, { method: c.req.method, route: c.req.routePath }, what);

  /** requireRole for a request Hono did not route (the run start's route in front of Hono): its method and route template. */
  readonly admit = (
    principal: TokenPrincipal,
    roles: readonly ServerRole[],
    request: { method: string; route: string },
    what = 'route',
  ): TokenPrincipal => {
    if (!this.hasRole(principal, roles)) {
      this.#authDecided(principal.id, 'denied', {
        reason: 'role',
        token: principal.tokenId,
        method: request.method,
        path: request.route,
        needs: roles,
      });
      throw notVisible(what);
    }
    return principal;
  };

  /** The run row if `principal` may see it; 404 otherwise, alike for absent and hidden runs. */
  readonly visibleRun = async (principal: TokenPrincipal, runId: string) => {
    const row = await findRun(this.#store, runId);
    const visible = row && (this.hasRole(principal, runReaders) || row.principal === principal.id);
    if (!visible) {
      this.#authDecided(principal.id, 'denied', { reason: row ? 'not_owner' : 'absent', token: principal.tokenId, runId });
      throw notVisible(`run '${runId}'`);
    }
    return row;
  };
}

/** The token, OIDC and failed-authentication checks of `options`, over the store's API tokens. */
export function requestAuthenticator(store: Store, options: HttpAppOptions): RequestAuthenticator {
  return new RequestAuthenticator({
    store,
    ...(options.tokenCacheMs === undefined ? {} : { cacheMs: options.tokenCacheMs }),
    ...(options.oidc ? { oidc: options.oidc } : {}),
    ...(options.failedAuthLimit ? { failedAuthLimit: options.failedAuthLimit } : {}),
  });
}

/** Records an auth decision in a held run's trace (nothing else writes to it while it waits). */
export function heldRunRecorder(workspace: Workspace, log: ServerLog): RouteContext['recordAgainstHeldRun'] {
  return async (runId: string, payload: Record<string, unknown>) => {
    try {
      const row = await findRun(workspace.store, runId);
      if (row?.status === 'held') await workspace.recorder.record(runId, { type: 'auth.decided', actor: 'server', payload });
    } catch (error) {
      log({ event: 'auth.record_failed', runId, error: (error as Error).message });
    }
  };
}

/** Headers through which the local credential names the principal it acts for. */
export const actAsHeaders = { principal: 'x-aifactory-as', roles: 'x-aifactory-roles' } as const;

/** Compares two secrets in constant time (by their digests, so lengths leak nothing either). */
function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(Buffer.from(sha256Hex(presented), 'hex'), Buffer.from(sha256Hex(expected), 'hex'));
}
