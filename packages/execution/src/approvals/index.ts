// Approvals of held actions, bound to the exact call and usable once: anything exported here is public API.
export { approvalStatuses, createApprovalService, voteIneligibility } from './approval-service.ts';
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
} from './approval-service.ts';
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
