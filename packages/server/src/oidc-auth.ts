// Identity from the enterprise's own provider: OAuth 2 / OIDC access tokens that are JWTs,
// verified with jose against the issuer's JWKS (found through its discovery document unless
// given), for the configured issuer and audience, with the principal and roles read from
// configured claims. Anything unverifiable is refused, never passed through; the reason is kept
// for the log, never for the caller.
import { ErrorCode, UserError } from '@aifactory/core';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { TokenPrincipal } from './api-tokens.ts';

/** How the server trusts an OIDC issuer's access tokens. */
export interface OidcOptions {
  /** The issuer (`iss`), e.g. https://login.acme.example/realms/main. */
  issuer: string;
  /** Audiences (`aud`) a token must carry one of: this server's API / MCP resource identifiers. */
  audience: string[];
  /** The JWKS URL (default: `jwks_uri` of the issuer's /.well-known/openid-configuration). */
  jwksUri?: string;
  /** Claim holding the roles, a dot path such as `realm_access.roles` (default `roles`); an array or a space-separated string. */
  rolesClaim?: string;
  /** Claim naming the principal (default `sub`). */
  principalClaim?: string;
  /** Accepted signing algorithms (default RS256, ES256, EdDSA, PS256). */
  algorithms?: string[];
  /** Clock tolerance in seconds for exp/nbf (default 30). */
  clockToleranceSeconds?: number;
  /**
   * The console's client id at the issuer: a public client (no secret) allowed the authorization
   * code grant with PKCE and the redirect URI `<server>/sign-in/callback`. Absent: the console
   * takes pasted tokens only.
   */
  consoleClientId?: string;
  /** Scopes the console asks for (default `openid`), space-separated. */
  consoleScope?: string;
}

/** What verifying a presented JWT gave. */
export type JwtOutcome = { kind: 'verified'; principal: TokenPrincipal } | { kind: 'refused'; reason: string };

const rolePattern = /^[a-z][a-z0-9_.-]{0,63}$/;

/** Reads OIDC settings from the environment (AIFACTORY_OIDC_*); undefined when no issuer is set. */
export function oidcOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OidcOptions | undefined {
  const issuer = env.AIFACTORY_OIDC_ISSUER?.trim();
  if (!issuer) return undefined;
  const audience = (env.AIFACTORY_OIDC_AUDIENCE ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  return {
    issuer,
    audience,
    ...(env.AIFACTORY_OIDC_JWKS_URI ? { jwksUri: env.AIFACTORY_OIDC_JWKS_URI } : {}),
    ...(env.AIFACTORY_OIDC_ROLES_CLAIM ? { rolesClaim: env.AIFACTORY_OIDC_ROLES_CLAIM } : {}),
    ...(env.AIFACTORY_OIDC_PRINCIPAL_CLAIM ? { principalClaim: env.AIFACTORY_OIDC_PRINCIPAL_CLAIM } : {}),
    ...(env.AIFACTORY_OIDC_CONSOLE_CLIENT_ID ? { consoleClientId: env.AIFACTORY_OIDC_CONSOLE_CLIENT_ID } : {}),
    ...(env.AIFACTORY_OIDC_CONSOLE_SCOPE ? { consoleScope: env.AIFACTORY_OIDC_CONSOLE_SCOPE } : {}),
  };
}

/** Checks OIDC settings before the server starts: an issuer URL and at least one audience. */
export function validateOidcOptions(options: OidcOptions): OidcOptions {
  if (!isHttpUrl(options.issuer))
    throw new UserError(ErrorCode.InputInvalid, `OIDC issuer '${options.issuer}' is not an http(s) URL.`, {
      location: { path: '--oidc-issuer' },
    });
  if (options.audience.length === 0) {
    // Without an audience check a token the provider issued for any other API would be accepted here.
    throw new UserError(
      ErrorCode.InputInvalid,
      'An OIDC issuer needs an audience: give --oidc-audience (or AIFACTORY_OIDC_AUDIENCE) with the identifier tokens for this server carry in `aud`.',
      { location: { path: '--oidc-audience' } },
    );
  }
  if (options.jwksUri !== undefined && !isHttpUrl(options.jwksUri))
    throw new UserError(ErrorCode.InputInvalid, `JWKS URL '${options.jwksUri}' is not an http(s) URL.`, {
      location: { path: '--oidc-jwks-uri' },
    });
  if (options.consoleClientId !== undefined && !/^[\x21-\x7e]{1,200}$/.test(options.consoleClientId))
    throw new UserError(ErrorCode.InputInvalid, `Console client id '${options.consoleClientId}' is not a printable OAuth client id.`, {
      location: { path: '--oidc-console-client-id' },
    });
  return options;
}

/** Whether `token` looks like a compact JWS (three base64url parts), so is worth verifying as a JWT. */
export function isJwtShaped(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) && token.length < 16_384;
}

/** Verifies access tokens of one issuer. */
export class OidcVerifier {
  readonly options: OidcOptions;
  #jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  #discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  constructor(options: OidcOptions) {
    this.options = validateOidcOptions(options);
  }

  /** Verifies `token`: signature against the issuer's keys, `iss`, `aud`, `exp`/`nbf`, then the principal and roles claims. */
  async verify(token: string): Promise<JwtOutcome> {
    let payload: JWTPayload;
    try {
      const jwks = await this.#keys();
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: this.options.algorithms ?? ['RS256', 'ES256', 'EdDSA', 'PS256'],
        clockTolerance: this.options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      return { kind: 'refused', reason: refusalReason(error) };
    }
    const principalClaim = this.options.principalClaim ?? 'sub';
    const id = claimAt(payload, principalClaim);
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) return { kind: 'refused', reason: `claim_${principalClaim}_missing` };
    const roles = rolesOf(claimAt(payload, this.options.rolesClaim ?? 'roles'));
    const tokenId = `jwt:${typeof payload.jti === 'string' ? payload.jti.slice(0, 64) : id}`;
    return { kind: 'verified', principal: { tokenId, id, roles, expiresAt: new Date((payload.exp as number) * 1000) } };
  }

  /** The issuer's key set, discovered once (a failed discovery is retried on the next request). */
  async #keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (this.#jwks) return this.#jwks;
    this.#discovering ??= (async () => {
      const jwksUri = this.options.jwksUri ?? (await discoverJwksUri(this.options.issuer));
      this.#jwks = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      return this.#jwks;
    })();
    try {
      return await this.#discovering;
    } catch (error) {
      this.#discovering = undefined;
      throw error;
    }
  }
}

/** The `jwks_uri` of an issuer's OpenID discovery document. */
async function discoverJwksUri(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`discovery ${url} answered ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (document.issuer !== issuer) throw new Error(`discovery ${url} names issuer ${String(document.issuer)}, not ${issuer}`);
  if (typeof document.jwks_uri !== 'string' || !isHttpUrl(document.jwks_uri)) throw new Error(`discovery ${url} has no jwks_uri`);
  return document.jwks_uri;
}

/** A claim by dot path, by own properties only (the token is the caller's). */
function claimAt(payload: JWTPayload, claimPath: string): unknown {
  let value: unknown = payload;
  for (const segment of claimPath.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** Roles from a claim value: an array of names or a space-separated string; anything not a role name is dropped. */
function rolesOf(value: unknown): string[] {
  const names = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/\s+/) : [];
  return [...new Set(names.filter((name): name is string => typeof name === 'string' && rolePattern.test(name)))];
}

function refusalReason(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'jwt_expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `jwt_claim_${error.claim}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'jwt_signature';
  if (error instanceof errors.JWKSNoMatchingKey) return 'jwt_unknown_key';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'jwt_algorithm';
  if (error instanceof errors.JOSEError) return `jwt_${error.code}`;
  // Not a verdict on the token: the key set could not be had (discovery or JWKS unreachable).
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message.slice(0, 200)})` : '';
  return `jwks_unavailable: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}${cause}`;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
