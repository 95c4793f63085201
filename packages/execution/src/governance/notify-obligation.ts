// The notify obligation's one way into the outbox. Every gate — the runtime's, a governed session's
// (the MCP proxy, the LangChain middleware), the LLM gateway's — carries it out through this, so a
// policy's `notify` reaches the same people whichever path the action took.
import { outboxTarget } from '../notifications/notification-target.ts';
import type { GateObligations } from './gate.ts';

/** Queues one notification in the outbox (the workspace's: redacted, and with its delivery job under a queue). */
export type RuntimeNotifier = (input: { runId: string; target: string; payload: Record<string, unknown> }) => Promise<void>;

/**
 * The gate's notify port over a notifier. Policies name people and channels (dpo@acme.example,
 * slack:#ops): an address becomes an e-mail, a bare name the inbox of that name.
 */
export function notifyObligation(notify: RuntimeNotifier): NonNullable<GateObligations['notify']> {
  return async (runId, targets, payload) => {
    for (const target of targets) await notify({ runId, target: outboxTarget(target), payload: { ...payload } });
  };
}
