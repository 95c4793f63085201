// The notifications table's queries (the outbox): the outbox writes and lists rows, the dispatcher
// claims and settles them, erasure rewrites their payloads. Those files decide; this one only
// reads and writes the rows.
import type { Database, Store } from '@aifactory/store';
import { notifications } from '@aifactory/store/schema';
import { and, asc, desc, eq, inArray, isNull, like, lte, notLike, sql, type SQL } from 'drizzle-orm';

/** A notifications row as stored. */
export type NotificationRow = typeof notifications.$inferSelect;
/** A row to insert (columns with defaults may be left out). */
export type NewNotificationRow = typeof notifications.$inferInsert;

/** Inserts one notification through `db` (the store's database or a caller's transaction); the row as stored. */
export async function insertNotification(db: Database, row: NewNotificationRow): Promise<NotificationRow> {
  const [inserted] = await db.insert(notifications).values(row).returning();
  return inserted!;
}

/** Which rows listNotificationRows selects (the outbox validates the filter). */
export interface NotificationRowFilter {
  inbox?: string;
  all?: boolean;
  unread?: boolean;
  runId?: string;
  status?: string;
}

/** Notification rows, newest first, at most `limit`: inbox items by default, every target with `all`. */
export async function selectNotifications(store: Store, filter: NotificationRowFilter, limit: number): Promise<NotificationRow[]> {
  const conditions: SQL[] = [];
  if (filter.inbox !== undefined) conditions.push(eq(notifications.target, `inbox:${filter.inbox}`));
  else if (!filter.all) conditions.push(like(notifications.target, 'inbox:%'));
  if (filter.unread) conditions.push(isNull(notifications.readAt), like(notifications.target, 'inbox:%'));
  if (filter.runId) conditions.push(eq(notifications.runId, filter.runId));
  if (filter.status) conditions.push(eq(notifications.status, filter.status));
  return store.db
    .select()
    .from(notifications)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(notifications.id))
    .limit(limit);
}

/** Marks unread inbox items read (these ids, or every one of an inbox, or every one); the ids marked. */
export async function markNotificationRowsRead(
  store: Store,
  selection: { ids: number[] } | { inbox?: string },
  at: Date,
): Promise<number[]> {
  const conditions: SQL[] = [isNull(notifications.readAt), like(notifications.target, 'inbox:%')];
  if ('ids' in selection) conditions.push(inArray(notifications.id, selection.ids));
  else if (selection.inbox !== undefined) conditions.push(eq(notifications.target, `inbox:${selection.inbox}`));
  const marked = await store.db
    .update(notifications)
    .set({ readAt: at })
    .where(and(...conditions))
    .returning({ id: notifications.id });
  return marked.map((row) => row.id);
}

/** Puts failed rows (these ids, or all) back to pending with a fresh attempt count; the ids requeued. */
export async function requeueFailedNotifications(store: Store, ids: number[] | undefined, at: Date): Promise<number[]> {
  const conditions: SQL[] = [eq(notifications.status, 'failed')];
  if (ids !== undefined) conditions.push(inArray(notifications.id, ids));
  const requeued = await store.db
    .update(notifications)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: at })
    .where(and(...conditions))
    .returning({ id: notifications.id });
  return requeued.map((row) => row.id);
}

/** One notification row by id. */
export async function selectNotification(store: Store, id: number): Promise<NotificationRow | undefined> {
  const [row] = await store.db.select().from(notifications).where(eq(notifications.id, id)).orderBy(asc(notifications.id));
  return row;
}

/**
 * Claims up to `batchSize` due deliveries (pending, not inbox, next attempt at or before `at`): bumps
 * each one's attempt count and pushes its next attempt out by `leaseMs`, in one UPDATE over rows
 * picked with FOR UPDATE SKIP LOCKED. The rows as claimed.
 */
export async function claimDueNotifications(store: Store, at: Date, batchSize: number, leaseMs: number): Promise<NotificationRow[]> {
  const due = store.db
    .select({ id: notifications.id })
    .from(notifications)
    .where(and(eq(notifications.status, 'pending'), lte(notifications.nextAttemptAt, at), notLike(notifications.target, 'inbox:%')))
    .orderBy(asc(notifications.nextAttemptAt), asc(notifications.id))
    .limit(batchSize)
    .for('update', { skipLocked: true });
  return store.db
    .update(notifications)
    .set({ attempts: sql`${notifications.attempts} + 1`, nextAttemptAt: new Date(at.getTime() + leaseMs) })
    .where(and(inArray(notifications.id, due), eq(notifications.status, 'pending')))
    .returning();
}

/** Settles a claimed row, if it is still pending at the attempt count it was claimed with. */
export async function settleNotification(
  store: Store,
  claimed: { id: number; attempts: number },
  values: Partial<Pick<NotificationRow, 'status' | 'deliveredAt' | 'lastError' | 'nextAttemptAt'>>,
): Promise<void> {
  await store.db
    .update(notifications)
    .set(values)
    .where(and(eq(notifications.id, claimed.id), eq(notifications.status, 'pending'), eq(notifications.attempts, claimed.attempts)));
}

/** Notification rows (of `runIds`, or all) whose payload or last error contains `needle` as jsonb text writes it. */
export async function selectNotificationsContaining(store: Store, needle: string, runIds?: string[]): Promise<NotificationRow[]> {
  return store.db
    .select()
    .from(notifications)
    .where(
      and(
        runIds ? inArray(notifications.runId, runIds) : undefined,
        sql`strpos(${notifications.payload}::text || coalesce(${notifications.lastError}, ''), ${needle}) > 0`,
      ),
    );
}

/** Replaces one notification's payload and last error. */
export async function rewriteNotification(store: Store, id: number, values: { payload: unknown; lastError: string | null }): Promise<void> {
  await store.db.update(notifications).set(values).where(eq(notifications.id, id));
}

/** Erases every notification payload of a run; how many it erased. */
export async function eraseRunNotifications(store: Store, runId: string): Promise<number> {
  return (
    await store.db
      .update(notifications)
      .set({ payload: { erased: true }, lastError: null })
      .where(eq(notifications.runId, runId))
      .returning({ id: notifications.id })
  ).length;
}
