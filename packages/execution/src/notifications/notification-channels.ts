// The channels notifications reach people through, as the workspace's notifications.yaml declares
// them: Slack channels (each an incoming webhook) and e-mail (one SMTP server). The file holds no
// secret: it names the environment variables that do, so it can be committed and reviewed, and
// lint can tell a target nobody configured from one that will be delivered.
import { readFile } from 'node:fs/promises';
import { ErrorCode, UserError } from '@aifactory/core';
import { z } from 'zod';
import { formatPath as formatFieldPath, parseYamlSource } from '@aifactory/core/yaml';
import { outboxTarget, parseNotificationTarget } from './notification-target.ts';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'Expected the name of an environment variable (letters, digits and _).');

const channelsSchema = z
  .object({
    slack: z
      .record(
        z.string().regex(/^#[a-z0-9][a-z0-9_-]{0,79}$/, 'Slack channels are written #name (lower-case letters, digits, - and _).'),
        z.object({ webhook_url_env: envName.describe('Environment variable holding the channel’s incoming-webhook URL.') }).strict(),
      )
      .optional(),
    email: z
      .object({
        from: z.string().min(3).describe('The From: of every notification e-mail.'),
        smtp_url_env: envName.describe('Environment variable holding smtp://user:password@host:port (smtps:// for TLS).'),
        domains: z
          .array(z.string().regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'Expected a lower-case domain name.'))
          .min(1)
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The channels a workspace declares (notifications.yaml), without secrets. */
export interface NotificationChannelsConfig {
  /** The file they were read from, when there was one. */
  file?: string;
  /** Slack channel (`#name`) → the environment variable holding its incoming-webhook URL. */
  slack: Readonly<Record<string, { webhookUrlEnv: string }>>;
  /** E-mail, when configured: the From:, the variable holding the SMTP URL, and the domains addresses may be in (any, when absent). */
  email?: { from: string; smtpUrlEnv: string; domains?: readonly string[] };
}

/** No channels: only inboxes, webhooks and the log are deliverable. */
export const noNotificationChannels: NotificationChannelsConfig = Object.freeze({ slack: Object.freeze({}) });

/** Parses notifications.yaml text; problems are UserErrors naming file, line, column and field. */
export function parseNotificationChannels(text: string, file: string): NotificationChannelsConfig {
  const source = parseYamlSource(text, file, ErrorCode.InputInvalid, `Notification channels file ${file}`);
  const parsed = channelsSchema.safeParse(source.value ?? {});
  if (!parsed.success) {
    // An unknown key says more (a secret written inline, a typo) than the required field it displaced.
    const issue = parsed.error.issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? parsed.error.issues[0]!;
    const issuePath = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
    const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
    const location = key === undefined ? source.locate(issuePath) : source.locate([...issuePath, key], { key: true });
    const field = formatFieldPath(key === undefined ? issuePath : [...issuePath, key]) || '(document)';
    const message = issue.code === 'unrecognized_keys' ? `Unknown key '${key}'.` : issue.message.replace(/^Invalid input: /, '');
    throw new UserError(ErrorCode.InputInvalid, `${field}: ${message}`, { location });
  }
  const slack: Record<string, { webhookUrlEnv: string }> = {};
  for (const [channel, entry] of Object.entries(parsed.data.slack ?? {})) slack[channel] = { webhookUrlEnv: entry.webhook_url_env };
  const email = parsed.data.email;
  return {
    file,
    slack: Object.freeze(slack),
    ...(email ? { email: { from: email.from, smtpUrlEnv: email.smtp_url_env, ...(email.domains ? { domains: email.domains } : {}) } } : {}),
  };
}

/** Reads notifications.yaml; a missing file means no channels. */
export async function readNotificationChannels(file: string): Promise<NotificationChannelsConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return noNotificationChannels;
    throw new UserError(ErrorCode.InputInvalid, `Notification channels file ${file} cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseNotificationChannels(text, file);
}

/**
 * Why a target as a policy writes it cannot be delivered with these channels, or undefined when it
 * can: a malformed target, a Slack channel or e-mail nobody configured, an address outside the
 * configured domains.
 */
export function undeliverableTarget(policyTarget: string, channels: NotificationChannelsConfig): string | undefined {
  let target;
  try {
    target = parseNotificationTarget(outboxTarget(policyTarget));
  } catch (error) {
    return (error as Error).message;
  }
  const where = channels.file ? `in ${channels.file}` : 'because there is no notifications.yaml';
  if (target.kind === 'slack' && !Object.hasOwn(channels.slack, target.channel)) {
    const known = Object.keys(channels.slack);
    return `Slack channel '${target.channel}' is not configured ${where}; ${known.length > 0 ? `configured channels: ${known.join(', ')}` : 'add it under slack: with the variable holding its webhook URL'}.`;
  }
  if (target.kind === 'email') {
    if (!channels.email)
      return `E-mail to '${target.address}' cannot be delivered: e-mail is not configured ${where} (add email: {from, smtp_url_env}).`;
    const domains = channels.email.domains;
    const domain = target.address.slice(target.address.lastIndexOf('@') + 1);
    if (domains && !domains.includes(domain))
      return `E-mail address '${target.address}' is outside the configured domains (${domains.join(', ')}).`;
  }
  return undefined;
}

/** The secrets the channels name, read from `env`: what a dispatcher delivers Slack and e-mail with. */
export interface NotificationTransports {
  /** Slack channel → incoming-webhook URL (a secret: never logged). */
  slack: Readonly<Record<string, string>>;
  /** SMTP connection URL (a secret: it carries the password) and the From:. */
  email?: { smtpUrl: string; from: string; domains?: readonly string[] };
  /** Why a declared channel has no secret (its variable is unset), by `slack:#x` or `email`. */
  missing: Readonly<Record<string, string>>;
}

/** Resolves the channels' environment variables; an unset one makes that channel fail with a message naming the variable. */
export function notificationTransports(
  channels: NotificationChannelsConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): NotificationTransports {
  const slack: Record<string, string> = {};
  const missing: Record<string, string> = {};
  for (const [channel, entry] of Object.entries(channels.slack)) {
    const url = env[entry.webhookUrlEnv]?.trim();
    if (url) slack[channel] = url;
    else missing[`slack:${channel}`] = `${entry.webhookUrlEnv} is not set (the incoming-webhook URL of ${channel})`;
  }
  let email: NotificationTransports['email'];
  if (channels.email) {
    const smtpUrl = env[channels.email.smtpUrlEnv]?.trim();
    if (smtpUrl) email = { smtpUrl, from: channels.email.from, ...(channels.email.domains ? { domains: channels.email.domains } : {}) };
    else missing.email = `${channels.email.smtpUrlEnv} is not set (the SMTP server's smtp://user:password@host:port)`;
  }
  return { slack: Object.freeze(slack), ...(email ? { email } : {}), missing: Object.freeze(missing) };
}
