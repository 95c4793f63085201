// API tokens: random bearer secrets shown once, stored only as their sha256, each bound to a
// principal and its roles. A lookup hashes the presented token and finds the row by that hash,
// so the secret itself is never stored, logged or compared.
import { randomBytes } from 'node:crypto';
import { ErrorCode, UserError, sha256Hex } from '@aifactory/core';
import { apiTokens, type Store } from '@aifactory/store';
import { and, asc, eq, isNull } from 'drizzle-orm';

/** Roles the server itself grants access by; tokens may carry more (policy approver roles). */
export const serverRoles = ['operator', 'approver', 'auditor', 'risk_officer', 'admin'] as const;

/** A role the server checks. */
export type ServerRole = (typeof serverRoles)[number];

/** Who a request acts for, once its token is known. */
export interface TokenPrincipal {
  /** The token's id (never the secret). */
  tokenId: string;
  /** The principal id the token is bound to, e.g. alice@acme.example. */
  id: string;
  /** Server roles plus any policy roles (ops-lead, finance-manager). */
  roles: string[];
}

/** A token as listed: no secret, no hash. */
export interface ApiTokenInfo {
  id: string;
  principal: string;
  roles: string[];
  description: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A newly created token; `token` is shown this once and cannot be recovered. */
export interface CreatedApiToken extends ApiTokenInfo {
  token: string;
}

const rolePattern = /^[a-z][a-z0-9_.-]{0,63}$/;
const tokenPattern = /^aif_[A-Za-z0-9_-]{20,200}$/;

/** Creates a token for `principal` with `roles`; validates both before writing anything. */
export async function createApiToken(store: Store, input: { principal: string; roles: string[]; description?: string; now?: Date }): Promise<CreatedApiToken> {
  const principal = input.principal.trim();
  if (principal.length === 0 || principal.length > 200) {
    throw new UserError(ErrorCode.InputInvalid, `Principal '${input.principal}' is not valid; give an id of 1 to 200 characters such as alice@acme.example.`, { location: { path: 'principal' } });
  }
  if (input.roles.length === 0) {
    throw new UserError(ErrorCode.InputInvalid, `A token needs at least one role; server roles are ${serverRoles.join(', ')}.`, { location: { path: 'roles' } });
  }
  for (const role of input.roles) {
    if (!rolePattern.test(role)) {
      throw new UserError(ErrorCode.InputInvalid, `Role '${role}' is not valid; use lower-case names such as ${serverRoles.join(', ')} or a policy role like ops-lead.`, { location: { path: 'roles' } });
    }
  }
  const id = `tok_${randomBytes(6).toString('hex')}`;
  const token = `aif_${randomBytes(32).toString('base64url')}`;
  const createdAt = input.now ?? new Date();
  const roles = [...new Set(input.roles)];
  await store.db.insert(apiTokens).values({ id, tokenHash: sha256Hex(token), principal, roles, description: input.description ?? null, createdAt });
  return { id, token, principal, roles, description: input.description ?? null, createdAt, lastUsedAt: null, revokedAt: null };
}

/** Every token, oldest first, revoked ones included (marked). */
export async function listApiTokens(store: Store): Promise<ApiTokenInfo[]> {
  const rows = await store.db.select().from(apiTokens).orderBy(asc(apiTokens.createdAt), asc(apiTokens.id));
  return rows.map((row) => ({
    id: row.id,
    principal: row.principal,
    roles: row.roles as string[],
    description: row.description,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  }));
}

/** Revokes a token by id; NOT_FOUND when no live token has that id. */
export async function revokeApiToken(store: Store, id: string, now = new Date()): Promise<ApiTokenInfo> {
  const [row] = await store.db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning();
  if (!row) throw new UserError(ErrorCode.NotFound, `No live token has id '${id}'; see \`factory tokens list\`.`, { location: { path: 'id' } });
  return { id: row.id, principal: row.principal, roles: row.roles as string[], description: row.description, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt, revokedAt: row.revokedAt };
}

/** The principal a presented token stands for, or undefined (unknown, malformed or revoked). */
export async function authenticateApiToken(store: Store, token: string): Promise<TokenPrincipal | undefined> {
  if (!tokenPattern.test(token)) return undefined;
  const [row] = await store.db
    .select({ id: apiTokens.id, principal: apiTokens.principal, roles: apiTokens.roles, revokedAt: apiTokens.revokedAt })
    .from(apiTokens)
    .where(eq(apiTokens.tokenHash, sha256Hex(token)));
  if (!row || row.revokedAt) return undefined;
  return { tokenId: row.id, id: row.principal, roles: row.roles as string[] };
}

/** Notes that a token was used (best effort; callers throttle it). */
export async function touchApiToken(store: Store, id: string, now = new Date()): Promise<void> {
  await store.db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id));
}
