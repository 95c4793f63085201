// Use case: an approver votes on a held action; when the vote decides the approval (enough
// approvals, or one rejection), the held run resumes from its checkpoint with the approval
// applied, and a held prompt promotion completes (its label moves, or the refusal is recorded). The HTTP API, `factory approvals approve|reject` and MCP elicitation all go through
// here, so the rules (the service's single-use, bound approvals; resume only once decided) are
// written once. Adapters keep only what is theirs: how they print, log, stream or track the run.
import type { AgentRuntime, ApprovalService, Ballot, RunEventListener, RunResult, VoteResult } from '@aifactory/execution';
import type { PromotionResult } from '@aifactory/quality';
import type { Store } from '@aifactory/store';
import type { Recorder } from '@aifactory/verification';

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
  /**
   * The vote decided the approval; `resumed` settles when the resumed run completes, fails or is
   * held again (absent when not resumed); `promotion` when a held prompt promotion has completed.
   */
  | {
      kind: 'decided';
      vote: Extract<VoteResult, { kind: 'approved' | 'rejected' }>;
      resumed?: Promise<RunResult>;
      promotion?: Promise<PromotionResult>;
    };

/** Casts the vote, then resumes the run once the approval is decided. */
export async function voteAndResume(
  parts: {
    approvals: Pick<ApprovalService, 'vote' | 'get' | 'consume'>;
    runtime: Pick<AgentRuntime, 'resume'>;
    /** The store and recorder a held prompt promotion is completed with (without them it stays decided for `prompts promote --approval`). */
    store?: Store;
    recorder?: Recorder;
  },
  request: VoteAndResumeRequest,
): Promise<VoteAndResumeResult> {
  const vote = await parts.approvals.vote(request.approvalId, request.ballot);
  await request.onVoted?.(vote);
  if (vote.kind === 'counted') return { kind: 'counted', vote };
  if (request.resume === false) return { kind: 'decided', vote };
  // A held prompt promotion has no agent run: the registry completes it now, under the policies that held it.
  const { completeHeldPromotion, PROMOTION_RESUMER } = await import('@aifactory/quality');
  if (vote.approval.context['resumed_by'] === PROMOTION_RESUMER) {
    const { store, recorder } = parts;
    if (!store || !recorder) return { kind: 'decided', vote };
    const promotion = completeHeldPromotion({ store, recorder, approvals: parts.approvals }, vote.approval.id);
    // Adapters that do not wait for it must not crash the process on its failure; those that do still see it.
    promotion.catch(() => undefined);
    return { kind: 'decided', vote, promotion };
  }
  // An action held in a governed session (the MCP proxy, the LangChain middleware) has no agent run
  // to resume: its caller asks again and the session consumes the approval then.
  if (vote.approval.context['resumed_by'] === 'caller') return { kind: 'decided', vote };
  const resumed = parts.runtime.resume(request.runId ?? vote.approval.runId, {
    approvalId: vote.approval.id,
    ...(request.onEvent ? { onEvent: request.onEvent } : {}),
  });
  return { kind: 'decided', vote, resumed };
}
