// Who a request is: our own API tokens (`aif_…`, looked up by hash) or, when an issuer is
// configured, the enterprise's OIDC access tokens (JWTs). Both are cached briefly by the token's
// sha256 (never beyond their expiry), so a busy client costs one hash and a map lookup. Failed
// attempts are counted per client address; an address past its allowance is refused before its
// token is looked at.
import { getConnInfo } from '@hono/node-server/conninfo';
import { sha256Hex } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import type { Context } from 'hono';
import { authenticateApiToken, isApiTokenShaped, type TokenPrincipal } from './api-tokens.ts';
import { FailedAuthLimiter, type FailedAuthLimitOptions } from './failed-auth-limit.ts';
import { isJwtShaped, OidcVerifier, type OidcOptions } from './oidc-auth.ts';
import type { RequestView } from './request-view.ts';

/** What authenticating a request gave. */
export type AuthOutcome =
  | { kind: 'authenticated'; principal: TokenPrincipal; via: 'api_token' | 'oidc' }
  | { kind: 'refused'; reason: string; presented: boolean }
  | { kind: 'limited'; retryAfterSeconds: number };

/** Options of RequestAuthenticator. */
export interface RequestAuthOptions {
  store: Store;
  /** How long a verified token is remembered (ms, default 2000; never past its expiry). */
  cacheMs?: number;
  /** Accept OIDC access tokens of this issuer. */
  oidc?: OidcOptions;
  /** Failed authentications allowed per client address. */
  failedAuthLimit?: FailedAuthLimitOptions;
}

/** What looking a token up found: its principal, or the reason it was refused. */
interface TokenLookup {
  principal?: TokenPrincipal;
  via: 'api_token' | 'oidc';
  reason: string;
}

/** Authenticates bearer tokens of either kind, with a short cache and the failed-attempt limit. */
export class RequestAuthenticator {
  readonly #store: Store;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, { principal: TokenPrincipal; via: 'api_token' | 'oidc'; until: number }>();
  /** Look-ups in flight, by the token's sha256. */
  readonly #lookups = new Map<string, Promise<TokenLookup>>();
  readonly #oidc: OidcVerifier | undefined;
  readonly #failures: FailedAuthLimiter;

  constructor(options: RequestAuthOptions) {
    this.#store = options.store;
    this.#cacheMs = options.cacheMs ?? 2000;
    this.#oidc = options.oidc ? new OidcVerifier(options.oidc) : undefined;
    this.#failures = new FailedAuthLimiter(options.failedAuthLimit);
  }

  /** The OIDC issuer whose tokens are accepted, if any. */
  get issuer(): string | undefined {
    return this.#oidc?.options.issuer;
  }

  /**
   * Authenticates `presented` (the bearer token, if any) for a request from `address`. The address
   * may be given as a function, called only when it is needed (a failure to count, or an address
   * being refused): reading a socket's peer is a system call (getpeername), 2% of the API server's
   * CPU per start in a burst of streaming starts, for a figure a valid token never needs while no
   * address is refused.
   */
  async authenticate(presented: string | undefined, address: string | (() => string), now = Date.now()): Promise<AuthOutcome> {
    let known: string | undefined;
    const addressOf = () => (known ??= typeof address === 'string' ? address : address());
    if (this.#failures.refusing) {
      const gate = this.#failures.check(addressOf(), now);
      if (gate.kind === 'limited') return gate;
    }
    if (!presented) return this.#refuse(addressOf(), 'no_token', false, now);
    const key = sha256Hex(presented);
    const cached = this.#cache.get(key);
    if (cached && cached.until > now) return { kind: 'authenticated', principal: cached.principal, via: cached.via };
    this.#cache.delete(key);
    // Requests that present one token at once share one look-up: a burst of a client's requests
    // (200 streaming runs started together) costs one query, not one each.
    let lookup = this.#lookups.get(key);
    if (!lookup) {
      const started: Promise<TokenLookup> = this.#lookup(presented, now).finally(() => {
        if (this.#lookups.get(key) === started) this.#lookups.delete(key);
      });
      this.#lookups.set(key, started);
      lookup = started;
    }
    const { principal, via, reason } = await lookup;
    if (!principal) return this.#refuse(addressOf(), reason, true, now);
    if (this.#cache.size > 10_000) this.#prune(now);
    this.#cache.set(key, { principal, via, until: Math.min(now + this.#cacheMs, principal.expiresAt?.getTime() ?? Infinity) });
    return { kind: 'authenticated', principal, via };
  }

  /** Looks a token up in the store, or verifies it with the OIDC issuer. */
  async #lookup(presented: string, now: number): Promise<TokenLookup> {
    if (isApiTokenShaped(presented)) {
      const principal = await authenticateApiToken(this.#store, presented, new Date(now));
      return { ...(principal ? { principal } : {}), via: 'api_token', reason: 'unknown_token' };
    }
    if (this.#oidc && isJwtShaped(presented)) {
      const outcome = await this.#oidc.verify(presented);
      return outcome.kind === 'verified'
        ? { principal: outcome.principal, via: 'oidc', reason: '' }
        : { via: 'oidc', reason: outcome.reason };
    }
    return { via: 'api_token', reason: 'unknown_token' };
  }

  /** Forgets a revoked token at once. */
  forget(tokenId: string): void {
    // A look-up in flight may have read the token before it was revoked: requests from now on start their own.
    this.#lookups.clear();
    for (const [key, entry] of this.#cache) if (entry.principal.tokenId === tokenId) this.#cache.delete(key);
  }

  #refuse(address: string, reason: string, presented: boolean, now: number): AuthOutcome {
    // The attempt that uses up the allowance is still answered 401; the ones after it get 429.
    this.#failures.fail(address, now);
    return { kind: 'refused', reason, presented };
  }

  #prune(now: number): void {
    for (const [key, entry] of this.#cache) if (entry.until <= now) this.#cache.delete(key);
  }
}

/**
 * The client's address: the socket's peer, or with `trustProxy` the nearest X-Forwarded-For hop
 * (set it only behind a proxy that writes that header). In-process requests have no socket.
 */
export function clientAddress(c: RequestView, trustProxy = false): string {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-for');
    const hops = forwarded
      ?.split(',')
      .map((hop) => hop.trim())
      .filter(Boolean);
    const nearest = hops?.[hops.length - 1];
    if (nearest) return nearest;
  }
  try {
    // getConnInfo reads only the bindings (c.env), which every view carries as Hono's Context does.
    return getConnInfo(c as Context).remote.address ?? 'unknown';
  } catch {
    return 'in-process';
  }
}
