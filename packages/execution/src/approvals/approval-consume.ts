// Using a decided approval: for exactly the call it was asked for (run, step, argument hash,
// policy), once. Anything else is refused (recorded) with APPROVAL_INVALID. Records
// approval.consumed, or puts the approval back.
import { ErrorCode, UserError } from '@aifactory/core';
import { bindingProblem, notPending, toApprovalInvalid, validateBinding } from './approval-checks.ts';
import { toApproval, toVoteRow, type ApprovalContext } from './approval-context.ts';
import { markApprovalConsumed, unmarkApprovalConsumed } from './approval-rows.ts';
import type { ApprovalBinding, ApprovalOutcome, ConsumedApproval } from './approval-types.ts';

/** Uses a decided approval for exactly the call it was asked for, once; anything else throws APPROVAL_INVALID. */
export async function consumeApproval(context: ApprovalContext, approvalId: string, binding: ApprovalBinding): Promise<ConsumedApproval> {
  validateBinding(binding);
  await context.expire(approvalId);
  const approval = await context.find(approvalId);
  const offered = { run_id: binding.runId, step: binding.step, args_hash: binding.argsHash, policy_hash: binding.policyHash };
  if (!approval) {
    return context.refuse(
      { id: approvalId, runId: binding.runId, step: binding.step },
      'consume',
      'runtime',
      new UserError(ErrorCode.ApprovalInvalid, `Approval '${approvalId}' does not exist.`),
      { offered },
    );
  }
  const problem = bindingProblem(approval, binding);
  if (problem) return context.refuse(approval, 'consume', 'runtime', problem, { offered });
  const at = context.now();
  const previous = approval.status;
  // The conditional update is the single-use guarantee: of any number of racing resumers,
  // exactly one moves the approval from its decided state to consumed.
  const row = await markApprovalConsumed(context.store, approvalId, previous, binding, at);
  if (!row) {
    const current = await context.find(approvalId);
    const error = current
      ? (bindingProblem(current, binding) ?? notPending(current))
      : new UserError(ErrorCode.ApprovalInvalid, `Approval '${approvalId}' does not exist.`);
    return context.refuse(approval, 'consume', 'runtime', toApprovalInvalid(error), { offered });
  }
  const outcome = (row.outcome as ApprovalOutcome | null) ?? 'rejected';
  const deciders = approval.votes.filter((vote) => (outcome === 'approved' ? vote.vote === 'approve' : vote.vote === 'reject'));
  await context.recordOrUndo(
    approval.runId,
    'approval.consumed',
    'runtime',
    {
      approval_id: approvalId,
      step: approval.step,
      args_hash: binding.argsHash,
      policy_hash: binding.policyHash,
      outcome,
      decided_as: previous,
    },
    () => unmarkApprovalConsumed(context.store, approvalId, previous, at),
  );
  const comments = deciders.filter((vote) => vote.comment).map((vote) => `${vote.approver}: ${vote.comment}`);
  return {
    outcome,
    approvers: deciders.map((vote) => vote.approver),
    ...(comments.length > 0 ? { comment: comments.join('; ') } : {}),
    approval: context.masked(toApproval(row, approval.votes.map(toVoteRow(approvalId)))),
  };
}
