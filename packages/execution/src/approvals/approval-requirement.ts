// Who may approve a held action, as a policy's `approvers` obligation states it, normalised once
// when the approval is requested so every later check reads the same, complete shape.
import { ErrorCode, UserError } from '@aifactory/core';

/** What happens to an approval nobody decided in time. */
export type ExpiryOutcome = 'deny' | 'approve';

/** Who may approve, how many must, and what happens when time runs out (normalised). */
export interface ApprovalRequirement {
  /** Roles that may vote; an approver needs one of them. Empty means any principal. */
  roles: string[];
  /** Distinct approvers needed to approve. */
  count: number;
  /** When true, whoever started the run cannot approve its actions. */
  separation_of_duties: boolean;
  /** Milliseconds from the request until the approval expires; absent means never. */
  expires_in_ms?: number;
  /** The outcome an expired approval resolves to. */
  on_expiry: ExpiryOutcome;
}

/** A requirement as a policy or a caller writes it; normalised by normalizeRequirement. */
export interface ApprovalRequirementInput {
  /** Roles that may vote (default: any principal). */
  roles?: readonly string[];
  /** Distinct approvers needed (default 1). */
  count?: number;
  /** Whoever started the run cannot approve (default true). */
  separation_of_duties?: boolean;
  /** Expiry in milliseconds; wins over expires_in. */
  expires_in_ms?: number;
  /** Expiry as a duration ('90s', '15m', '4h', '2d', '500ms') or a number of seconds. */
  expires_in?: string | number;
  /** 'deny' (default; 'reject' is accepted as a synonym) or 'approve'. */
  on_expiry?: string;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Validates and completes an approval requirement; errors name the offending field. */
export function normalizeRequirement(input: unknown): ApprovalRequirement {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('requirement', 'must be an object with roles, count, separation_of_duties and on_expiry');
  }
  const raw = input as Record<string, unknown>;
  const roles = raw.roles ?? [];
  if (!Array.isArray(roles) || roles.some((role) => typeof role !== 'string' || role.trim() === '')) {
    throw invalid('roles', 'must be a list of role names');
  }
  const count = raw.count ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
    throw invalid('count', `is ${JSON.stringify(count)}; use a whole number of at least 1`);
  }
  const separation = raw.separation_of_duties ?? true;
  if (typeof separation !== 'boolean') throw invalid('separation_of_duties', `is ${JSON.stringify(separation)}; use true or false`);
  const onExpiry = raw.on_expiry ?? 'deny';
  if (onExpiry !== 'deny' && onExpiry !== 'reject' && onExpiry !== 'approve') {
    throw invalid('on_expiry', `is ${JSON.stringify(onExpiry)}; use deny or approve`);
  }
  const requirement: ApprovalRequirement = {
    roles: [...new Set(roles as string[])],
    count,
    separation_of_duties: separation,
    on_expiry: onExpiry === 'approve' ? 'approve' : 'deny',
  };
  const expiresIn = expiryMilliseconds(raw);
  if (expiresIn !== undefined) requirement.expires_in_ms = expiresIn;
  return requirement;
}

function expiryMilliseconds(raw: Record<string, unknown>): number | undefined {
  if (raw.expires_in_ms !== undefined && raw.expires_in_ms !== null) {
    const value = raw.expires_in_ms;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw invalid('expires_in_ms', `is ${JSON.stringify(value)}; use a positive number of milliseconds`);
    return Math.round(value);
  }
  const value = raw.expires_in;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0)
      throw invalid('expires_in', `is ${value}; use a positive number of seconds or a duration such as 15m`);
    return Math.round(value * 1000);
  }
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value) : null;
  if (!match) throw invalid('expires_in', `is ${JSON.stringify(value)}; use a duration such as 90s, 15m, 4h or 2d`);
  const milliseconds = Math.round(Number(match[1]) * durationUnits[match[2]!]!);
  if (milliseconds <= 0) throw invalid('expires_in', `is ${JSON.stringify(value)}; use a positive duration`);
  return milliseconds;
}

function invalid(field: string, problem: string): UserError {
  return new UserError(ErrorCode.InputInvalid, `Approval requirement ${field} ${problem}.`, { location: { path: `approvers.${field}` } });
}
