// What approvals are, to their callers: the approval and its votes, what is asked for, a ballot,
// what a vote did, the binding an approval is used with, and the service's interface.
import type { EventType } from '@aifactory/verification';
import type { ApprovalRequirement, ApprovalRequirementInput } from './approval-requirement.ts';

/** Where an approval is in its life: pending, then decided (approved, rejected, expired), then consumed. */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'consumed';

/** Every status, for validating filters. */
export const approvalStatuses: readonly ApprovalStatus[] = ['pending', 'approved', 'rejected', 'expired', 'consumed'];

/** What a decided approval lets the run do. */
export type ApprovalOutcome = 'approved' | 'rejected';

/** The held action, as the governance gate saw it. */
export interface ApprovalAction {
  /** Action kind: tool, model, retrieval, handoff, answer. */
  kind: string;
  /** Tool, model or agent name. */
  name: string;
  /** The call's arguments; their canonical hash binds the approval. */
  args: unknown;
}

/** One approver's vote. */
export interface ApprovalVote {
  /** The approver's principal id. */
  approver: string;
  /** Roles the approver acted with. */
  roles: string[];
  /** Yes or no. */
  vote: 'approve' | 'reject';
  /** Why, in the approver's words. */
  comment?: string;
  /** When the vote was cast. */
  at: Date;
}

/** An approval and its votes. */
export interface Approval {
  /** Stable id, e.g. apr_3f9c2a1b7d4e5f60. */
  id: string;
  /** The held run. */
  runId: string;
  /** The step of the run the held action belongs to. */
  step: number;
  /** The held action. */
  action: ApprovalAction;
  /** sha256 of the canonical JSON of the action's arguments. */
  argsHash: string;
  /** Content hash of the policy (set) that required the approval. */
  policyHash: string;
  /** Who may approve, how many, and what expiry does. */
  requirement: ApprovalRequirement;
  /** The run's principal (the one who cannot approve under separation of duties). */
  requestedBy: string;
  /** What approvers see besides the action (agent, rules, reason). */
  context: Record<string, unknown>;
  /** Where the approval is in its life. */
  status: ApprovalStatus;
  /** The decision once made; kept after consumption. */
  outcome: ApprovalOutcome | null;
  /** When it was requested. */
  requestedAt: Date;
  /** When it expires, if ever. */
  expiresAt: Date | null;
  /** When it was decided (approved, rejected or expired). */
  decidedAt: Date | null;
  /** When the run used it. */
  consumedAt: Date | null;
  /** Votes in the order they were cast. */
  votes: ApprovalVote[];
}

/** What the runtime asks for when a decision requires approval. */
export interface ApprovalRequest {
  /** The held run. */
  runId: string;
  /** The step the held action belongs to. */
  step: number;
  /** The held action with its exact arguments. */
  action: ApprovalAction;
  /** Content hash of the policy in force. */
  policyHash: string;
  /** The decision's approvers obligation (roles, count, separation_of_duties, expiry, on_expiry). */
  requirement: ApprovalRequirementInput | Record<string, unknown>;
  /** The run's principal. */
  requestedBy: string;
  /** Shown to approvers: agent, matching rules, the decision's reason. */
  context?: Record<string, unknown>;
}

/** An approver's ballot. */
export interface Ballot {
  /** Who votes, and the roles they act with. */
  approver: { id: string; roles: readonly string[] };
  /** Yes or no. */
  vote: 'approve' | 'reject';
  /** Why. */
  comment?: string;
}

/** What a vote did. */
export type VoteResult =
  /** The vote counts, more approvals are needed. */
  | { kind: 'counted'; approval: Approval; remaining: number }
  /** This vote completed the approval. */
  | { kind: 'approved'; approval: Approval }
  /** This vote rejected the action. */
  | { kind: 'rejected'; approval: Approval };

/** The exact call an approval is used for; all four must match what was approved. */
export interface ApprovalBinding {
  runId: string;
  step: number;
  argsHash: string;
  policyHash: string;
}

/** A consumed approval: what the run may do, and who said so. */
export interface ConsumedApproval {
  /** Approved: run the held action; rejected: do not. */
  outcome: ApprovalOutcome;
  /** Who decided (approvers, or the one who rejected); empty when the approval expired. */
  approvers: string[];
  /** The deciding votes' comments. */
  comment?: string;
  /** The approval, now consumed. */
  approval: Approval;
}

/** The verification plane's recorder, as approvals use it. */
export type ApprovalRecorder = (runId: string, event: { type: EventType; actor: string; payload: unknown }) => Promise<unknown>;

/** What an approval service is made of. */
export interface ApprovalServiceOptions {
  /** Records approval events in the run's trace (the verification plane's recorder). */
  record: ApprovalRecorder;
  /** Current time (tests); default the system clock. */
  clock?: () => Date;
  /**
   * Masks secrets and PII (the workspace redactor) in what is stored and shown: the action's
   * arguments, the context and vote comments. The argument hash is taken over the real arguments
   * first, so approvers see masked values and the exact hash of the call they approve.
   */
  redact?: (value: unknown) => unknown;
}

/** Approvals over the store. */
export interface ApprovalService {
  /** Opens an approval for a held action (or returns the open one for the same call); records approval.requested. */
  request(request: ApprovalRequest): Promise<Approval>;
  /** One approval with its votes; expires it first when its time is up. */
  get(approvalId: string): Promise<Approval>;
  /** Approvals, oldest first, optionally by status and run; overdue ones are expired first. */
  list(filter?: { status?: ApprovalStatus; runId?: string }): Promise<Approval[]>;
  /** Casts a vote, enforcing roles, separation of duties, one vote per approver and expiry. */
  vote(approvalId: string, ballot: Ballot): Promise<VoteResult>;
  /** Uses a decided approval for exactly the call it was asked for, once; anything else throws APPROVAL_INVALID. */
  consume(approvalId: string, binding: ApprovalBinding): Promise<ConsumedApproval>;
  /** Expires every overdue pending approval now and returns them. */
  expireDue(): Promise<Approval[]>;
}
