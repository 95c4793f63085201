// Delivers the outbox: signed webhooks, Slack incoming webhooks, e-mail over SMTP and log lines,
// with retries, exponential backoff (or the delay a receiver asks for with Retry-After) and a
// dead-letter state: after maxAttempts, or at once for a failure no retry can mend (a Slack 4xx,
// an SMTP 5xx, a channel nobody configured), a notification is `failed` and kept with its last error.
//
// Claiming a notification bumps its attempt count and pushes next_attempt_at out by a lease, in
// one UPDATE over rows picked with FOR UPDATE SKIP LOCKED, so several dispatchers (processes,
// workers) share the outbox without sending one notification twice at once. Delivery is at least
// once: if a dispatcher dies after the receiver accepted a message but before it marked the row
// delivered, the lease runs out and another dispatcher sends it again — once more, not in a loop,
// because a delivered row is never claimed again. Receivers can drop that rare duplicate by the
// outbox id: the X-Aifactory-Delivery header of webhooks and e-mails, an e-mail's Message-ID, and
// the "aifactory notification <id>" line of a Slack message.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { toNotification, type Notification } from './notification-outbox.ts';
import { claimDueNotifications, settleNotification } from './notification-rows.ts';
import { describeNotificationTarget, parseNotificationTarget } from './notification-target.ts';
import { createEmailTransport, retryAfterMs, sendEmail, sendSlack, type Attempt, type EmailTransport } from './channel-delivery.ts';
import type { NotificationTransports } from './notification-channels.ts';
import { deliveryHeader, signWebhook, signatureHeader } from './webhook-signature.ts';

/** Delay before retry number `attempt` (1 after the first failure). */
export type Backoff = { initialMs?: number; maxMs?: number; factor?: number } | ((attempt: number) => number);

/** Options of a notification dispatcher. */
export interface NotificationDispatcherOptions {
  /** HMAC-SHA256 key webhooks are signed with; receivers verify with verifyWebhookSignature. Without it, webhook targets fail (and are retried) until one is configured. */
  secret?: string;
  /** Slack webhook URLs and the SMTP server, resolved from the workspace's notifications.yaml and environment (see notificationTransports). */
  channels?: NotificationTransports;
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
  /** Stops the background loop, waits for the round in flight and closes the SMTP connection. */
  stop(): Promise<void>;
}

/** Creates a dispatcher over the store's outbox. */
export function createNotificationDispatcher(store: Store, options: NotificationDispatcherOptions): NotificationDispatcher {
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length < 16)) {
    throw new UserError(
      ErrorCode.InputInvalid,
      'The webhook signing secret must be at least 16 characters (set AIFACTORY_WEBHOOK_SECRET).',
    );
  }
  const maxAttempts = options.maxAttempts ?? 8;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new UserError(ErrorCode.InputInvalid, `maxAttempts ${String(options.maxAttempts)} is invalid; use a whole number of at least 1.`);
  const fetchImplementation = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const leaseMs = options.leaseMs ?? timeoutMs + 30_000;
  const batchSize = options.batchSize ?? 20;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const now = () => options.clock?.() ?? new Date();
  const delay = backoffFunction(options.backoff);
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const channels = options.channels;
  let email: EmailTransport | undefined;

  async function claim(): Promise<Notification[]> {
    const at = now();
    const rows = await claimDueNotifications(store, at, batchSize, leaseMs);
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
    if (target.kind === 'slack') {
      const url = channels?.slack[target.channel];
      if (!url) {
        const missing = channels?.missing[`slack:${target.channel}`];
        return missing
          ? { ok: false, error: missing }
          : { ok: false, error: `Slack channel ${target.channel} is not configured in notifications.yaml.`, permanent: true };
      }
      return sendSlack(notification, target.channel, url, { fetch: fetchImplementation, timeoutMs, now: now() });
    }
    if (target.kind === 'email') {
      const configured = channels?.email;
      if (!configured) {
        const missing = channels?.missing.email;
        return missing
          ? { ok: false, error: missing }
          : { ok: false, error: 'E-mail is not configured in notifications.yaml.', permanent: true };
      }
      const domain = target.address.slice(target.address.lastIndexOf('@') + 1);
      if (configured.domains && !configured.domains.includes(domain))
        return {
          ok: false,
          error: `${target.address} is outside the configured domains (${configured.domains.join(', ')}).`,
          permanent: true,
        };
      email ??= createEmailTransport(configured.smtpUrl, configured.from, { timeoutMs });
      return sendEmail(notification, target.address, email, { timeoutMs });
    }
    if (options.secret === undefined)
      return {
        ok: false,
        error: `AIFACTORY_WEBHOOK_SECRET is not set, so webhooks cannot be signed (${describeNotificationTarget(notification.target)})`,
      };
    const secret = options.secret;
    const body = JSON.stringify({
      id: notification.id,
      run_id: notification.runId,
      created_at: notification.createdAt.toISOString(),
      payload: notification.payload,
    });
    try {
      const response = await fetchImplementation(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'aifactory-notifications',
          [signatureHeader]: signWebhook({ secret, body, timestamp: Math.floor(now().getTime() / 1000) }),
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
      const retryAfter =
        response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get('retry-after'), now()) : undefined;
      return {
        ok: false,
        error: `HTTP ${response.status} from ${describeNotificationTarget(notification.target)}`,
        ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
      };
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `timed out after ${timeoutMs} ms`
          : (cause?.code ?? cause?.message ?? (error as Error).message);
      return { ok: false, error: `${reason} (${describeNotificationTarget(notification.target)})` };
    }
  }

  async function settle(notification: Notification, attempt: Attempt, report: DrainReport): Promise<void> {
    const at = now();
    // Only while the row is still ours: pending at the attempt count we claimed it with.
    if (attempt.ok) {
      await settleNotification(store, notification, { status: 'delivered', deliveredAt: at, lastError: null });
      report.delivered.push(notification.id);
    } else if (attempt.permanent || notification.attempts >= maxAttempts) {
      await settleNotification(store, notification, { status: 'failed', lastError: attempt.error });
      report.failed.push(notification.id);
    } else {
      await settleNotification(store, notification, {
        lastError: attempt.error,
        nextAttemptAt: new Date(at.getTime() + Math.max(delay(notification.attempts), attempt.retryAfterMs ?? 0)),
      });
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
      void email?.transporter.then((transporter) => transporter.close());
      email = undefined;
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
