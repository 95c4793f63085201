// API tokens: random bearer secrets shown once, stored only as their sha256, each bound to a
// principal and its roles. A lookup hashes the presented token and finds the row by that hash,
// so the secret itself is never stored, logged or compared. A token may expire; rotation issues a
// successor with the same principal and roles and ends the old one (at once or after a grace period).
import { randomBytes } from 'node:crypto';
import { durationMilliseconds } from '@aifactory/control';
import { ErrorCode, UserError, sha256Hex, type Principal } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import {
  insertApiToken,
  revokeApiTokenRow,
  selectApiToken,
  selectApiTokenByHash,
  selectApiTokens,
  updateApiTokenEnd,
  updateApiTokenLastUsed,
  type ApiTokenRow,
} from './token-rows.ts';

/** Roles the server itself grants access by; tokens may carry more (policy approver roles). */
export const serverRoles = ['operator', 'approver', 'auditor', 'risk_officer', 'admin'] as const;

/** A role the server checks. */
export type ServerRole = (typeof serverRoles)[number];

/** Who a request acts for, once its token is known. */
export interface TokenPrincipal extends Principal {
  /** The token's id (never the secret). */
  tokenId: string;
  /** When the credential stops being accepted (absent: never). */
  expiresAt?: Date;
  /** The server's local credential (the home's owner, a local administrator): every route admits it, and it may act as another principal. */
  local?: true;
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
  /** After this instant the token is refused; null never expires. */
  expiresAt: Date | null;
  /** The token this one replaced (`factory tokens rotate`). */
  rotatedFrom: string | null;
}

/** A newly created token; `token` is shown this once and cannot be recovered. */
export interface CreatedApiToken extends ApiTokenInfo {
  token: string;
}

const rolePattern = /^[a-z][a-z0-9_.-]{0,63}$/;
const tokenPattern = /^aif_[A-Za-z0-9_-]{20,200}$/;

/** Largest lifetime a token may be given (ten years); beyond it, say `never`. */
const longestLifetimeMs = 10 * 366 * 86_400_000;

/**
 * Milliseconds of a token lifetime such as `30d`, `12h` or `90m`; undefined for `never`.
 * Anything else is a UserError naming the option.
 */
export function tokenLifetimeMs(value: string, option = '--expires'): number | undefined {
  if (value.trim().toLowerCase() === 'never') return undefined;
  const milliseconds = durationMilliseconds(value.trim());
  if (milliseconds === undefined || milliseconds > longestLifetimeMs) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `${option} '${value}' is not a token lifetime; give e.g. 30d, 12h or 90m (at most 3660d), or never.`,
      { location: { path: option } },
    );
  }
  return milliseconds;
}

/** Creates a token for `principal` with `roles`; validates both before writing anything. */
export async function createApiToken(store: Store, input: TokenInput): Promise<CreatedApiToken> {
  return issueToken(store.db, input);
}

/** What a new token is bound to. */
export interface TokenInput {
  /** Who the token acts for, e.g. alice@acme.example. */
  principal: string;
  /** Server roles and policy roles. */
  roles: string[];
  /** What the token is for. */
  description?: string;
  /** Creation time (default now). */
  now?: Date;
  /** Lifetime in ms (absent: never expires). */
  expiresInMs?: number;
  /** The token this one replaces. */
  rotatedFrom?: string;
}

/** Validates and inserts a token through `db` (the store or a transaction). */
async function issueToken(db: Pick<Store['db'], 'insert'>, input: TokenInput): Promise<CreatedApiToken> {
  const principal = input.principal.trim();
  if (principal.length === 0 || principal.length > 200) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `Principal '${input.principal}' is not valid; give an id of 1 to 200 characters such as alice@acme.example.`,
      { location: { path: 'principal' } },
    );
  }
  if (input.roles.length === 0) {
    throw new UserError(ErrorCode.InputInvalid, `A token needs at least one role; server roles are ${serverRoles.join(', ')}.`, {
      location: { path: 'roles' },
    });
  }
  for (const role of input.roles) {
    if (!rolePattern.test(role)) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `Role '${role}' is not valid; use lower-case names such as ${serverRoles.join(', ')} or a policy role like ops-lead.`,
        { location: { path: 'roles' } },
      );
    }
  }
  if (input.expiresInMs !== undefined && !(Number.isFinite(input.expiresInMs) && input.expiresInMs > 0)) {
    throw new UserError(ErrorCode.InputInvalid, `A token lifetime must be a positive number of milliseconds, not ${input.expiresInMs}.`, {
      location: { path: 'expires' },
    });
  }
  const id = `tok_${randomBytes(6).toString('hex')}`;
  const token = `aif_${randomBytes(32).toString('base64url')}`;
  const createdAt = input.now ?? new Date();
  const expiresAt = input.expiresInMs === undefined ? null : new Date(createdAt.getTime() + input.expiresInMs);
  const roles = [...new Set(input.roles)];
  const rotatedFrom = input.rotatedFrom ?? null;
  await insertApiToken(db, {
    id,
    tokenHash: sha256Hex(token),
    principal,
    roles,
    description: input.description ?? null,
    createdAt,
    expiresAt,
    rotatedFrom,
  });
  return {
    id,
    token,
    principal,
    roles,
    description: input.description ?? null,
    createdAt,
    lastUsedAt: null,
    revokedAt: null,
    expiresAt,
    rotatedFrom,
  };
}

/** What rotation did: the successor (its secret shown once) and the old token as it now stands. */
export interface RotatedApiToken {
  created: CreatedApiToken;
  previous: ApiTokenInfo;
}

/**
 * Rotates a live token: a successor with the same principal, roles and description (and, unless
 * `expiresInMs` says otherwise, the same lifetime), while the old one is revoked at once or, with
 * `graceMs`, expires after that grace period so clients can switch. NOT_FOUND when no live token has that id.
 */
export async function rotateApiToken(
  store: Store,
  id: string,
  options: { now?: Date; expiresInMs?: number | null; graceMs?: number } = {},
): Promise<RotatedApiToken> {
  const now = options.now ?? new Date();
  const graceMs = options.graceMs ?? 0;
  if (!(Number.isFinite(graceMs) && graceMs >= 0))
    throw new UserError(ErrorCode.InputInvalid, `A grace period must be zero or more milliseconds, not ${graceMs}.`, {
      location: { path: 'grace' },
    });
  return store.db.transaction(async (tx) => {
    const old = await selectApiToken(tx, id);
    if (!old || old.revokedAt || (old.expiresAt && old.expiresAt <= now)) {
      throw new UserError(ErrorCode.NotFound, `No live token has id '${id}'; see \`factory tokens list\`.`, { location: { path: 'id' } });
    }
    const inherited = old.expiresAt ? old.expiresAt.getTime() - old.createdAt.getTime() : undefined;
    const lifetime = options.expiresInMs === null ? undefined : (options.expiresInMs ?? inherited);
    const created = await issueToken(tx, {
      principal: old.principal,
      roles: old.roles as string[],
      ...(old.description ? { description: old.description } : {}),
      now,
      ...(lifetime === undefined ? {} : { expiresInMs: lifetime }),
      rotatedFrom: old.id,
    });
    const graceEnd = new Date(now.getTime() + graceMs);
    const row = await updateApiTokenEnd(
      tx,
      old.id,
      graceMs === 0 ? { revokedAt: now } : { expiresAt: old.expiresAt && old.expiresAt < graceEnd ? old.expiresAt : graceEnd },
    );
    return { created, previous: tokenInfo(row!) };
  });
}

function tokenInfo(row: ApiTokenRow): ApiTokenInfo {
  return {
    id: row.id,
    principal: row.principal,
    roles: row.roles as string[],
    description: row.description,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
    expiresAt: row.expiresAt,
    rotatedFrom: row.rotatedFrom,
  };
}

/** Every token, oldest first, revoked ones included (marked). */
export async function listApiTokens(store: Store): Promise<ApiTokenInfo[]> {
  const rows = await selectApiTokens(store);
  return rows.map(tokenInfo);
}

/** Revokes a token by id; NOT_FOUND when no live token has that id. */
export async function revokeApiToken(store: Store, id: string, now = new Date()): Promise<ApiTokenInfo> {
  const row = await revokeApiTokenRow(store, id, now);
  if (!row)
    throw new UserError(ErrorCode.NotFound, `No live token has id '${id}'; see \`factory tokens list\`.`, { location: { path: 'id' } });
  return tokenInfo(row);
}

/** Whether `token` has the shape of one of ours (`aif_…`), whatever its validity. */
export function isApiTokenShaped(token: string): boolean {
  return tokenPattern.test(token);
}

/** The principal a presented token stands for, or undefined (unknown, malformed, revoked or expired). */
export async function authenticateApiToken(store: Store, token: string, now = new Date()): Promise<TokenPrincipal | undefined> {
  if (!tokenPattern.test(token)) return undefined;
  const row = await selectApiTokenByHash(store, sha256Hex(token));
  if (!row || row.revokedAt) return undefined;
  if (row.expiresAt && row.expiresAt <= now) return undefined;
  return { tokenId: row.id, id: row.principal, roles: row.roles as string[], ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}) };
}

/** Notes that a token was used (best effort; callers throttle it). */
export async function touchApiToken(store: Store, id: string, now = new Date()): Promise<void> {
  await updateApiTokenLastUsed(store, id, now);
}
