// Where a notification goes, as a policy's `notify` obligation names it: an e-mail address, a
// Slack channel, a named inbox, a webhook URL or the log.
import { ErrorCode, UserError } from '@aifactory/core';

/** A parsed notification target. */
export type NotificationTarget =
  /** POST a signed JSON body to a URL, with retries. */
  | { kind: 'webhook'; url: URL }
  /** Keep it in a named inbox that `factory notifications list` reads. */
  | { kind: 'inbox'; name: string }
  /** Post to a Slack channel through the incoming webhook configured for it. */
  | { kind: 'slack'; channel: string }
  /** Send an e-mail through the configured SMTP server. */
  | { kind: 'email'; address: string }
  /** Write one line to the dispatcher's log. */
  | { kind: 'log' };

/** The kinds of target the outbox delivers. */
export type NotificationTargetKind = NotificationTarget['kind'];

const inboxName = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
// Slack channel names: lower-case letters, digits, hyphens and underscores, up to 80 characters.
const slackChannel = /^#[a-z0-9][a-z0-9_-]{0,79}$/;
// A deliberately plain address check (local@domain.tld, no quoting, no IP literals): an address
// the policy author mistyped is caught by lint rather than bounced by a server later.
const emailAddress =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

/** Parses `webhook:https://…`, `inbox:<name>`, `slack:#channel`, `email:<address>` or `log`; anything else is an error naming the valid forms. */
export function parseNotificationTarget(target: string): NotificationTarget {
  if (typeof target !== 'string') throw unknownTarget(String(target));
  if (target === 'log') return { kind: 'log' };
  if (target.startsWith('inbox:')) {
    const name = target.slice('inbox:'.length);
    if (!inboxName.test(name)) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `Inbox name '${name}' in notification target '${target}' is invalid; use letters, digits and . _ @ + - (up to 128).`,
      );
    }
    return { kind: 'inbox', name };
  }
  if (target.startsWith('slack:')) {
    const channel = target.slice('slack:'.length);
    if (!slackChannel.test(channel)) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `Slack channel '${channel}' in notification target '${target}' is invalid; use slack:#name with lower-case letters, digits, - and _ (up to 80).`,
      );
    }
    return { kind: 'slack', channel };
  }
  if (target.startsWith('email:')) {
    const address = target.slice('email:'.length);
    if (!emailAddress.test(address)) throw invalidAddress(address);
    return { kind: 'email', address: address.toLowerCase() };
  }
  if (target.startsWith('webhook:')) {
    const raw = target.slice('webhook:'.length);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UserError(
        ErrorCode.InputInvalid,
        `Webhook URL '${redactUrl(raw)}' in a notification target is not a valid URL; expected webhook:https://host/path.`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new UserError(
        ErrorCode.InputInvalid,
        `Webhook URL scheme '${url.protocol}' is not supported; use https: (or http: for local receivers).`,
      );
    }
    return { kind: 'webhook', url };
  }
  throw unknownTarget(target);
}

/**
 * The outbox target for a target as a policy writes it: `slack:#…`, `webhook:…`, `inbox:…`,
 * `email:…` and `log` stay as they are, a bare address (`dpo@acme.example`) becomes
 * `email:<address>`, and any other bare name the inbox of that name.
 */
export function outboxTarget(policyTarget: string): string {
  if (/^(webhook|inbox|slack|email):|^log$/.test(policyTarget)) return policyTarget;
  // Anything with an @ is meant as an address: a malformed one is refused, never filed as an inbox.
  if (policyTarget.includes('@')) return `email:${policyTarget}`;
  return `inbox:${policyTarget}`;
}

/** The kind of a stored (outbox) target, without validating it. */
export function targetKind(target: string): NotificationTargetKind {
  if (target === 'log') return 'log';
  const prefix = target.slice(0, target.indexOf(':'));
  return prefix === 'inbox' || prefix === 'slack' || prefix === 'email' ? prefix : 'webhook';
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

function invalidAddress(address: string): UserError {
  return new UserError(
    ErrorCode.InputInvalid,
    `E-mail address '${address}' in a notification target is malformed; expected name@domain.tld.`,
  );
}

function unknownTarget(target: string): UserError {
  return new UserError(
    ErrorCode.InputInvalid,
    `Notification target '${describeNotificationTarget(target)}' is unknown; use an e-mail address, slack:#channel, inbox:<name>, webhook:https://… or log.`,
  );
}
