// decide(): synchronous, pure (no I/O; the clock only when a condition reads `now` and the
// caller gave none), and it never throws. Of all rules that apply, the strictest authority wins
// (deny overrides), so neither rule order nor policy order can change an outcome. A condition
// that fails at run time fails closed: the rule applies if it is at least as strict as the
// default for the action kind, and is skipped otherwise; either way the decision says why. A
// condition that exceeds its cost limit (condition-extensions.ts) denies the action outright.
import type { Action, ActionKind, DecisionContext } from './action.ts';
import { AUTHORITIES, type Authority } from './authority.ts';
import { ConditionCostError } from './condition-extensions.ts';
import { DEFAULT_APPROVERS, deniedDecision, type Decision, type MatchedRule, type Obligations, type PolicyRef } from './decision.ts';
import type { ApproverRequirement } from './policy.ts';
import { candidatesFor, engineKey, type CompiledRule, type EnginePolicySet, type KindIndex, type PolicySet } from './policy-set.ts';

const emptyValues: Readonly<Record<string, unknown>> = Object.freeze({});
const emptyList: readonly never[] = Object.freeze([]);
const emptyData = Object.freeze({ classifications: emptyList, collections: emptyList });
// Absent facts read as the safe answer: a model nobody registered, an evaluation that never ran.
const unregisteredModel = Object.freeze({ registered: false, classifications: emptyList, residency: emptyList });
const noEval = Object.freeze({ found: false, passed: false, scores: Object.freeze({}) });

const phrases: Record<Authority, string> = {
  autonomous: 'Allowed without a human',
  notify_human: 'Allowed with notice to a human',
  require_approval: 'Held for approval',
  deny: 'Denied',
};

/** Decides what an agent may do with an action under a policy set. Never throws: anything unreadable is denied. */
export function decide(set: PolicySet, action: Action, context?: DecisionContext): Decision {
  try {
    const engine = (set as EnginePolicySet)[engineKey];
    if (!engine) return failure(set, 'the policy set was not built by compilePolicies()');
    const kind = action?.kind;
    const index = typeof kind === 'string' && Object.hasOwn(engine.byKind, kind) ? engine.byKind[kind as ActionKind] : undefined;
    if (!index)
      return failure(set, `the action kind ${JSON.stringify(kind)} is not one of tool, model, retrieval, handoff, answer`, engine.refs);
    const name = action.name;
    if (typeof name !== 'string') return failure(set, 'the action has no name', engine.refs);
    const candidates = candidatesFor(index, name);
    if (!candidates.hasConditions) {
      candidates.staticDecision ??= deepFreeze(evaluate(index, candidates.rules, action, context, engine.refs));
      return candidates.staticDecision;
    }
    return evaluate(index, candidates.rules, action, context, engine.refs);
  } catch (error) {
    return failure(set, `an internal error occurred (${error instanceof Error ? error.message : String(error)})`);
  }
}

function evaluate(
  index: KindIndex,
  rules: readonly CompiledRule[],
  action: Action,
  context: DecisionContext | undefined,
  refs: readonly PolicyRef[],
): Decision {
  let applied: MatchedRule[] | undefined;
  let appliedRules: CompiledRule[] | undefined;
  let skipped: MatchedRule[] | undefined;
  let skippedRules: CompiledRule[] | undefined;
  let activation: Record<string, unknown> | undefined;
  let rank = -1;
  for (let position = 0; position < rules.length; position += 1) {
    const rule = rules[position]!;
    const condition = rule.condition;
    if (!condition) {
      (applied ??= []).push(matched(rule, emptyValues, undefined));
      (appliedRules ??= []).push(rule);
      if (rule.rank > rank) rank = rule.rank;
      continue;
    }
    activation ??= {
      action,
      agent: action.agent,
      principal: action.principal,
      run: action.run,
      data: context?.data ?? emptyData,
      model: context?.model ?? unregisteredModel,
      eval: context?.eval ?? noEval,
      now: context?.now,
    };
    if (condition.readsNow && activation.now === undefined) activation.now = new Date();
    let result: unknown;
    let failure: string | undefined;
    try {
      result = condition.evaluate(activation);
      if (result !== true && result !== false) failure = `the condition gave ${describeResult(result)}, not true or false`;
    } catch (error) {
      // Input that makes a condition this expensive is hostile or broken: nothing it asks is granted.
      if (error instanceof ConditionCostError) return costDenial(rule, error, refs);
      failure = errorSummary(error);
    }
    if (failure === undefined && result === false) continue;
    const values = valuesSeen(rule, activation);
    if (failure === undefined || rule.rank >= index.defaultRank) {
      (applied ??= []).push(matched(rule, values, failure));
      (appliedRules ??= []).push(rule);
      if (rule.rank > rank) rank = rule.rank;
    } else {
      (skipped ??= []).push(matched(rule, values, failure));
      (skippedRules ??= []).push(rule);
    }
  }
  const defaulted = rank < 0;
  const authority: Authority = defaulted ? index.defaultAuthority : AUTHORITIES[rank]!;
  const obligations = mergeObligations(index, authority, appliedRules, skippedRules, defaulted);
  // Keys in canonical (UTF-16) order, here and in matched() and mergeObligations(): every decision
  // is recorded as canonical JSON, which then writes these objects as they are instead of copying
  // each into order.
  return {
    authority,
    defaulted,
    obligations,
    policies: refs,
    reason: reasonFor(index, authority, action.name, applied, skipped, defaulted),
    rules: applied ?? emptyList,
    skipped: skipped ?? emptyList,
  } as Decision;
}

function matched(rule: CompiledRule, values: Readonly<Record<string, unknown>>, conditionError: string | undefined): MatchedRule {
  if (rule.reason === undefined && conditionError === undefined)
    return { authority: rule.authority, policy: rule.policy, ruleId: rule.ruleId, values };
  return {
    authority: rule.authority,
    ...(conditionError !== undefined ? { conditionError } : {}),
    policy: rule.policy,
    ...(rule.reason !== undefined ? { reason: rule.reason } : {}),
    ruleId: rule.ruleId,
    values,
  };
}

/** The values a condition read, by path; own properties only, so nothing is read off prototypes. */
function valuesSeen(rule: CompiledRule, activation: Record<string, unknown>): Readonly<Record<string, unknown>> {
  const paths = rule.condition!.paths;
  if (paths.length === 0) return emptyValues;
  const values: Record<string, unknown> = {};
  for (let index = 0; index < paths.length; index += 1) {
    const path = paths[index]!;
    let node: unknown = activation;
    let found = true;
    for (let segment = 0; segment < path.segments.length; segment += 1) {
      const key = path.segments[segment]!;
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) {
        found = false;
        break;
      }
      node = (node as Record<string, unknown>)[key];
    }
    if (found && node !== undefined) values[path.key] = node;
  }
  return values;
}

function mergeObligations(
  index: KindIndex,
  authority: Authority,
  applied: CompiledRule[] | undefined,
  skipped: CompiledRule[] | undefined,
  defaulted: boolean,
): Obligations {
  let notify: readonly string[] = emptyList;
  let redact: readonly string[] = emptyList;
  let approvers: ApproverRequirement | undefined;
  if (defaulted) {
    if (authority === 'notify_human') notify = index.defaultNotify;
    if (authority === 'require_approval') approvers = index.defaultApprovers ?? DEFAULT_APPROVERS;
  } else if (applied) {
    notify = union(applied, 'notify');
    if (authority === 'require_approval') {
      const requirements: ApproverRequirement[] = [];
      for (const rule of applied) if (rule.authority === 'require_approval' && rule.approvers) requirements.push(rule.approvers);
      approvers =
        requirements.length === 0 ? DEFAULT_APPROVERS : requirements.length === 1 ? requirements[0]! : mergeApprovers(requirements);
    }
  }
  // Masking more is the safe side, so skipped rules' redactions count too.
  if (applied || skipped) redact = union(skipped ? [...(applied ?? []), ...skipped] : applied!, 'redact');
  return approvers ? { approvers, notify, redact } : { notify, redact };
}

function union(rules: readonly CompiledRule[], field: 'notify' | 'redact'): readonly string[] {
  let only: readonly string[] | undefined;
  let many: Set<string> | undefined;
  for (const rule of rules) {
    const values = rule[field];
    if (values.length === 0) continue;
    if (!only) only = values;
    else {
      many ??= new Set(only);
      for (const value of values) many.add(value);
    }
  }
  if (many) return [...many].sort();
  return only ?? emptyList;
}

/**
 * Several rules hold the same action: one requirement that satisfies all of them. Roles: those
 * every rule accepts; when the rules' roles are disjoint, any of them, with the counts added up
 * (so each rule's approvers can be among them). Count: the largest. Separation of duties: if
 * any rule asks. Expiry: the shortest. On expiry: deny if any rule says so.
 */
export function mergeApprovers(requirements: readonly ApproverRequirement[]): ApproverRequirement {
  const restricted = requirements.filter((requirement) => requirement.roles.length > 0);
  let roles: string[] = [];
  let count = Math.max(...requirements.map((requirement) => requirement.count));
  if (restricted.length > 0) {
    const shared = restricted[0]!.roles.filter((role) => restricted.every((requirement) => requirement.roles.includes(role)));
    if (shared.length > 0) roles = shared;
    else {
      roles = [...new Set(restricted.flatMap((requirement) => requirement.roles))].sort();
      count = Math.max(
        count,
        restricted.reduce((sum, requirement) => sum + requirement.count, 0),
      );
    }
  }
  const expiries = requirements.map((requirement) => requirement.expires_in_ms).filter((value): value is number => value !== undefined);
  const merged: ApproverRequirement = {
    roles,
    count,
    separation_of_duties: requirements.some((requirement) => requirement.separation_of_duties),
    on_expiry: requirements.some((requirement) => requirement.on_expiry === 'deny') ? 'deny' : 'approve',
  };
  if (expiries.length > 0) merged.expires_in_ms = Math.min(...expiries);
  return merged;
}

function reasonFor(
  index: KindIndex,
  authority: Authority,
  name: string,
  applied: MatchedRule[] | undefined,
  skipped: MatchedRule[] | undefined,
  defaulted: boolean,
): string {
  let text: string;
  if (defaulted) {
    const subject = `no rule applied to ${index.kind} '${clip(name)}'`;
    text =
      index.defaultPolicies.length === 0
        ? `${phrases[authority]}: ${subject} and no policy sets a default for ${index.kind} actions`
        : `${phrases[authority]}: ${subject}, so the default for ${index.kind} actions applies (${index.defaultPolicies.join(', ')})`;
  } else {
    const deciding = applied!.filter((rule) => rule.authority === authority);
    const first = deciding[0]!;
    const more = deciding.length > 1 ? ` and ${deciding.length - 1} more rule${deciding.length > 2 ? 's' : ''}` : '';
    const because = deciding.find((rule) => rule.reason)?.reason;
    text = `${phrases[authority]} by ${first.policy}/${first.ruleId}${more}${because ? `: ${trimPeriod(because)}` : ''}`;
  }
  const failedApplied = applied?.filter((rule) => rule.conditionError !== undefined) ?? [];
  const failedSkipped = skipped ?? [];
  const failures = failedApplied.length + failedSkipped.length;
  if (failures === 1) {
    const rule = failedApplied[0] ?? failedSkipped[0]!;
    const outcome =
      failedApplied.length === 1 ? 'so the rule applied (fail closed)' : 'so the rule was skipped (it would have loosened the outcome)';
    text += `; the condition of ${rule.policy}/${rule.ruleId} failed (${trimPeriod(rule.conditionError!)}), ${outcome}`;
  } else if (failures > 1) {
    const first = failedApplied[0] ?? failedSkipped[0]!;
    const parts = [
      failedApplied.length > 0 ? `${failedApplied.length} applied (fail closed)` : '',
      failedSkipped.length > 0 ? `${failedSkipped.length} skipped (they would have loosened the outcome)` : '',
    ].filter(Boolean);
    text += `; ${failures} conditions failed (first: ${first.policy}/${first.ruleId}, ${trimPeriod(first.conditionError!)}), ${parts.join(', ')}`;
  }
  return `${text}.`;
}

function costDenial(rule: CompiledRule, error: ConditionCostError, refs: readonly PolicyRef[]): Decision {
  return {
    authority: 'deny',
    rules: [matched(rule, emptyValues, error.message)],
    skipped: emptyList,
    policies: refs,
    obligations: { notify: emptyList, redact: rule.redact },
    reason: `Denied: the condition of ${rule.policy}/${rule.ruleId} exceeded its cost limit of ${error.limit.toLocaleString('en-US')} units per evaluation, and what cannot be decided is denied.`,
    defaulted: false,
  };
}

function failure(set: PolicySet, why: string, refs?: readonly PolicyRef[]): Decision {
  return deepFreeze(
    deniedDecision(`Denied: ${why}, and what cannot be decided is denied.`, refs ?? (Array.isArray(set?.refs) ? set.refs : emptyList)),
  );
}

function errorSummary(error: unknown): string {
  const summary = (error as { summary?: unknown } | null)?.summary;
  const text = typeof summary === 'string' ? summary : error instanceof Error ? error.message.split('\n')[0]! : String(error);
  return trimPeriod(text);
}

function describeResult(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `the number ${value}`;
  if (typeof value === 'string') return `the text ${JSON.stringify(clip(value))}`;
  return typeof value === 'object' ? 'a value' : `${typeof value} ${String(value)}`;
}

function trimPeriod(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
