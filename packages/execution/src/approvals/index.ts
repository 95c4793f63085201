// Approvals of held actions, bound to the exact call and usable once: anything exported here is public API.
export { createApprovalService } from './approval-service.ts';
export { approvalStatuses } from './approval-types.ts';
export { voteIneligibility } from './approval-checks.ts';
export type {
  Approval,
  ApprovalAction,
  ApprovalBinding,
  ApprovalOutcome,
  ApprovalRecorder,
  ApprovalRequest,
  ApprovalService,
  ApprovalServiceOptions,
  ApprovalStatus,
  ApprovalVote,
  Ballot,
  ConsumedApproval,
  VoteResult,
} from './approval-types.ts';
export {
  findApprovalRecord,
  findApprovalVoteRecords,
  findDecidedApprovalOfRun,
  findSettledApprovalsOfRuns,
  pendingApprovalStats,
} from './approval-rows.ts';
export type { ApprovalRecord, ApprovalVoteRecord } from './approval-rows.ts';
export { normalizeRequirement } from './approval-requirement.ts';
export type { ApprovalRequirement, ApprovalRequirementInput, ExpiryOutcome } from './approval-requirement.ts';
