// Where a notification goes, as a policy's `notify` obligation names it.
import { ErrorCode, UserError } from '@aifactory/core';

/** A parsed notification target. */
export type NotificationTarget =
  /** POST a signed JSON body to a URL, with retries. */
  | { kind: 'webhook'; url: URL }
  /** Keep it in a named inbox that `factory notifications list` reads. */
  | { kind: 'inbox'; name: string }
  /** Write one line to the dispatcher's log. */
  | { kind: 'log' };

const inboxName = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** Parses `webhook:https://…`, `inbox:<name>` or `log`; anything else is an error naming the valid forms. */
export function parseNotificationTarget(target: string): NotificationTarget {
  if (typeof target !== 'string') throw unknownTarget(String(target));
  if (target === 'log') return { kind: 'log' };
  if (target.startsWith('inbox:')) {
    const name = target.slice('inbox:'.length);
    if (!inboxName.test(name)) {
      throw new UserError(ErrorCode.InputInvalid, `Inbox name '${name}' in notification target '${target}' is invalid; use letters, digits and . _ @ + - (up to 128).`);
    }
    return { kind: 'inbox', name };
  }
  if (target.startsWith('webhook:')) {
    const raw = target.slice('webhook:'.length);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UserError(ErrorCode.InputInvalid, `Webhook URL '${redactUrl(raw)}' in a notification target is not a valid URL; expected webhook:https://host/path.`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new UserError(ErrorCode.InputInvalid, `Webhook URL scheme '${url.protocol}' is not supported; use https: (or http: for local receivers).`);
    }
    return { kind: 'webhook', url };
  }
  throw unknownTarget(target);
}

/** A target safe to show: no credentials, query or fragment (they may carry tokens). */
export function describeNotificationTarget(target: string): string {
  if (!target.startsWith('webhook:')) return target;
  return `webhook:${redactUrl(target.slice('webhook:'.length))}`;
}

function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    const hidden = url.username || url.password || url.search || url.hash;
    return `${url.protocol}//${url.host}${url.pathname}${hidden ? ' (credentials and query hidden)' : ''}`;
  } catch {
    return raw.replace(/[?#].*$/, '').replace(/\/\/[^/@]*@/, '//');
  }
}

function unknownTarget(target: string): UserError {
  return new UserError(ErrorCode.InputInvalid, `Notification target '${describeNotificationTarget(target)}' is unknown; use webhook:https://…, inbox:<name> or log.`);
}
