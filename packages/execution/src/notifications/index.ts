// Notifications through a transactional outbox: signed webhooks, Slack incoming webhooks and
// e-mail with retries and dead letters, inboxes the CLI reads, log lines. Anything exported here
// is public API.
export {
  enqueueNotification,
  getNotification,
  listNotifications,
  markNotificationsRead,
  retryNotifications,
} from './notification-outbox.ts';
export type { Notification, NotificationFilter, NotificationInput, NotificationStatus, NotificationWriter } from './notification-outbox.ts';
export { createNotificationDispatcher } from './notification-dispatcher.ts';
export type { Backoff, DrainReport, NotificationDispatcher, NotificationDispatcherOptions } from './notification-dispatcher.ts';
export { describeNotificationTarget, outboxTarget, parseNotificationTarget } from './notification-target.ts';
export type { NotificationTarget, NotificationTargetKind } from './notification-target.ts';
export {
  noNotificationChannels,
  notificationTransports,
  parseNotificationChannels,
  readNotificationChannels,
  undeliverableTarget,
} from './notification-channels.ts';
export type { NotificationChannelsConfig, NotificationTransports } from './notification-channels.ts';
export { notificationMessage } from './notification-message.ts';
export type { NotificationMessage } from './notification-message.ts';
export { deliveryHeader, signWebhook, signatureHeader, verifyWebhookSignature } from './webhook-signature.ts';
export type { VerifyWebhookOptions, WebhookVerification } from './webhook-signature.ts';
