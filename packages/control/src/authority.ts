/** How much an agent may do on its own, from least to most restrictive. */
export type Authority = 'autonomous' | 'notify_human' | 'require_approval' | 'deny';

/** Every authority, least to most restrictive: the order in which the strictest one wins. */
export const AUTHORITIES: readonly Authority[] = Object.freeze(['autonomous', 'notify_human', 'require_approval', 'deny'] as const);

const ranks: Readonly<Record<Authority, number>> = Object.freeze({ autonomous: 0, notify_human: 1, require_approval: 2, deny: 3 });

/** Position of an authority in AUTHORITIES (0 = autonomous, 3 = deny); -1 for anything else. */
export function authorityRank(authority: Authority): number {
  // Own-property lookup only: an authority read from a file never reaches Object.prototype.
  return Object.hasOwn(ranks, authority) ? ranks[authority] : -1;
}

/** The stricter of two authorities. */
export function stricterAuthority(left: Authority, right: Authority): Authority {
  return authorityRank(right) > authorityRank(left) ? right : left;
}

/** True when the value is one of the four authorities. */
export function isAuthority(value: unknown): value is Authority {
  return typeof value === 'string' && Object.hasOwn(ranks, value);
}
