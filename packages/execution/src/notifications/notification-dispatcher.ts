// Delivers the outbox: signed webhooks with retries and exponential backoff, and log lines.
//
// Claiming a notification bumps its attempt count and pushes next_attempt_at out by a lease, in
// one UPDATE over rows picked with FOR UPDATE SKIP LOCKED, so several dispatchers (processes,
// workers) share the outbox without sending one notification twice at once. If a dispatcher dies
// mid-delivery the lease runs out and another one retries: delivery is at least once, and the
// X-Aifactory-Delivery header (the outbox id) lets a receiver drop the rare duplicate. Once a
// delivery succeeded it is marked delivered and never sent again.
import { ErrorCode, UserError } from '@aifactory/core';
import { notifications, type Store } from '@aifactory/store';
import { and, asc, eq, inArray, lte, notLike, sql } from 'drizzle-orm';
import { toNotification, type Notification } from './notification-outbox.ts';
import { describeNotificationTarget, parseNotificationTarget } from './notification-target.ts';
import { deliveryHeader, signWebhook, signatureHeader } from './webhook-signature.ts';

/** Delay before retry number `attempt` (1 after the first failure). */
export type Backoff = { initialMs?: number; maxMs?: number; factor?: number } | ((attempt: number) => number);

/** Options of a notification dispatcher. */
export interface NotificationDispatcherOptions {
  /** HMAC-SHA256 key webhooks are signed with; receivers verify with verifyWebhookSignature. */
  secret: string;
  /** fetch implementation (default the global one). */
  fetch?: typeof globalThis.fetch;
  /** Attempts before a notification is marked failed (default 8). */
  maxAttempts?: number;
  /** Retry delays (default 1s doubling up to 10 min). */
  backoff?: Backoff;
  /** Per-request timeout in milliseconds (default 10 s). */
  timeoutMs?: number;
  /** How long a claimed notification is reserved for one dispatcher (default timeout + 30 s). */
  leaseMs?: number;
  /** Notifications claimed per round (default 20). */
  batchSize?: number;
  /** Pause between rounds of start() when the outbox is drained (default 1 s). */
  pollIntervalMs?: number;
  /** Where `log` targets are written (default stderr). */
  log?: (line: string) => void;
  /** Told about a round that failed (the store unreachable); start() keeps going. */
  onError?: (error: unknown) => void;
  /** Current time (tests). */
  clock?: () => Date;
}

/** What one round of delivery did. */
export interface DrainReport {
  /** Notifications delivered in this round. */
  delivered: number[];
  /** Notifications that failed and will be retried. */
  retrying: number[];
  /** Notifications that failed for the last time. */
  failed: number[];
}

/** Delivers pending notifications. */
export interface NotificationDispatcher {
  /** Delivers every notification due now, once each; returns what happened. */
  drainOnce(): Promise<DrainReport>;
  /** Keeps delivering in the background until stop(). */
  start(): void;
  /** Stops the background loop and waits for the round in flight. */
  stop(): Promise<void>;
}

/** One attempt's result. */
type Attempt = { ok: true } | { ok: false; error: string };

/** Creates a dispatcher over the store's outbox. */
export function createNotificationDispatcher(store: Store, options: NotificationDispatcherOptions): NotificationDispatcher {
  if (typeof options.secret !== 'string' || options.secret.length < 16) {
    throw new UserError(ErrorCode.InputInvalid, 'The webhook signing secret must be at least 16 characters (set AIFACTORY_WEBHOOK_SECRET).');
  }
  const maxAttempts = options.maxAttempts ?? 8;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new UserError(ErrorCode.InputInvalid, `maxAttempts ${String(options.maxAttempts)} is invalid; use a whole number of at least 1.`);
  const fetchImplementation = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const leaseMs = options.leaseMs ?? timeoutMs + 30_000;
  const batchSize = options.batchSize ?? 20;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const now = () => options.clock?.() ?? new Date();
  const delay = backoffFunction(options.backoff);
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));

  async function claim(): Promise<Notification[]> {
    const at = now();
    const due = store.db
      .select({ id: notifications.id })
      .from(notifications)
      .where(and(eq(notifications.status, 'pending'), lte(notifications.nextAttemptAt, at), notLike(notifications.target, 'inbox:%')))
      .orderBy(asc(notifications.nextAttemptAt), asc(notifications.id))
      .limit(batchSize)
      .for('update', { skipLocked: true });
    const rows = await store.db
      .update(notifications)
      .set({ attempts: sql`${notifications.attempts} + 1`, nextAttemptAt: new Date(at.getTime() + leaseMs) })
      .where(and(inArray(notifications.id, due), eq(notifications.status, 'pending')))
      .returning();
    return rows.map(toNotification).sort((left, right) => left.id - right.id);
  }

  async function deliver(notification: Notification): Promise<Attempt> {
    let target;
    try {
      target = parseNotificationTarget(notification.target);
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
    if (target.kind === 'log') {
      log(JSON.stringify({ notification: notification.id, run_id: notification.runId, payload: notification.payload }));
      return { ok: true };
    }
    if (target.kind === 'inbox') return { ok: true };
    const body = JSON.stringify({ id: notification.id, run_id: notification.runId, created_at: notification.createdAt.toISOString(), payload: notification.payload });
    try {
      const response = await fetchImplementation(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'aifactory-notifications',
          [signatureHeader]: signWebhook({ secret: options.secret, body, timestamp: Math.floor(now().getTime() / 1000) }),
          [deliveryHeader]: String(notification.id),
          'X-Aifactory-Attempt': String(notification.attempts),
        },
        body,
        // A redirect would carry a signed body somewhere the policy did not name.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true };
      return { ok: false, error: `HTTP ${response.status} from ${describeNotificationTarget(notification.target)}` };
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = (error as Error).name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
      return { ok: false, error: `${reason} (${describeNotificationTarget(notification.target)})` };
    }
  }

  async function settle(notification: Notification, attempt: Attempt, report: DrainReport): Promise<void> {
    const at = now();
    const mine = and(eq(notifications.id, notification.id), eq(notifications.status, 'pending'), eq(notifications.attempts, notification.attempts));
    if (attempt.ok) {
      await store.db.update(notifications).set({ status: 'delivered', deliveredAt: at, lastError: null }).where(mine);
      report.delivered.push(notification.id);
    } else if (notification.attempts >= maxAttempts) {
      await store.db.update(notifications).set({ status: 'failed', lastError: attempt.error }).where(mine);
      report.failed.push(notification.id);
    } else {
      await store.db
        .update(notifications)
        .set({ lastError: attempt.error, nextAttemptAt: new Date(at.getTime() + delay(notification.attempts)) })
        .where(mine);
      report.retrying.push(notification.id);
    }
  }

  async function drainOnce(): Promise<DrainReport> {
    const report: DrainReport = { delivered: [], retrying: [], failed: [] };
    const claimed = await claim();
    await Promise.all(claimed.map(async (notification) => settle(notification, await deliver(notification), report)));
    return report;
  }

  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> | undefined;
  let wake: (() => void) | undefined;

  async function loop(): Promise<void> {
    while (running) {
      let busy = false;
      try {
        const report = await drainOnce();
        busy = report.delivered.length + report.retrying.length + report.failed.length >= batchSize;
      } catch (error) {
        options.onError?.(error);
      }
      if (!running) break;
      if (!busy) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, pollIntervalMs);
        });
      }
    }
  }

  return {
    drainOnce,
    start() {
      if (running) return;
      running = true;
      inFlight = loop();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      wake?.();
      await inFlight;
      inFlight = undefined;
    },
  };
}

function backoffFunction(backoff: Backoff | undefined): (attempt: number) => number {
  if (typeof backoff === 'function') return (attempt) => Math.max(0, backoff(attempt));
  const initial = backoff?.initialMs ?? 1000;
  const max = backoff?.maxMs ?? 600_000;
  const factor = backoff?.factor ?? 2;
  return (attempt) => Math.min(max, initial * factor ** Math.max(0, attempt - 1));
}
