// Notifications through a transactional outbox: signed webhooks with retries, inboxes the CLI
// reads, log lines. Anything exported here is public API.
export { enqueueNotification, getNotification, listNotifications, markNotificationsRead } from './notification-outbox.ts';
export type { Notification, NotificationFilter, NotificationInput, NotificationStatus, NotificationWriter } from './notification-outbox.ts';
export { createNotificationDispatcher } from './notification-dispatcher.ts';
export type { Backoff, DrainReport, NotificationDispatcher, NotificationDispatcherOptions } from './notification-dispatcher.ts';
export { describeNotificationTarget, parseNotificationTarget } from './notification-target.ts';
export type { NotificationTarget } from './notification-target.ts';
export { deliveryHeader, signWebhook, signatureHeader, verifyWebhookSignature } from './webhook-signature.ts';
export type { VerifyWebhookOptions, WebhookVerification } from './webhook-signature.ts';
