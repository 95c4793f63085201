// Delivery to people's channels: Slack incoming webhooks and e-mail over SMTP (nodemailer). Each
// send returns an Attempt the dispatcher settles: ok, a failure worth retrying (with the delay the
// receiver asked for, if any), or a permanent one that goes straight to the dead letters. Secrets
// (the webhook URL, the SMTP URL and password) never appear in an Attempt's error: messages name
// the channel, never the URL.
import type { Transporter } from 'nodemailer';
import type { Notification } from './notification-outbox.ts';
import { notificationMessage } from './notification-message.ts';

/** One attempt's result. */
export type Attempt = { ok: true } | { ok: false; error: string; permanent?: boolean; retryAfterMs?: number };

/** Reads a Retry-After header (seconds or an HTTP date) as milliseconds from `now`. */
export function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** Masks every occurrence of the given secrets in a message. */
export function withoutSecrets(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let masked = message;
  for (const secret of secrets) if (secret && secret.length >= 4) masked = masked.split(secret).join('***');
  return masked;
}

/** Posts a notification to a Slack incoming webhook: `text` for previews and clients without blocks, `blocks` for the rest. */
export async function sendSlack(
  notification: Notification,
  channel: string,
  webhookUrl: string,
  options: { fetch: typeof globalThis.fetch; timeoutMs: number; now: Date },
): Promise<Attempt> {
  const message = notificationMessage(notification);
  const [headline, ...details] = message.text.split('\n');
  const body = JSON.stringify({
    text: message.text,
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `*${slackEscape(headline ?? message.subject)}*${details.length > 0 ? `\n${details.map(slackEscape).join('\n')}` : ''}`,
        },
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `aifactory notification ${notification.id}` }] },
    ],
  });
  const label = `slack:${channel}`;
  try {
    const response = await options.fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'aifactory-notifications' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const answer = (await response.text().catch(() => '')).trim().slice(0, 100);
    if (response.status === 200) return { ok: true };
    const error = `Slack answered HTTP ${response.status}${answer ? ` ${answer}` : ''} (${label})`;
    if (response.status === 429) {
      const delay = retryAfterMs(response.headers.get('retry-after'), options.now);
      return { ok: false, error, ...(delay !== undefined ? { retryAfterMs: delay } : {}) };
    }
    // 4xx (invalid_payload, invalid_token, channel_not_found, no_service, channel_is_archived) will
    // not change on a retry; 5xx and anything else may.
    return { ok: false, error: withoutSecrets(error, [webhookUrl]), permanent: response.status >= 400 && response.status < 500 };
  } catch (error) {
    return { ok: false, error: `${networkReason(error, options.timeoutMs)} (${label})` };
  }
}

/** An SMTP transport and the addresses it sends from. */
export interface EmailTransport {
  /** The nodemailer transporter; nodemailer loads with the first e-mail, not with every command that reads notifications.yaml. */
  transporter: Promise<Transporter>;
  /** The From: header. */
  from: string;
  /** Strings to mask in errors (the SMTP URL and its password). */
  secrets: string[];
}

/** Creates the SMTP transport for an `smtp://user:password@host:port` (or smtps://) URL. */
export function createEmailTransport(smtpUrl: string, from: string, options: { timeoutMs: number }): EmailTransport {
  let password: string | undefined;
  try {
    password = decodeURIComponent(new URL(smtpUrl).password) || undefined;
  } catch {
    password = undefined;
  }
  const transporter = import('nodemailer').then(({ default: nodemailer }) => {
    const created = nodemailer.createTransport(smtpUrl, {});
    // Per-connection timeouts: a stuck server must not hold a claimed notification past its lease.
    Object.assign(created.options, {
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    });
    return created;
  });
  return { transporter, from, secrets: [smtpUrl, ...(password ? [password, encodeURIComponent(password)] : [])] };
}

/** Sends a notification as one e-mail. The Message-ID is derived from the outbox id, so a rare duplicate (at-least-once) threads with the first. */
export async function sendEmail(
  notification: Notification,
  address: string,
  transport: EmailTransport,
  options: { timeoutMs: number },
): Promise<Attempt> {
  const message = notificationMessage(notification);
  const domain = transport.from.match(/@([^>\s]+)/)?.[1] ?? 'aifactory.local';
  try {
    await (
      await transport.transporter
    ).sendMail({
      from: transport.from,
      to: address,
      subject: `[aifactory] ${message.subject}`,
      text: `${message.text}\n`,
      messageId: `<notification-${notification.id}.${notification.runId}@${domain}>`,
      headers: { 'X-Aifactory-Delivery': String(notification.id), 'X-Aifactory-Run': notification.runId },
    });
    return { ok: true };
  } catch (error) {
    const smtp = error as { responseCode?: number; code?: string; message?: string };
    const text = (smtp.message ?? '').replace(/\s+/g, ' ').slice(0, 160);
    const reason = smtp.responseCode
      ? `SMTP ${smtp.responseCode}: ${text}`
      : smtp.code
        ? `${smtp.code}: ${text}`
        : networkReason(error, options.timeoutMs);
    // 5xx replies (no such mailbox, relay refused, authentication failed) are final; 4xx and
    // connection failures are worth another try.
    const permanent = smtp.responseCode !== undefined && smtp.responseCode >= 500;
    return { ok: false, error: withoutSecrets(`${reason} (email:${address})`, transport.secrets), permanent };
  }
}

function networkReason(error: unknown, timeoutMs: number): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError' || (error as { code?: string }).code === 'ETIMEDOUT')
    return `timed out after ${timeoutMs} ms`;
  return cause?.code ?? (error as { code?: string }).code ?? cause?.message ?? (error as Error).message;
}

function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
