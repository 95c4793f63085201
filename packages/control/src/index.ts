// Anything exported here is public API of @aifactory/control: add with care, never remove lightly.
export { ACTION_KINDS, isActionKind } from './action.ts';
export type { Action, ActionAgent, ActionKind, ActionPrincipal, ActionRun, CollectionClassification, DecisionContext, RunCounters } from './action.ts';
export { AUTHORITIES, authorityRank, isAuthority, stricterAuthority } from './authority.ts';
export type { Authority } from './authority.ts';
export { POLICY_API_VERSION, POLICY_KIND } from './policy.ts';
export type { ApproverRequirement, ExpiryOutcome, LimitBehaviour, Policy, PolicyLimits, PolicyRule, RuleMatch, VerificationRequirements } from './policy.ts';
export { durationMilliseconds, loadPolicyFiles, parsePolicy } from './parse-policy.ts';
export { compilePolicies, LIMIT_NAMES } from './policy-set.ts';
export type { KindDefault, LimitName, Limits, LimitSetting, PolicySet, Verification } from './policy-set.ts';
export { decide, mergeApprovers } from './decide.ts';
export { DEFAULT_APPROVERS } from './decision.ts';
export type { AutonomousDecision, Decision, DenyDecision, MatchedRule, NotifyHumanDecision, Obligations, PolicyRef, RequireApprovalDecision } from './decision.ts';
export { checkLimits } from './limits.ts';
export type { LimitCrossing } from './limits.ts';
export { CONTEXT_VARIABLES } from './condition.ts';
export { policyDocumentSchema, policyJsonSchema } from './policy-schema.ts';
export type { PolicyDocument } from './policy-schema.ts';
export type { SourceProblem } from './yaml-source.ts';
