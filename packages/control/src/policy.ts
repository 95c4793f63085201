// The parsed, validated form of one AutonomyPolicy document. parsePolicy() produces it from YAML;
// compilePolicies() turns several of them into a PolicySet that decide() reads.
import type { SourceLocation } from '@aifactory/core';
import type { ActionKind } from './action.ts';
import type { Authority } from './authority.ts';

/** The apiVersion this build reads. */
export const POLICY_API_VERSION = 'aifactory/v1';
/** The kind of a policy document. */
export const POLICY_KIND = 'AutonomyPolicy';

/** What an approval nobody decided in time resolves to. */
export type ExpiryOutcome = 'deny' | 'approve';

/** Who may approve a held action, how many must, and what happens when time runs out. */
export interface ApproverRequirement {
  /** Roles that may approve; an approver needs one of them. Empty means any principal. */
  roles: string[];
  /** Distinct approvers needed. */
  count: number;
  /** When true, whoever the run acts for cannot approve its actions. */
  separation_of_duties: boolean;
  /** Milliseconds until the approval expires; absent means it never expires. */
  expires_in_ms?: number;
  /** The outcome of an expired approval. */
  on_expiry: ExpiryOutcome;
}

/** What a rule applies to. */
export interface RuleMatch {
  /** Action kinds the rule applies to. */
  kinds: ActionKind[];
  /** Name globs; the rule applies when any matches the action name. */
  names: string[];
}

/** One rule of a policy. */
export interface PolicyRule {
  /** Rule id, unique within its policy. */
  id: string;
  /** What the rule is for, in words. */
  description?: string;
  /** Action kinds and names the rule applies to. */
  match: RuleMatch;
  /** CEL condition; absent means the rule applies to every matching action. */
  when?: string;
  /** The authority the rule grants or imposes. */
  authority: Authority;
  /** Why, shown to agents, approvers and auditors. */
  reason?: string;
  /** Who to notify when the rule applies. */
  notify: string[];
  /** Who may approve when the rule holds an action. */
  approvers?: ApproverRequirement;
  /** Argument fields (dot paths under action.args) masked before anything is recorded. */
  redact: string[];
  /** Where the rule starts in its file. */
  location: SourceLocation;
}

/** What happens when a run crosses one of its limits: stop it, or hold it for a human. */
export type LimitBehaviour = 'stop' | 'hold';

/** Limits of one policy; every field optional. */
export interface PolicyLimits {
  /** Most actions a run may take. */
  max_steps?: number;
  /** Most tool calls a run may make. */
  max_tool_calls?: number;
  /** Most model tokens a run may spend. */
  max_tokens?: number;
  /** Most money a run may spend, in US dollars. */
  max_cost_usd?: number;
  /** Longest a run may take, in milliseconds (written as a duration such as `10m`). */
  max_duration_ms?: number;
  /** What happens when a limit is reached. */
  on_exceeded?: LimitBehaviour;
}

/** What the verification plane must provide for runs under this policy. */
export interface VerificationRequirements {
  /** Every decision and outcome recorded in the hash-chained trace. */
  audit_trail?: boolean;
  /** Everything non-deterministic recorded, so a run can be replayed. */
  replay?: boolean;
  /** Runs sealed with a signature when they end. */
  seal?: boolean;
  /** Days the trace must be kept. */
  retention_days?: number;
}

/** One validated AutonomyPolicy. */
export interface Policy {
  /** metadata.name. */
  name: string;
  /** metadata.version, as text. */
  version: string;
  /** metadata.owner. */
  owner?: string;
  /** metadata.description. */
  description?: string;
  /** File the policy was read from (or the label given to parsePolicy). */
  file: string;
  /** The exact source text. */
  source: string;
  /** sha256 (hex) of the source text: `sha256sum policy.yaml` prints the same. */
  hash: string;
  /** Default authority per action kind, for actions no rule matches. */
  defaults: Partial<Record<ActionKind, Authority>>;
  /** Who approves actions held by the default, and by rules that name no approvers. */
  approvers?: ApproverRequirement;
  /** Who is notified for notify_human defaults and rules that name no targets. */
  notify: string[];
  /** Run limits. */
  limits: PolicyLimits;
  /** Verification requirements. */
  verification: VerificationRequirements;
  /** Rules, in file order (order never changes an outcome). */
  rules: PolicyRule[];
  /** Positions of fields in the file, by dotted path (`spec.limits.max_steps`), for lint messages. */
  locations: Readonly<Record<string, SourceLocation>>;
}
