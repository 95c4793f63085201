// What a notification says to a person: one subject line and a few lines of text, built from the
// payload the runtime queued (agent, action, rules, reason, step) with the run to look at.
import type { Notification } from './notification-outbox.ts';

/** A notification in words. */
export interface NotificationMessage {
  /** One line: what happened. */
  subject: string;
  /** A few lines: why, where, and the command that shows the run. */
  text: string;
}

/** Renders a notification for people (Slack, e-mail); payloads of any shape get a JSON fallback. */
export function notificationMessage(notification: Pick<Notification, 'id' | 'runId' | 'payload'>): NotificationMessage {
  const payload = (notification.payload && typeof notification.payload === 'object' ? notification.payload : {}) as Record<string, unknown>;
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value : undefined);
  const action = (payload.action && typeof payload.action === 'object' ? payload.action : {}) as Record<string, unknown>;
  const agent = text(payload.agent);
  const actionName = text(action.name);
  const actionKind = text(action.kind);
  const rules = Array.isArray(payload.rules)
    ? payload.rules.map((rule) => (typeof rule === 'string' ? rule : (text((rule as Record<string, unknown>)?.id) ?? JSON.stringify(rule))))
    : [];
  const message = text(payload.message);
  // The gate tells of every authority a policy asks it to (a denial, a hold, a notice); older payloads carry none.
  const did = payload.authority === 'deny' ? 'was denied' : payload.authority === 'require_approval' ? 'waits for approval to run' : 'ran';
  const subject =
    message ??
    (actionName
      ? `${agent ? `Agent ${agent}` : 'An agent'} ${did} ${actionKind ?? 'action'} ${actionName}${did === 'ran' ? ' with notice' : ''}`
      : `Notification about run ${notification.runId}`);
  const lines = [subject];
  const reason = text(payload.reason);
  if (reason && reason !== subject) lines.push(`Reason: ${reason}`);
  if (rules.length > 0) lines.push(`Rules: ${rules.join(', ')}`);
  const step = typeof payload.step === 'number' ? `, step ${payload.step}` : '';
  lines.push(`Run: ${notification.runId}${step} (factory runs show ${notification.runId})`);
  if (!message && !actionName) lines.push(JSON.stringify(payload));
  return { subject: subject.length > 180 ? `${subject.slice(0, 179)}…` : subject, text: lines.join('\n') };
}
