// What decide() returns. A decision is an outcome, never an exception: it carries the authority,
// every rule that applied with the values its condition saw, the policies in force (name,
// version, content hash) and the obligations the runtime must honour.
import type { Authority } from './authority.ts';
import type { ApproverRequirement } from './policy.ts';

/** A rule that took part in a decision. */
export interface MatchedRule {
  /** Name of the policy the rule belongs to. */
  policy: string;
  /** Rule id within that policy. */
  ruleId: string;
  /** The authority the rule imposes. */
  authority: Authority;
  /** The rule's reason, when it gives one. */
  reason?: string;
  /** The values the condition read, by path (e.g. `{"action.args.amount": 120}`); missing fields are absent. */
  values: Readonly<Record<string, unknown>>;
  /** Why the condition could not be evaluated (missing field, type error); the rule then applied only if it restricts (fail closed). */
  conditionError?: string;
}

/** A policy in force when a decision was made. */
export interface PolicyRef {
  /** metadata.name. */
  name: string;
  /** metadata.version. */
  version: string;
  /** sha256 of the policy source text. */
  hash: string;
}

/** What the runtime must do along with the authority. */
export interface Obligations {
  /** Who to notify (union over the rules that applied, sorted). */
  notify: readonly string[];
  /** Who may approve; present exactly when the authority is require_approval. */
  approvers?: ApproverRequirement;
  /** Argument fields (paths under action.args) to mask before anything is recorded. */
  redact: readonly string[];
}

interface DecisionFields {
  /** Every rule that applied (restricting rules whose condition failed included), by policy then rule id. */
  rules: readonly MatchedRule[];
  /** Rules that matched the action but did not apply because their condition failed and they would have loosened the outcome. */
  skipped: readonly MatchedRule[];
  /** Every policy of the set, by name. */
  policies: readonly PolicyRef[];
  /** One sentence: what was decided and why. */
  reason: string;
  /** True when no rule applied and the default authority for the action kind decided. */
  defaulted: boolean;
}

/** The action may go ahead without a human. */
export interface AutonomousDecision extends DecisionFields {
  authority: 'autonomous';
  obligations: Obligations & { approvers?: undefined };
}

/** The action may go ahead; the notify targets must be told. */
export interface NotifyHumanDecision extends DecisionFields {
  authority: 'notify_human';
  obligations: Obligations & { approvers?: undefined };
}

/** The action is held until approved as `obligations.approvers` says. */
export interface RequireApprovalDecision extends DecisionFields {
  authority: 'require_approval';
  obligations: Obligations & { approvers: ApproverRequirement };
}

/** The action must not happen. */
export interface DenyDecision extends DecisionFields {
  authority: 'deny';
  obligations: Obligations & { approvers?: undefined };
}

/** The outcome of decide(), discriminated on `authority`. Decisions are frozen. */
export type Decision = AutonomousDecision | NotifyHumanDecision | RequireApprovalDecision | DenyDecision;

/** Approvers used when an action is held but no rule or policy names any: one approver, any role, not the principal, denied on expiry. */
export const DEFAULT_APPROVERS: Readonly<ApproverRequirement> = Object.freeze({
  roles: [],
  count: 1,
  separation_of_duties: true,
  on_expiry: 'deny',
});

/**
 * A denial no rule made: the control plane could not decide (unreadable policy set or action), or
 * a guard outside the policies refused. No rule applied, so it is marked defaulted.
 */
export function deniedDecision(reason: string, policies: readonly PolicyRef[] = []): DenyDecision {
  return { authority: 'deny', rules: [], skipped: [], policies, obligations: { notify: [], redact: [] }, reason, defaulted: true };
}

/** A hold no rule made (a budget that holds for a human): the action waits for `approvers` (default DEFAULT_APPROVERS). */
export function heldDecision(
  reason: string,
  policies: readonly PolicyRef[],
  approvers: ApproverRequirement = DEFAULT_APPROVERS,
): RequireApprovalDecision {
  return {
    authority: 'require_approval',
    rules: [],
    skipped: [],
    policies,
    obligations: { notify: [], redact: [], approvers },
    reason,
    defaulted: false,
  };
}
