// Anything exported here is public API of @aifactory/control: add with care, never remove lightly.
export { ACTION_KINDS, isActionKind } from './action.ts';
export type {
  Action,
  ActionAgent,
  ActionKind,
  ActionRun,
  CollectionClassification,
  DecisionContext,
  EvalContext,
  ModelRegistryEntry,
  RunCounters,
} from './action.ts';
export { AUTHORITIES, authorityRank, isAuthority, stricterAuthority } from './authority.ts';
export type { Authority } from './authority.ts';
export { POLICY_API_VERSION, POLICY_KIND } from './policy.ts';
export type {
  ApproverRequirement,
  ExpiryOutcome,
  LimitBehaviour,
  Policy,
  PolicyLimits,
  PolicyRule,
  RuleMatch,
  VerificationRequirements,
} from './policy.ts';
export { durationMilliseconds, loadPolicyFiles, parsePolicy, readPolicyFiles } from './parse-policy.ts';
export { compilePolicies, LIMIT_NAMES } from './policy-set.ts';
export type { KindDefault, LimitName, Limits, LimitSetting, PolicySet, Verification } from './policy-set.ts';
export { decide, mergeApprovers } from './decide.ts';
export { argumentsDenied } from './argument-denial.ts';
export { DEFAULT_APPROVERS, deniedDecision, heldDecision } from './decision.ts';
export type {
  AutonomousDecision,
  Decision,
  DenyDecision,
  MatchedRule,
  NotifyHumanDecision,
  Obligations,
  PolicyRef,
  RequireApprovalDecision,
} from './decision.ts';
export { checkLimits } from './limits.ts';
export type { LimitCrossing } from './limits.ts';
export { CONTEXT_VARIABLES } from './condition.ts';
export { CONDITION_COST_LIMIT } from './condition-extensions.ts';
export {
  hostWithin,
  isAbsolutePath,
  normalizeHost,
  normalizePath,
  normalizeUrl,
  pathWithin,
  urlHost,
  urlWithin,
} from './path-functions.ts';
export { policyDocumentSchema, policyJsonSchema, policyJsonSchemaText } from './policy-schema.ts';
export type { PolicyDocument } from './policy-schema.ts';
export type { SourceProblem } from '@aifactory/core/yaml';
export { lintPolicies, lintPolicyFiles, parseToolSchemas } from './lint.ts';
export type { LintCode, LintFinding, LintOptions, LintReport, LintSeverity, ToolSchema } from './lint.ts';
export {
  actionInputSchema,
  completeAction,
  completeContext,
  contextInputSchema,
  parseActionInput,
  parseContextInput,
  runPolicyTests,
} from './policy-tests.ts';
export type { PolicyTestCase, PolicyTestReport, PolicyTestResult, PolicyTestSuite } from './policy-tests.ts';
export { diffPolicies, sampleActions } from './policy-diff.ts';
export type { DecisionChange, DiffOptions, PolicyDiff, RuleChange, RuleSummary } from './policy-diff.ts';
export { IMPACT_GATES, aggregateImpact, decidingRules, impactFails, transitionRule } from './impact.ts';
export type { AuthorityTransition, ImpactGate, ImpactRow, ImpactSummary } from './impact.ts';
