// What a running agent tells whoever watches it (the CLI, the SSE endpoint): tokens as they
// stream, each governed action with its authority, holds, results and the end of the run.
import type { Authority } from '@aifactory/control';

/** One thing that happened in a run, in the order it happened. */
export type RunEvent =
  | { type: 'run.started'; runId: string; agent: string; principal: string }
  | { type: 'token'; runId: string; text: string }
  | {
      type: 'action.decided';
      runId: string;
      step: number;
      kind: string;
      name: string;
      args: Record<string, unknown>;
      authority: Authority;
      rules: string[];
      reason: string;
    }
  | { type: 'tool.returned'; runId: string; step: number; name: string; ok: boolean; summary: string }
  | { type: 'notification.queued'; runId: string; step: number; targets: string[] }
  | {
      type: 'run.held';
      runId: string;
      step: number;
      approvalId: string;
      kind: string;
      name: string;
      args: Record<string, unknown>;
      approvers: unknown;
      expiresAt?: string;
      /** Set when the run waits on a hand-off's child run, which holds the approval. */
      childRunId?: string;
    }
  | { type: 'approval.applied'; runId: string; step: number; approvalId: string; outcome: 'approved' | 'rejected' }
  | { type: 'budget.exceeded'; runId: string; limit: string; value: number; max: number; outcome: string }
  | { type: 'answer'; runId: string; text: string }
  | { type: 'run.completed'; runId: string; answer: string }
  | { type: 'run.failed'; runId: string; reason: string };

/** A listener for run events; it must not throw (errors are swallowed so a bad listener cannot break a run). */
export type RunEventListener = (event: RunEvent) => void;
