// The approval rules that need no store: who may vote, why a decided approval cannot be used
// for a call, and whether a request, ballot or binding is well formed.
import { ErrorCode, UserError } from '@aifactory/core';
import type { ApprovalRecord } from './approval-rows.ts';
import type { ApprovalRequirement } from './approval-requirement.ts';
import type { Approval, ApprovalBinding, ApprovalRequest, Ballot } from './approval-types.ts';

type ApprovalRow = ApprovalRecord;

/** Why `approver` may not cast `vote` on `approval` (separation of duties, roles), or undefined when they may. */
export function voteIneligibility(
  approval: Pick<Approval, 'id' | 'runId' | 'requestedBy' | 'requirement'>,
  approver: { id: string; roles: readonly string[] },
  vote: Ballot['vote'] = 'approve',
): UserError | undefined {
  return checkEligibility(approval, approval.requirement, approver.id, [...approver.roles], vote);
}

/** Why a principal may not cast this vote, or undefined when they may. */
export function checkEligibility(
  row: Pick<ApprovalRow, 'id' | 'runId' | 'requestedBy'>,
  requirement: ApprovalRequirement,
  approver: string,
  roles: string[],
  vote: Ballot['vote'],
): UserError | undefined {
  const isRequester = approver === row.requestedBy;
  // Withdrawing one's own request is always allowed: a rejection never widens what the agent may do.
  if (vote === 'reject' && isRequester) return undefined;
  if (vote === 'approve' && isRequester && requirement.separation_of_duties) {
    return new UserError(
      ErrorCode.Forbidden,
      `${approver} started run '${row.runId}' and cannot approve its actions (separation of duties); ask another approver.`,
    );
  }
  if (requirement.roles.length > 0 && !roles.some((role) => requirement.roles.includes(role))) {
    const held = roles.length > 0 ? `holds ${roles.join(', ')}` : 'holds no role';
    return new UserError(
      ErrorCode.Forbidden,
      `${approver} ${held} and cannot vote on approval '${row.id}'; it needs one of: ${requirement.roles.join(', ')}.`,
    );
  }
  return undefined;
}

export function notPending(row: Pick<ApprovalRow, 'id' | 'status' | 'outcome'>): UserError {
  if (row.status === 'consumed')
    return new UserError(
      ErrorCode.ApprovalInvalid,
      `Approval '${row.id}' was already used (${row.outcome ?? 'decided'}); an approval works once.`,
    );
  if (row.status === 'expired')
    return new UserError(
      ErrorCode.Conflict,
      `Approval '${row.id}' expired (resolved as ${row.outcome ?? 'rejected'}); it can no longer be voted on.`,
    );
  if (row.status === 'pending')
    return new UserError(ErrorCode.ApprovalInvalid, `Approval '${row.id}' is still pending; it cannot be used before it is decided.`);
  return new UserError(ErrorCode.Conflict, `Approval '${row.id}' is already ${row.status}; it can no longer be voted on.`);
}

/** The first way a binding differs from what was approved, or why the approval cannot be used now. */
export function bindingProblem(approval: Approval, binding: ApprovalBinding): UserError | undefined {
  const mismatches: string[] = [];
  if (approval.runId !== binding.runId) mismatches.push(`run '${binding.runId}' (approved for '${approval.runId}')`);
  if (approval.step !== binding.step) mismatches.push(`step ${binding.step} (approved for step ${approval.step})`);
  if (approval.argsHash !== binding.argsHash)
    mismatches.push(`arguments hashing to ${binding.argsHash.slice(0, 12)}… (approved ${approval.argsHash.slice(0, 12)}…)`);
  if (approval.policyHash !== binding.policyHash)
    mismatches.push(`policy ${binding.policyHash.slice(0, 12)}… (approved under ${approval.policyHash.slice(0, 12)}…)`);
  if (mismatches.length > 0) {
    return new UserError(
      ErrorCode.ApprovalInvalid,
      `Approval '${approval.id}' is bound to another call: this one has ${mismatches.join(', ')}.`,
      {
        details: { mismatches },
      },
    );
  }
  if (approval.status === 'pending' || approval.status === 'consumed') return toApprovalInvalid(notPending(approval));
  return undefined;
}

export function toApprovalInvalid(error: UserError): UserError {
  return error.code === ErrorCode.ApprovalInvalid
    ? error
    : new UserError(ErrorCode.ApprovalInvalid, error.message, { ...(error.details ? { details: error.details } : {}) });
}

export function validateRequest(request: ApprovalRequest): void {
  const problems: string[] = [];
  if (!isText(request?.runId)) problems.push('runId must be a non-empty string');
  if (!Number.isInteger(request?.step) || request.step < 0) problems.push('step must be a whole number of at least 0');
  if (!request?.action || !isText(request.action.kind) || !isText(request.action.name)) problems.push('action needs a kind and a name');
  if (!isText(request?.policyHash)) problems.push('policyHash must be a non-empty string');
  if (!isText(request?.requestedBy)) problems.push("requestedBy must name the run's principal");
  if (problems.length > 0) throw new UserError(ErrorCode.InputInvalid, `Approval request is invalid: ${problems.join('; ')}.`);
}

export function validateBallot(ballot: Ballot): void {
  if (!ballot?.approver || !isText(ballot.approver.id))
    throw new UserError(ErrorCode.InputInvalid, "A vote needs the approver's identity (approver.id).");
  if (!Array.isArray(ballot.approver.roles) || ballot.approver.roles.some((role) => !isText(role))) {
    throw new UserError(ErrorCode.InputInvalid, 'approver.roles must be a list of role names.');
  }
  if (ballot.vote !== 'approve' && ballot.vote !== 'reject')
    throw new UserError(ErrorCode.InputInvalid, `Vote '${String(ballot.vote)}' is invalid; use approve or reject.`);
  if (ballot.comment !== undefined && typeof ballot.comment !== 'string')
    throw new UserError(ErrorCode.InputInvalid, 'A vote comment must be text.');
}

export function validateBinding(binding: ApprovalBinding): void {
  if (!binding || !isText(binding.runId) || !Number.isInteger(binding.step) || !isText(binding.argsHash) || !isText(binding.policyHash)) {
    throw new UserError(ErrorCode.ApprovalInvalid, 'An approval is used with its binding: runId, step, argsHash and policyHash.');
  }
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}
