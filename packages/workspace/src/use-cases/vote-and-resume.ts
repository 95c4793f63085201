// Use case: an approver votes on a held action; when the vote decides the approval (enough
// approvals, or one rejection), the held run resumes from its checkpoint with the approval
// applied. The HTTP API, `factory approvals approve|reject` and MCP elicitation all go through
// here, so the rules (the service's single-use, bound approvals; resume only once decided) are
// written once. Adapters keep only what is theirs: how they print, log, stream or track the run.
import type { AgentRuntime, ApprovalService, Ballot, RunEventListener, RunResult, VoteResult } from '@aifactory/execution';

/** A vote to cast. */
export interface VoteAndResumeRequest {
  /** The approval voted on (apr_…). */
  approvalId: string;
  /** Who votes, with which roles, yes or no, and why. */
  ballot: Ballot;
  /** Called once the vote is recorded, before the run resumes (print it, count it, open a stream). */
  onVoted?: (vote: VoteResult) => void | Promise<void>;
  /** Receives the resumed run's events. */
  onEvent?: RunEventListener;
  /** The run whose result `resumed` gives (default the approval's run); a run waiting on it through hand-offs goes on with it either way. */
  runId?: string;
  /** Whether to resume a decided run now (default true); false leaves it for `factory runs resume` or a restart. */
  resume?: boolean;
}

/** What the vote did. */
export type VoteAndResumeResult =
  /** The vote counts; more approvals are needed, nothing resumes. */
  | { kind: 'counted'; vote: Extract<VoteResult, { kind: 'counted' }> }
  /** The vote decided the approval; `resumed` settles when the resumed run completes, fails or is held again (absent when not resumed). */
  | { kind: 'decided'; vote: Extract<VoteResult, { kind: 'approved' | 'rejected' }>; resumed?: Promise<RunResult> };

/** Casts the vote, then resumes the run once the approval is decided. */
export async function voteAndResume(
  parts: { approvals: Pick<ApprovalService, 'vote'>; runtime: Pick<AgentRuntime, 'resume'> },
  request: VoteAndResumeRequest,
): Promise<VoteAndResumeResult> {
  const vote = await parts.approvals.vote(request.approvalId, request.ballot);
  await request.onVoted?.(vote);
  if (vote.kind === 'counted') return { kind: 'counted', vote };
  if (request.resume === false) return { kind: 'decided', vote };
  // An action held in a governed session (the MCP proxy, the LangChain middleware) has no agent run
  // to resume: its caller asks again and the session consumes the approval then.
  if (vote.approval.context['resumed_by'] === 'caller') return { kind: 'decided', vote };
  const resumed = parts.runtime.resume(request.runId ?? vote.approval.runId, {
    approvalId: vote.approval.id,
    ...(request.onEvent ? { onEvent: request.onEvent } : {}),
  });
  return { kind: 'decided', vote, resumed };
}
