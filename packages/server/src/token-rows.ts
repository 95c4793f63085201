// The api_tokens table's queries. api-tokens.ts validates, issues, rotates and authenticates
// tokens; this file only reads and writes the rows, through the store or a transaction (`db`).
import type { Store } from '@aifactory/store';
import { apiTokens } from '@aifactory/store/schema';
import { and, asc, eq, isNull } from 'drizzle-orm';

/** An api_tokens row as stored. */
export type ApiTokenRow = typeof apiTokens.$inferSelect;
/** A row to insert (columns with defaults may be left out). */
export type NewApiTokenRow = typeof apiTokens.$inferInsert;
/** The store's database or a transaction on it. */
type Db = Pick<Store['db'], 'select' | 'insert' | 'update'>;

/** Inserts one token row. */
export async function insertApiToken(db: Pick<Store['db'], 'insert'>, row: NewApiTokenRow): Promise<void> {
  await db.insert(apiTokens).values(row);
}

/** The token row with this id, if any. */
export async function selectApiToken(db: Db, id: string): Promise<ApiTokenRow | undefined> {
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
  return row;
}

/** Sets the revocation or expiry of one token row; the row as it now stands. */
export async function updateApiTokenEnd(
  db: Db,
  id: string,
  end: { revokedAt: Date } | { expiresAt: Date },
): Promise<ApiTokenRow | undefined> {
  const [row] = await db.update(apiTokens).set(end).where(eq(apiTokens.id, id)).returning();
  return row;
}

/** Every token row, oldest first. */
export async function selectApiTokens(store: Store): Promise<ApiTokenRow[]> {
  return store.db.select().from(apiTokens).orderBy(asc(apiTokens.createdAt), asc(apiTokens.id));
}

/** Revokes a token row not revoked yet; the row as it now stands, or undefined when none was live. */
export async function revokeApiTokenRow(store: Store, id: string, now: Date): Promise<ApiTokenRow | undefined> {
  const [row] = await store.db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning();
  return row;
}

/** What authentication reads of the token row with this hash, if any. */
export async function selectApiTokenByHash(store: Store, tokenHash: string) {
  const [row] = await store.db
    .select({
      id: apiTokens.id,
      principal: apiTokens.principal,
      roles: apiTokens.roles,
      revokedAt: apiTokens.revokedAt,
      expiresAt: apiTokens.expiresAt,
    })
    .from(apiTokens)
    .where(eq(apiTokens.tokenHash, tokenHash));
  return row;
}

/** Notes when a token was last used. */
export async function updateApiTokenLastUsed(store: Store, id: string, now: Date): Promise<void> {
  await store.db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id));
}
