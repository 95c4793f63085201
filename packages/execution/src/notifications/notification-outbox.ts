// The notification outbox: a notification is a row written with the decision that calls for it
// (in the caller's transaction when it has one), and delivered after by the dispatcher. A crash
// between the two loses nothing: delivery resumes from the table.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Database, Store } from '@aifactory/store';
import {
  insertNotification,
  markNotificationRowsRead,
  requeueFailedNotifications,
  selectNotification,
  selectNotifications,
  type NotificationRow,
} from './notification-rows.ts';
import { parseNotificationTarget, targetKind, type NotificationTargetKind } from './notification-target.ts';

/** Where a notification is: pending delivery, delivered (or readable, for an inbox), or failed for good (the dead letters). */
export type NotificationStatus = 'pending' | 'delivered' | 'failed';

/** A notification as stored. */
export interface Notification {
  /** Outbox id; also sent as the X-Aifactory-Delivery header. */
  id: number;
  /** The run that caused it. */
  runId: string;
  /** `webhook:<url>`, `inbox:<name>`, `slack:#channel`, `email:<address>` or `log`. */
  target: string;
  /** The target's kind. */
  kind: NotificationTargetKind;
  /** The JSON body. */
  payload: unknown;
  /** Delivery state. */
  status: NotificationStatus;
  /** Delivery attempts so far. */
  attempts: number;
  /** When the next attempt is due (pending ones). */
  nextAttemptAt: Date;
  /** Why the last attempt failed. */
  lastError: string | null;
  /** When it was queued. */
  createdAt: Date;
  /** When it was delivered (an inbox item: when it became readable). */
  deliveredAt: Date | null;
  /** When a reader marked it read (inbox items). */
  readAt: Date | null;
}

/** What to notify. */
export interface NotificationInput {
  /** The run that causes it. */
  runId: string;
  /** `webhook:https://…`, `inbox:<name>`, `slack:#channel`, `email:<address>` or `log`. */
  target: string;
  /** JSON body: what happened, in the run, and why. */
  payload: unknown;
}

/** A store, its drizzle database, or a transaction of it (to enqueue atomically with other writes). */
export type NotificationWriter = Store | Database;

/** Queues a notification in the outbox; an inbox item is readable at once. Returns its row. */
export async function enqueueNotification(
  writer: NotificationWriter,
  input: NotificationInput,
  options: { now?: Date } = {},
): Promise<Notification> {
  if (!input || typeof input.runId !== 'string' || input.runId.trim() === '') {
    throw new UserError(ErrorCode.InputInvalid, 'A notification needs the runId of the run that causes it.');
  }
  const target = parseNotificationTarget(input.target);
  let payload: unknown;
  try {
    payload = JSON.parse(JSON.stringify(input.payload ?? {}));
  } catch (error) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `Notification payload for '${target.kind}' cannot be written as JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const now = options.now ?? new Date();
  const readable = target.kind === 'inbox';
  const db = isStore(writer) ? writer.db : writer;
  const row = await insertNotification(db, {
    runId: input.runId,
    target: input.target,
    payload,
    status: readable ? 'delivered' : 'pending',
    nextAttemptAt: now,
    createdAt: now,
    deliveredAt: readable ? now : null,
  });
  return toNotification(row);
}

function isStore(writer: NotificationWriter): writer is Store {
  return 'driver' in writer && 'kind' in writer && 'db' in writer;
}

/** Which notifications to list. */
export interface NotificationFilter {
  /** Only this inbox (its name, without `inbox:`). */
  inbox?: string;
  /** Include webhook and log deliveries, not only inbox items (default false). */
  all?: boolean;
  /** Only inbox items nobody marked read. */
  unread?: boolean;
  /** Only this run's. */
  runId?: string;
  /** Only this status. */
  status?: NotificationStatus;
  /** At most this many, newest first (default 100). */
  limit?: number;
}

/** Lists notifications, newest first: inbox items by default, every target with `all`. */
export async function listNotifications(store: Store, filter: NotificationFilter = {}): Promise<Notification[]> {
  const limit = filter.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1)
    throw new UserError(ErrorCode.InputInvalid, `Notification limit ${String(filter.limit)} is invalid; use a whole number of at least 1.`);
  const rows = await selectNotifications(store, filter, limit);
  return rows.map(toNotification);
}

/** Marks inbox items read (by id, or every unread item of an inbox); returns the ids it marked. */
export async function markNotificationsRead(
  store: Store,
  selection: { ids: number[] } | { inbox?: string; all: true },
  options: { now?: Date } = {},
): Promise<number[]> {
  if ('ids' in selection) {
    if (selection.ids.length === 0) return [];
    if (selection.ids.some((id) => !Number.isSafeInteger(id) || id < 1))
      throw new UserError(ErrorCode.InputInvalid, 'Notification ids are whole numbers of at least 1.');
  }
  const marked = await markNotificationRowsRead(
    store,
    'ids' in selection ? { ids: selection.ids } : selection.inbox !== undefined ? { inbox: selection.inbox } : {},
    options.now ?? new Date(),
  );
  return marked.sort((left, right) => left - right);
}

/** Puts dead letters (failed notifications) back in the queue with a fresh attempt count, by id or all at once; returns the ids requeued. */
export async function retryNotifications(
  store: Store,
  selection: { ids: number[] } | { all: true },
  options: { now?: Date } = {},
): Promise<number[]> {
  if ('ids' in selection) {
    if (selection.ids.length === 0) return [];
    if (selection.ids.some((id) => !Number.isSafeInteger(id) || id < 1))
      throw new UserError(ErrorCode.InputInvalid, 'Notification ids are whole numbers of at least 1.');
  }
  const requeued = await requeueFailedNotifications(store, 'ids' in selection ? selection.ids : undefined, options.now ?? new Date());
  return requeued.sort((left, right) => left - right);
}

/** Reads one notification by id. */
export async function getNotification(store: Store, id: number): Promise<Notification | undefined> {
  const row = await selectNotification(store, id);
  return row ? toNotification(row) : undefined;
}

/** Maps a row to the public shape. */
export function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    runId: row.runId,
    target: row.target,
    kind: targetKind(row.target),
    payload: row.payload,
    status: row.status as NotificationStatus,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastError: row.lastError,
    createdAt: row.createdAt,
    deliveredAt: row.deliveredAt,
    readAt: row.readAt,
  };
}
