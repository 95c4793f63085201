// Casting a vote: roles, separation of duties, one vote per approver and expiry are enforced under
// the approval's row lock (approval-rows.ts:castVoteLocked); the vote that completes or rejects the
// approval decides it. Records approval.voted, .granted or .rejected, or undoes the vote.
import { ErrorCode, UserError } from '@aifactory/core';
import { validateBallot } from './approval-checks.ts';
import { rowSummary, type ApprovalContext } from './approval-context.ts';
import { castVoteLocked, deleteVote, reopenApproval } from './approval-rows.ts';
import type { Ballot, VoteResult } from './approval-types.ts';

/** Casts a vote, enforcing roles, separation of duties, one vote per approver and expiry. */
export async function castVote(context: ApprovalContext, approvalId: string, ballot: Ballot): Promise<VoteResult> {
  validateBallot(ballot);
  await context.expire(approvalId);
  const approverId = ballot.approver.id.trim();
  const roles = [...new Set(ballot.approver.roles)];
  const at = context.now();
  // Votes on one approval are serialised by the row lock: the second of two simultaneous
  // approvers sees the first one's vote, so the count is right and one of them decides.
  const settled = await castVoteLocked(context.store, approvalId, {
    approverId,
    roles,
    vote: ballot.vote,
    comment: ballot.comment === undefined ? null : context.redact(ballot.comment),
    at,
  });
  if (settled.kind === 'missing')
    throw new UserError(ErrorCode.NotFound, `Approval '${approvalId}' does not exist; run 'factory approvals list' to see the open ones.`);
  if (settled.kind === 'refused')
    return context.refuse(rowSummary(settled.row), 'vote', approverId, settled.error, { approver: approverId, roles });
  const approval = await context.mustFind(approvalId);
  const votes = approval.votes.map((vote) => ({
    approver: vote.approver,
    roles: vote.roles,
    vote: vote.vote,
    ...(vote.comment ? { comment: vote.comment } : {}),
  }));
  // Undo: take the vote back and, if it decided, reopen the approval (unless already consumed).
  const undo = async () => {
    await deleteVote(context.store, approvalId, approverId);
    if (settled.outcome) await reopenApproval(context.store, approvalId, settled.outcome);
  };
  const base = { approval_id: approvalId, step: approval.step };
  if (settled.outcome === 'approved') {
    await context.recordOrUndo(
      approval.runId,
      'approval.granted',
      approverId,
      { ...base, approvers: votes.filter((vote) => vote.vote === 'approve').map((vote) => vote.approver), votes },
      undo,
    );
    return { kind: 'approved', approval };
  }
  if (settled.outcome === 'rejected') {
    await context.recordOrUndo(
      approval.runId,
      'approval.rejected',
      approverId,
      { ...base, rejected_by: approverId, ...(ballot.comment ? { comment: ballot.comment } : {}), votes },
      undo,
    );
    return { kind: 'rejected', approval };
  }
  await context.recordOrUndo(
    approval.runId,
    'approval.voted',
    approverId,
    {
      ...base,
      approver: approverId,
      roles,
      vote: ballot.vote,
      ...(ballot.comment ? { comment: ballot.comment } : {}),
      remaining: settled.remaining,
    },
    undo,
  );
  return { kind: 'counted', approval, remaining: settled.remaining };
}
