// The serving plane's identities: API tokens, stored hashed, bound to principals and roles.
import { jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** An API token; only its sha256 is stored. */
export const apiTokens = pgTable('api_tokens', {
  id: text('id').primaryKey(),
  tokenHash: text('token_hash').notNull().unique(),
  principal: text('principal').notNull(),
  roles: jsonb('roles').notNull().default([]),
  description: text('description'),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  /** After this instant the token is refused; null never expires. */
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
  /** The token this one replaced by `factory tokens rotate`, if any. */
  rotatedFrom: text('rotated_from'),
});
