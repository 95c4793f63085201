// `factory notifications`: read the inboxes the policies notify, mark items read, see every
// delivery's status, deliver the outbox (Slack, e-mail, signed webhooks, with retries), put dead
// letters back in the queue, and check which channels notifications.yaml configures.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import {
  describeNotificationTarget,
  listNotifications,
  markNotificationsRead,
  notificationTransports,
  retryNotifications,
  type Notification,
  type NotificationStatus,
} from '@aifactory/execution/notifications';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, withJson, type CommonOptions } from '../command-kit.ts';
import {
  openWorkspaceStore,
  workspaceConfigFromEnv,
  workspaceNotificationChannels,
  workspaceNotificationDispatcher,
} from '@aifactory/workspace/config';
import { ServerClient, viaServerOrStore } from '../connection.ts';

/** Hooks the notifications commands take from whoever wires the CLI together. */
export interface NotificationsCommandOptions {
  /** Opens the store (default: the workspace store from the environment). */
  openStore?: () => Promise<Store>;
}

interface ListOptions extends CommonOptions {
  unread?: boolean;
  inbox?: string;
  all?: boolean;
  run?: string;
  status?: string;
  limit: string;
}

interface ReadOptions extends CommonOptions {
  all?: boolean;
  inbox?: string;
}

interface DeliverOptions extends CommonOptions {
  watch?: boolean;
  maxAttempts: string;
}

const statuses: NotificationStatus[] = ['pending', 'delivered', 'failed'];

/** Registers the `factory notifications` commands. */
export function registerNotificationsCommands(program: Command, options: NotificationsCommandOptions = {}): Command {
  const group = program
    .command('notifications')
    .description('Read notification inboxes, see delivery status, deliver Slack, e-mail and webhook notifications, retry dead letters.')
    .addHelpText(
      'after',
      '\nPolicies notify e-mail addresses, slack:#channel, inbox:<name>, webhook:https://… or log. Inbox items are read here.' +
        '\nSlack channels and e-mail are declared in notifications.yaml (AIFACTORY_NOTIFICATIONS), which names the environment' +
        '\nvariables holding their secrets; webhooks are signed with AIFACTORY_WEBHOOK_SECRET. Failed deliveries are retried with' +
        '\nbackoff, then kept as dead letters (status failed) that `notifications retry` puts back. See docs/approvals.md.',
    );

  async function withStore<T>(run: (store: Store) => Promise<T>): Promise<T> {
    const store = await (options.openStore ?? openWorkspaceStore)();
    try {
      return await run(store);
    } finally {
      await store.close();
    }
  }

  withJson(
    group
      .command('list')
      .description(
        'List inbox notifications, newest first; with --all every delivery (Slack, e-mail, webhook, log) with its status, attempts and last error.',
      )
      .option('--unread', 'only items nobody marked read')
      .option('--inbox <name>', 'only this inbox (the <name> of inbox:<name>)')
      .option('--all', 'include Slack, e-mail, webhook and log deliveries with their delivery status')
      .option('--run <runId>', "only this run's notifications")
      .option('--status <status>', `only this delivery status: ${statuses.join(', ')}`)
      .option('--limit <n>', 'at most this many', '50'),
  ).action(
    action(async (listOptions: ListOptions) => {
      const limit = Number(listOptions.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new UserError(ErrorCode.InputInvalid, `--limit '${listOptions.limit}' is invalid; use a whole number of at least 1.`);
      const status = listOptions.status as NotificationStatus | undefined;
      if (status !== undefined && !statuses.includes(status))
        throw new UserError(ErrorCode.InputInvalid, `--status '${listOptions.status}' is unknown; use one of ${statuses.join(', ')}.`);
      const filter = {
        limit,
        ...(listOptions.unread ? { unread: true } : {}),
        ...(listOptions.inbox ? { inbox: listOptions.inbox } : {}),
        ...(listOptions.all ? { all: true } : {}),
        ...(listOptions.run ? { runId: listOptions.run } : {}),
        ...(status ? { status } : {}),
      };
      const found = await viaServerOrStore<Notification[]>({
        server: async (connection) => {
          // The server lists inbox items by inbox and unread; delivery status needs the store.
          const unsupported = (['all', 'run', 'status'] as const).filter((key) => listOptions[key] !== undefined);
          if (unsupported.length > 0)
            throw new UserError(
              ErrorCode.InputInvalid,
              `${unsupported.map((key) => `--${key}`).join(', ')} cannot be applied through ${connection.url}: the server lists inbox items by --inbox, --unread and --limit only.`,
            );
          const query = new URLSearchParams({
            limit: String(limit),
            ...(listOptions.unread ? { unread: 'true' } : {}),
            ...(listOptions.inbox ? { inbox: listOptions.inbox } : {}),
          }).toString();
          const answer = await new ServerClient(connection).request<{ notifications: Notification[] }>('GET', `/v1/notifications?${query}`);
          return answer.notifications.map(withNotificationDates);
        },
        store: () => withStore((store) => listNotifications(store, filter)),
      });
      const shown = found.map((notification) => ({ ...notification, target: describeNotificationTarget(notification.target) }));
      emit(listOptions, { notifications: shown }, ({ notifications }) => renderList(notifications, listOptions));
    }),
  );

  withJson(
    group
      .command('read')
      .description('Mark inbox items read, by id or all at once.')
      .argument('[ids...]', 'notification ids')
      .option('--all', 'every unread item (of --inbox, when given)')
      .option('--inbox <name>', 'with --all: only this inbox'),
  ).action(
    action(async (ids: string[], readOptions: ReadOptions) => {
      if (ids.length === 0 && !readOptions.all)
        throw new UserError(ErrorCode.InputInvalid, 'Name the notification ids to mark read, or pass --all.');
      if (ids.length > 0 && readOptions.all) throw new UserError(ErrorCode.InputInvalid, 'Pass notification ids or --all, not both.');
      const numbers = ids.map((id) => {
        const value = Number(id);
        if (!Number.isSafeInteger(value) || value < 1)
          throw new UserError(
            ErrorCode.InputInvalid,
            `Notification id '${id}' is invalid; ids are whole numbers (see factory notifications list).`,
          );
        return value;
      });
      const selection = readOptions.all
        ? { all: true as const, ...(readOptions.inbox ? { inbox: readOptions.inbox } : {}) }
        : { ids: numbers };
      const marked = await viaServerOrStore<number[]>({
        server: async (connection) =>
          (await new ServerClient(connection).request<{ marked: number[] }>('POST', '/v1/notifications/read', selection)).marked,
        store: () => withStore((store) => markNotificationsRead(store, selection)),
      });
      emit(readOptions, { marked }, () =>
        marked.length === 0 ? 'Nothing to mark read.' : `Marked ${marked.length} notification(s) read: ${marked.join(', ')}.`,
      );
    }),
  );

  withJson(
    group
      .command('deliver')
      .description('Deliver pending Slack, e-mail, webhook and log notifications now (factory serve does this in the background).')
      .option('--watch', 'keep delivering until interrupted')
      .option('--max-attempts <n>', 'attempts before a notification becomes a dead letter (status failed)', '8'),
  ).action(
    action(async (deliverOptions: DeliverOptions) => {
      const maxAttempts = Number(deliverOptions.maxAttempts);
      return withStore(async (store) => {
        const dispatcher = await workspaceNotificationDispatcher(store, workspaceConfigFromEnv(), {
          maxAttempts,
          log: (line) => process.stdout.write(`${line}\n`),
          onError: (error) => process.stderr.write(`${pc.red('error')}: delivery round failed: ${(error as Error).message}\n`),
        });
        if (!deliverOptions.watch) {
          const report = await dispatcher.drainOnce();
          await dispatcher.stop();
          emit(
            deliverOptions,
            report,
            (value) => `delivered ${value.delivered.length}, retrying ${value.retrying.length}, failed ${value.failed.length}`,
          );
          return;
        }
        dispatcher.start();
        process.stderr.write(pc.dim('delivering notifications; Ctrl-C to stop\n'));
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await dispatcher.stop();
      });
    }),
  );

  withJson(
    group
      .command('retry')
      .description('Put dead letters (failed deliveries) back in the queue with a fresh attempt count, by id or all at once.')
      .argument('[ids...]', 'notification ids (see factory notifications list --all --status failed)')
      .option('--all', 'every failed notification'),
  ).action(
    action(async (ids: string[], retryOptions: ReadOptions) => {
      if (ids.length === 0 && !retryOptions.all)
        throw new UserError(ErrorCode.InputInvalid, 'Name the notification ids to retry, or pass --all.');
      if (ids.length > 0 && retryOptions.all) throw new UserError(ErrorCode.InputInvalid, 'Pass notification ids or --all, not both.');
      const numbers = ids.map((id) => {
        const value = Number(id);
        if (!Number.isSafeInteger(value) || value < 1)
          throw new UserError(
            ErrorCode.InputInvalid,
            `Notification id '${id}' is invalid; ids are whole numbers (see factory notifications list --all).`,
          );
        return value;
      });
      const requeued = await withStore((store) => retryNotifications(store, retryOptions.all ? { all: true } : { ids: numbers }));
      emit(retryOptions, { requeued }, () =>
        requeued.length === 0
          ? 'No failed notifications to retry.'
          : `Requeued ${requeued.length} notification(s): ${requeued.join(', ')}. Deliver with factory notifications deliver (or a running factory serve).`,
      );
    }),
  );

  withJson(
    group
      .command('channels')
      .description(
        'Show the Slack channels and e-mail server notifications.yaml configures, and whether their secrets are set (never their values).',
      ),
  ).action(
    action(async (channelsOptions: CommonOptions) => {
      const config = workspaceConfigFromEnv();
      const channels = await workspaceNotificationChannels(config);
      const transports = notificationTransports(channels, process.env);
      const result = {
        file: channels.file ?? null,
        slack: Object.entries(channels.slack).map(([channel, entry]) => ({
          channel,
          env: entry.webhookUrlEnv,
          ready: Object.hasOwn(transports.slack, channel),
        })),
        email: channels.email
          ? {
              from: channels.email.from,
              env: channels.email.smtpUrlEnv,
              domains: channels.email.domains ?? null,
              ready: transports.email !== undefined,
            }
          : null,
        webhooks: { signed: Boolean(process.env.AIFACTORY_WEBHOOK_SECRET) },
      };
      emit(channelsOptions, result, (value) => {
        if (!value.file) return `No ${config.notificationsFile}: only inbox:, webhook: and log targets are deliverable.`;
        const ready = (flag: boolean, env: string) => (flag ? pc.green('ready') : pc.yellow(`${env} not set`));
        const lines = [`Channels from ${value.file}:`];
        for (const entry of value.slack) lines.push(`  slack:${entry.channel}  ${ready(entry.ready, entry.env)}`);
        lines.push(
          value.email
            ? `  e-mail from ${value.email.from}${value.email.domains ? ` to ${value.email.domains.map((domain) => `*@${domain}`).join(', ')}` : ''}  ${ready(value.email.ready, value.email.env)}`
            : '  e-mail: not configured',
        );
        lines.push(`  webhooks: ${value.webhooks.signed ? pc.green('signed') : pc.yellow('AIFACTORY_WEBHOOK_SECRET not set')}`);
        return lines.join('\n');
      });
    }),
  );
  return group;
}

function renderList(items: Array<Notification & { target: string }>, options: ListOptions): string {
  if (items.length === 0) return options.unread ? 'No unread notifications.' : 'No notifications.';
  return items
    .map((item) => {
      const flag =
        item.kind === 'inbox'
          ? item.readAt
            ? pc.dim('read  ')
            : pc.yellow('unread')
          : item.status === 'failed'
            ? pc.red('failed')
            : item.status === 'pending'
              ? pc.yellow('pending')
              : pc.green('sent  ');
      const delivery =
        item.kind === 'inbox' ? '' : pc.dim(` attempts ${item.attempts}${item.lastError ? `, last error: ${item.lastError}` : ''}`);
      return `${String(item.id).padStart(5)}  ${flag}  ${item.createdAt.toISOString()}  ${item.target}  ${item.runId}  ${summary(item.payload)}${delivery}`;
    })
    .join('\n');
}

/** One line of the payload: its message when it has one, else compact JSON. */
function summary(payload: unknown): string {
  if (payload && typeof payload === 'object' && 'message' in payload && typeof (payload as { message: unknown }).message === 'string')
    return (payload as { message: string }).message;
  const text = JSON.stringify(payload);
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

/** A notification read over HTTP carries ISO strings where the store gives dates. */
function withNotificationDates(notification: Notification): Notification {
  const date = (value: Date | string | null | undefined) => (value === null || value === undefined ? null : new Date(value));
  const record = notification as unknown as Record<string, unknown>;
  const dated: Record<string, unknown> = { ...record };
  for (const key of ['createdAt', 'deliveredAt', 'readAt', 'nextAttemptAt'])
    if (key in record) dated[key] = date(record[key] as string | null);
  return dated as unknown as Notification;
}
