// Several policies (organisation, team, agent) compiled into one set: conditions compiled once,
// rules indexed by action kind and by name (exact names and name prefixes by key, other globs
// matched once per distinct name and cached), limits and verification requirements merged with
// the strictest value winning.
import { contentHash, ErrorCode, UserError } from '@aifactory/core';
import { ACTION_KINDS, type ActionKind } from './action.ts';
import { authorityRank, type Authority } from './authority.ts';
import { compileCondition, ConditionError, type CompiledCondition } from './condition.ts';
import type { Decision, PolicyRef } from './decision.ts';
import { compileNameGlob, matchesName, type NameGlob } from './name-glob.ts';
import { duplicateNameProblems, parsedCondition } from './parse-policy.ts';
import type { ApproverRequirement, LimitBehaviour, Policy, PolicyRule } from './policy.ts';
import { problemsError } from '@aifactory/core/yaml';

/** A limit of the merged set. */
export type LimitName = 'max_steps' | 'max_tool_calls' | 'max_tokens' | 'max_cost_usd' | 'max_duration_ms';

/** Every limit, in the order checkLimits reports them. */
export const LIMIT_NAMES: readonly LimitName[] = Object.freeze([
  'max_steps',
  'max_tool_calls',
  'max_tokens',
  'max_cost_usd',
  'max_duration_ms',
] as const);

/** One merged limit: the smallest maximum any policy sets, and what happens when a run reaches it. */
export interface LimitSetting {
  /** The maximum. */
  max: number;
  /** stop: the run ends; hold: the run waits for an approver. */
  on_exceeded: LimitBehaviour;
  /** The policy that set it. */
  policy: string;
}

/** The merged limits of a set; absent limits are unbounded. */
export type Limits = Readonly<Partial<Record<LimitName, LimitSetting>>>;

/** Merged verification requirements: a requirement any policy states holds for the set. */
export interface Verification {
  /** Every decision and outcome recorded in the hash-chained trace. */
  audit_trail: boolean;
  /** Everything non-deterministic recorded for replay. */
  replay: boolean;
  /** Runs sealed when they end. */
  seal: boolean;
  /** Longest retention any policy asks for, in days. */
  retention_days?: number;
  /** Which policies asked for each requirement. */
  required_by: Readonly<Record<string, readonly string[]>>;
}

/** The default authority of an action kind and the policies that set it. */
export interface KindDefault {
  /** The strictest default any policy sets; deny when none does. */
  authority: Authority;
  /** Policies that set this default (empty: no policy sets one, so it is denied). */
  policies: readonly string[];
}

/** A compiled set of policies, ready for decide(). Immutable. */
export interface PolicySet {
  /** The policies, sorted by name. */
  readonly policies: readonly Policy[];
  /** Name, version and hash of each policy, as every decision reports them. */
  readonly refs: readonly PolicyRef[];
  /** Content hash of the set: sha256 of the canonical JSON of the sorted policy hashes. */
  readonly hash: string;
  /** Default authority per action kind. */
  readonly defaults: Readonly<Record<ActionKind, KindDefault>>;
  /** Merged limits (smallest wins). */
  readonly limits: Limits;
  /** Merged verification requirements. */
  readonly verification: Verification;
  /** Number of rules in the set. */
  readonly ruleCount: number;
}

/** A rule ready for decide(). */
export interface CompiledRule {
  /** Position in the canonical order (policy name, rule id); fixes the order rules are reported in. */
  ordinal: number;
  policy: string;
  ruleId: string;
  authority: Authority;
  rank: number;
  reason: string | undefined;
  condition: CompiledCondition | undefined;
  globs: readonly NameGlob[];
  kinds: readonly ActionKind[];
  notify: readonly string[];
  approvers: ApproverRequirement | undefined;
  redact: readonly string[];
  source: PolicyRule;
}

/** Candidate rules for one (kind, name), and the decision when none has a condition. */
export interface Candidates {
  rules: readonly CompiledRule[];
  hasConditions: boolean;
  staticDecision?: Decision;
}

/** The rule index of one action kind. */
export interface KindIndex {
  kind: ActionKind;
  exact: Map<string, CompiledRule[]>;
  prefixes: Map<string, CompiledRule[]>;
  prefixLengths: number[];
  any: CompiledRule[];
  patterns: Array<{ glob: NameGlob; rule: CompiledRule }>;
  cache: Map<string, Candidates>;
  defaultAuthority: Authority;
  defaultRank: number;
  defaultPolicies: readonly string[];
  defaultApprovers: ApproverRequirement | undefined;
  defaultNotify: readonly string[];
}

/** What decide() reads; kept off the public shape of PolicySet. */
export interface PolicyEngine {
  byKind: Readonly<Record<ActionKind, KindIndex>>;
  refs: readonly PolicyRef[];
}

/** Key of the engine on a PolicySet; not exported from the package. */
export const engineKey: unique symbol = Symbol('aifactory.control.engine');

/** A PolicySet with its engine attached. */
export type EnginePolicySet = PolicySet & { readonly [engineKey]: PolicyEngine };

/** Most distinct names cached per kind; beyond this, candidates are computed per call (still correct, a little slower). */
const candidateCacheLimit = 20_000;

/**
 * Compiles policies into a set: CEL compiled once here (reused from parsePolicy when possible),
 * globs compiled once, rules indexed by kind and name. Throws UserError(POLICY_INVALID) for
 * duplicate policy names or invalid conditions/globs in hand-built policies.
 */
export function compilePolicies(policies: Policy[]): PolicySet {
  const duplicates = duplicateNameProblems(policies);
  if (duplicates.length > 0) throw problemsError(duplicates, 'policy set');
  const sorted = [...policies].sort((left, right) => compareText(left.name, right.name));
  const refs: PolicyRef[] = sorted.map((policy) => Object.freeze({ name: policy.name, version: policy.version, hash: policy.hash }));
  Object.freeze(refs);

  const compiled: CompiledRule[] = [];
  for (const policy of sorted) {
    const rules = [...policy.rules].sort((left, right) => compareText(left.id, right.id));
    for (const rule of rules) compiled.push(compileRule(policy, rule, compiled.length));
  }

  const defaults = {} as Record<ActionKind, KindDefault>;
  const byKind = {} as Record<ActionKind, KindIndex>;
  for (const kind of ACTION_KINDS) {
    let authority: Authority | undefined;
    for (const policy of sorted) {
      const value = policy.defaults[kind];
      if (value && (!authority || authorityRank(value) > authorityRank(authority))) authority = value;
    }
    const sources = authority ? sorted.filter((policy) => policy.defaults[kind] === authority) : [];
    const kindDefault: KindDefault = Object.freeze({
      authority: authority ?? 'deny',
      policies: Object.freeze(sources.map((policy) => policy.name)),
    });
    defaults[kind] = kindDefault;
    byKind[kind] = {
      kind,
      exact: new Map(),
      prefixes: new Map(),
      prefixLengths: [],
      any: [],
      patterns: [],
      cache: new Map(),
      defaultAuthority: kindDefault.authority,
      defaultRank: authorityRank(kindDefault.authority),
      defaultPolicies: kindDefault.policies,
      defaultApprovers: sources.find((policy) => policy.approvers)?.approvers,
      defaultNotify: Object.freeze([...new Set(sources.flatMap((policy) => policy.notify))].sort()),
    };
  }
  for (const rule of compiled) {
    for (const kind of rule.kinds) {
      const index = byKind[kind];
      for (const glob of rule.globs) {
        if (glob.kind === 'any') index.any.push(rule);
        else if (glob.kind === 'exact') push(index.exact, glob.name, rule);
        else if (glob.kind === 'prefix') push(index.prefixes, glob.prefix, rule);
        else index.patterns.push({ glob, rule });
      }
    }
  }
  for (const kind of ACTION_KINDS) {
    const index = byKind[kind];
    index.prefixLengths = [...new Set([...index.prefixes.keys()].map((prefix) => prefix.length))].sort((left, right) => left - right);
  }

  const set = {
    policies: Object.freeze(sorted),
    refs,
    hash: contentHash(sorted.map((policy) => policy.hash).sort()),
    defaults: Object.freeze(defaults),
    limits: mergeLimits(sorted),
    verification: mergeVerification(sorted),
    ruleCount: compiled.length,
  };
  Object.defineProperty(set, engineKey, { value: Object.freeze({ byKind: Object.freeze(byKind), refs }), enumerable: false });
  return Object.freeze(set) as unknown as EnginePolicySet;
}

function compileRule(policy: Policy, rule: PolicyRule, ordinal: number): CompiledRule {
  let condition: CompiledCondition | undefined;
  if (rule.when !== undefined) {
    condition = parsedCondition(rule);
    if (!condition || condition.expression !== rule.when) {
      try {
        condition = compileCondition(rule.when);
      } catch (error) {
        const message = error instanceof ConditionError ? error.message : String(error);
        throw new UserError(ErrorCode.PolicyInvalid, `Rule '${rule.id}' of policy '${policy.name}' has an invalid condition: ${message}`, {
          location: rule.location,
        });
      }
    }
  }
  const globs = rule.match.names.map((name) => {
    try {
      return compileNameGlob(name);
    } catch (error) {
      throw new UserError(ErrorCode.PolicyInvalid, (error as Error).message, { location: rule.location });
    }
  });
  const approvers = rule.authority === 'require_approval' ? (rule.approvers ?? policy.approvers) : rule.approvers;
  const notify = rule.notify.length > 0 ? rule.notify : rule.authority === 'notify_human' ? policy.notify : [];
  return {
    ordinal,
    policy: policy.name,
    ruleId: rule.id,
    authority: rule.authority,
    rank: authorityRank(rule.authority),
    reason: rule.reason,
    condition,
    globs,
    kinds: rule.match.kinds,
    notify: Object.freeze([...notify]),
    approvers: approvers ? freezeApprovers(approvers) : undefined,
    redact: Object.freeze([...rule.redact]),
    source: rule,
  };
}

/** Candidate rules of an action (kind index + name), sorted canonically; cached per distinct name. */
export function candidatesFor(index: KindIndex, name: string): Candidates {
  const cached = index.cache.get(name);
  if (cached) return cached;
  const found: CompiledRule[] = [...index.any];
  const exact = index.exact.get(name);
  if (exact) found.push(...exact);
  for (const length of index.prefixLengths) {
    if (length > name.length) break;
    const rules = index.prefixes.get(name.slice(0, length));
    if (rules) found.push(...rules);
  }
  for (const { glob, rule } of index.patterns) if (matchesName(glob, name)) found.push(rule);
  const unique = [...new Set(found)].sort((left, right) => left.ordinal - right.ordinal);
  const candidates: Candidates = { rules: Object.freeze(unique), hasConditions: unique.some((rule) => rule.condition !== undefined) };
  if (index.cache.size < candidateCacheLimit) index.cache.set(name, candidates);
  return candidates;
}

function mergeLimits(policies: readonly Policy[]): Limits {
  const limits: Partial<Record<LimitName, LimitSetting>> = {};
  for (const policy of policies) {
    for (const name of LIMIT_NAMES) {
      const max = policy.limits[name];
      if (max === undefined) continue;
      const behaviour = policy.limits.on_exceeded ?? 'stop';
      const current = limits[name];
      // Smallest maximum wins; on a tie, stop (ends the run) wins over hold.
      if (!current || max < current.max || (max === current.max && behaviour === 'stop' && current.on_exceeded === 'hold')) {
        limits[name] = Object.freeze({ max, on_exceeded: behaviour, policy: policy.name });
      }
    }
  }
  return Object.freeze(limits);
}

function mergeVerification(policies: readonly Policy[]): Verification {
  const requiredBy: Record<string, string[]> = {};
  let retention: number | undefined;
  for (const policy of policies) {
    for (const key of ['audit_trail', 'replay', 'seal'] as const) {
      if (policy.verification[key]) (requiredBy[key] ??= []).push(policy.name);
    }
    const days = policy.verification.retention_days;
    if (days !== undefined) {
      (requiredBy.retention_days ??= []).push(policy.name);
      retention = Math.max(retention ?? 0, days);
    }
  }
  return Object.freeze({
    audit_trail: Boolean(requiredBy.audit_trail),
    replay: Boolean(requiredBy.replay),
    seal: Boolean(requiredBy.seal),
    ...(retention !== undefined ? { retention_days: retention } : {}),
    required_by: Object.freeze(requiredBy),
  });
}

function freezeApprovers(requirement: ApproverRequirement): ApproverRequirement {
  return Object.freeze({ ...requirement, roles: Object.freeze([...requirement.roles]) as string[] });
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
