// The workspace's notification channels and dispatcher: notifications.yaml (AIFACTORY_NOTIFICATIONS,
// default ./notifications.yaml) says which Slack channels and which e-mail server exist and names
// the environment variables holding their secrets; AIFACTORY_WEBHOOK_SECRET signs webhooks. `serve`
// and `factory notifications deliver` build their dispatcher here, and `policy lint` checks targets
// against the same file, so what lint accepts is what gets delivered.
import type { Store } from '@aifactory/store';
import {
  createNotificationDispatcher,
  notificationTransports,
  readNotificationChannels,
  type NotificationChannelsConfig,
  type NotificationDispatcher,
  type NotificationDispatcherOptions,
} from '@aifactory/execution/notifications';
import type { WorkspaceConfig } from './workspace-config.ts';

/** The channels the workspace declares (never their secrets). */
export function workspaceNotificationChannels(config: Pick<WorkspaceConfig, 'notificationsFile'>): Promise<NotificationChannelsConfig> {
  return readNotificationChannels(config.notificationsFile);
}

/** A dispatcher over `store` delivering to the workspace's channels, with secrets from its environment. */
export async function workspaceNotificationDispatcher(
  store: Store,
  config: Pick<WorkspaceConfig, 'notificationsFile' | 'redactionEnv'>,
  options: Omit<NotificationDispatcherOptions, 'channels' | 'secret'> = {},
): Promise<NotificationDispatcher> {
  const channels = await workspaceNotificationChannels(config);
  const secret = config.redactionEnv.AIFACTORY_WEBHOOK_SECRET;
  return createNotificationDispatcher(store, {
    ...options,
    channels: notificationTransports(channels, config.redactionEnv),
    ...(secret ? { secret } : {}),
  });
}
