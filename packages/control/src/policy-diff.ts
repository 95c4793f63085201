// What a policy change does before it rolls out: rules added, removed and changed, defaults and
// limits changed, and, on a generated sample of actions built from the literals both versions'
// conditions compare against (so boundaries such as amount 5000 / 5001 are exercised), which
// decisions change and how.
import type { ASTNode } from '@marcbachmann/cel-js';
import { canonicalJson } from '@aifactory/core';
import { ACTION_KINDS, type Action, type ActionKind, type DecisionContext } from './action.ts';
import type { Authority } from './authority.ts';
import { compileCondition } from './condition.ts';
import { decide } from './decide.ts';
import { compileNameGlob, matchesName } from './name-glob.ts';
import { parsedCondition } from './parse-policy.ts';
import type { Policy, PolicyRule } from './policy.ts';
import { compilePolicies, LIMIT_NAMES, type LimitName } from './policy-set.ts';

/** A rule added, removed or changed between two policy sets. */
export interface RuleChange {
  /** Policy name. */
  policy: string;
  /** Rule id. */
  ruleId: string;
  /** What happened to it. */
  change: 'added' | 'removed' | 'changed';
  /** Fields that differ (for `changed`). */
  fields: string[];
  /** The rule before (absent when added). */
  before?: RuleSummary;
  /** The rule after (absent when removed). */
  after?: RuleSummary;
}

/** The parts of a rule a diff compares. */
export interface RuleSummary {
  match: { kinds: string[]; names: string[] };
  when?: string;
  authority: Authority;
  reason?: string;
  notify: string[];
  approvers?: unknown;
  redact: string[];
}

/** A decision that differs on one sampled action. */
export interface DecisionChange {
  /** The sampled action (kind, name, args, agent, principal, run). */
  action: Action;
  /** The sampled context. */
  context: { data?: { classifications: string[] }; now?: string };
  /** Authority and deciding rules before. */
  before: { authority: Authority; rules: string[]; reason: string };
  /** Authority and deciding rules after. */
  after: { authority: Authority; rules: string[]; reason: string };
}

/** The full comparison. */
export interface PolicyDiff {
  /** Policies present only after, only before, or with a different hash. */
  policies: {
    added: string[];
    removed: string[];
    changed: Array<{ name: string; before: { version: string; hash: string }; after: { version: string; hash: string } }>;
  };
  /** Rule changes, by policy then rule id. */
  rules: RuleChange[];
  /** Default authorities that changed, per action kind. */
  defaults: Array<{ kind: ActionKind; before: Authority; after: Authority }>;
  /** Limits that changed (undefined: unbounded). */
  limits: Array<{ limit: LimitName; before?: { max: number; on_exceeded: string }; after?: { max: number; on_exceeded: string } }>;
  /** Sample of generated actions decided under both sets. */
  sample: {
    size: number;
    seed: number;
    /** Sampled actions whose authority changed. */
    changed: number;
    /** Count per transition, e.g. `{"autonomous -> require_approval": 12}`. */
    transitions: Record<string, number>;
    /** Up to `examples` changed decisions per transition. */
    examples: DecisionChange[];
  };
}

/** Options of diffPolicies. */
export interface DiffOptions {
  /** Sampled actions (default 500). */
  samples?: number;
  /** Seed of the generator (default 1); the same seed gives the same sample. */
  seed?: number;
  /** Changed decisions kept as examples per transition (default 3). */
  examples?: number;
}

/** Compares two policy sets (both given as parsed policies). */
export function diffPolicies(before: readonly Policy[], after: readonly Policy[], options: DiffOptions = {}): PolicyDiff {
  const beforeSet = compilePolicies([...before]);
  const afterSet = compilePolicies([...after]);
  const beforeByName = new Map(before.map((policy) => [policy.name, policy]));
  const afterByName = new Map(after.map((policy) => [policy.name, policy]));
  const policies: PolicyDiff['policies'] = {
    added: [...afterByName.keys()].filter((name) => !beforeByName.has(name)).sort(),
    removed: [...beforeByName.keys()].filter((name) => !afterByName.has(name)).sort(),
    changed: [...afterByName.values()]
      .filter((policy) => beforeByName.has(policy.name) && beforeByName.get(policy.name)!.hash !== policy.hash)
      .map((policy) => {
        const old = beforeByName.get(policy.name)!;
        return {
          name: policy.name,
          before: { version: old.version, hash: old.hash },
          after: { version: policy.version, hash: policy.hash },
        };
      })
      .sort((left, right) => left.name.localeCompare(right.name)),
  };

  const rules: RuleChange[] = [];
  const beforeRules = ruleMap(before);
  const afterRules = ruleMap(after);
  for (const [key, rule] of afterRules) {
    const old = beforeRules.get(key);
    const [policy, ruleId] = splitKey(key);
    if (!old) rules.push({ policy, ruleId, change: 'added', fields: [], after: summarize(rule) });
    else {
      const left = summarize(old);
      const right = summarize(rule);
      const fields = (Object.keys({ ...left, ...right }) as Array<keyof RuleSummary>).filter(
        (field) => canonicalJson(left[field] ?? null) !== canonicalJson(right[field] ?? null),
      );
      if (fields.length > 0) rules.push({ policy, ruleId, change: 'changed', fields, before: left, after: right });
    }
  }
  for (const [key, rule] of beforeRules) {
    if (!afterRules.has(key)) {
      const [policy, ruleId] = splitKey(key);
      rules.push({ policy, ruleId, change: 'removed', fields: [], before: summarize(rule) });
    }
  }
  rules.sort((left, right) => left.policy.localeCompare(right.policy) || left.ruleId.localeCompare(right.ruleId));

  const defaults = ACTION_KINDS.filter((kind) => beforeSet.defaults[kind].authority !== afterSet.defaults[kind].authority).map((kind) => ({
    kind,
    before: beforeSet.defaults[kind].authority,
    after: afterSet.defaults[kind].authority,
  }));
  const limits: PolicyDiff['limits'] = [];
  for (const limit of LIMIT_NAMES) {
    const left = beforeSet.limits[limit];
    const right = afterSet.limits[limit];
    if (left?.max !== right?.max || left?.on_exceeded !== right?.on_exceeded) {
      limits.push({
        limit,
        ...(left ? { before: { max: left.max, on_exceeded: left.on_exceeded } } : {}),
        ...(right ? { after: { max: right.max, on_exceeded: right.on_exceeded } } : {}),
      });
    }
  }

  const size = options.samples ?? 500;
  const seed = options.seed ?? 1;
  const perTransition = options.examples ?? 3;
  const transitions: Record<string, number> = {};
  const examples: DecisionChange[] = [];
  const exampleKeys = new Set<string>();
  let changed = 0;
  for (const { action, context } of sampleActions([...before, ...after], size, seed)) {
    const left = decide(beforeSet, action, context);
    const right = decide(afterSet, action, context);
    if (left.authority === right.authority) continue;
    changed += 1;
    const transition = `${left.authority} -> ${right.authority}`;
    transitions[transition] = (transitions[transition] ?? 0) + 1;
    const key = canonicalJson([
      action.kind,
      action.name,
      action.args,
      action.agent,
      action.principal.roles,
      context.data?.classifications ?? [],
      context.now?.toISOString() ?? null,
    ]);
    if (
      examples.filter((example) => `${example.before.authority} -> ${example.after.authority}` === transition).length < perTransition &&
      !exampleKeys.has(key)
    ) {
      exampleKeys.add(key);
      const deciding = (decision: typeof left): string[] =>
        decision.rules.filter((rule) => rule.authority === decision.authority).map((rule) => `${rule.policy}/${rule.ruleId}`);
      examples.push({
        action,
        context: {
          ...(context.data ? { data: { classifications: [...context.data.classifications] } } : {}),
          ...(context.now ? { now: context.now.toISOString() } : {}),
        },
        before: { authority: left.authority, rules: deciding(left), reason: left.reason },
        after: { authority: right.authority, rules: deciding(right), reason: right.reason },
      });
    }
  }
  return { policies, rules, defaults, limits, sample: { size, seed, changed, transitions, examples } };
}

function ruleMap(policies: readonly Policy[]): Map<string, PolicyRule> {
  const map = new Map<string, PolicyRule>();
  for (const policy of policies) for (const rule of policy.rules) map.set(`${policy.name}\u0000${rule.id}`, rule);
  return map;
}

function splitKey(key: string): [string, string] {
  const [policy = '', ruleId = ''] = key.split('\u0000');
  return [policy, ruleId];
}

function summarize(rule: PolicyRule): RuleSummary {
  return {
    match: { kinds: [...rule.match.kinds].sort(), names: [...rule.match.names].sort() },
    ...(rule.when !== undefined ? { when: rule.when } : {}),
    authority: rule.authority,
    ...(rule.reason !== undefined ? { reason: rule.reason } : {}),
    notify: rule.notify,
    ...(rule.approvers ? { approvers: rule.approvers } : {}),
    redact: rule.redact,
  };
}

/** A deterministic pseudo-random generator (mulberry32): same seed, same sample. */
export function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Generates actions that exercise the given policies: names that each rule's globs match (and
 * one no rule matches, per kind), and for every path a condition compares with a literal,
 * values on both sides of it (missing now and then, to exercise failing conditions).
 */
export function sampleActions(policies: readonly Policy[], count: number, seed = 1): Array<{ action: Action; context: DecisionContext }> {
  const random = randomGenerator(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const names: Array<{ kind: ActionKind; name: string }> = [];
  const seen = new Set<string>();
  const addName = (kind: ActionKind, name: string): void => {
    const key = `${kind}\u0000${name}`;
    if (!seen.has(key)) {
      seen.add(key);
      names.push({ kind, name });
    }
  };
  const pools = new Map<string, unknown[]>();
  const addValue = (path: string, value: unknown): void => {
    const pool = pools.get(path) ?? [];
    if (!pool.some((existing) => existing === value)) pool.push(value);
    pools.set(path, pool);
  };
  let readsNow = false;
  for (const policy of policies) {
    for (const rule of policy.rules) {
      for (const kind of rule.match.kinds) for (const glob of rule.match.names) for (const name of namesFor(glob)) addName(kind, name);
      if (rule.when === undefined) continue;
      let condition = parsedCondition(rule);
      if (!condition) {
        try {
          condition = compileCondition(rule.when);
        } catch {
          continue;
        }
      }
      readsNow ||= condition.readsNow;
      collectLiterals(condition.ast, addValue);
    }
  }
  for (const kind of ACTION_KINDS) addName(kind, `unmatched-${kind}`);
  const times = [new Date('2025-03-04T10:00:00Z'), new Date('2025-03-08T14:00:00Z'), new Date('2025-03-05T23:30:00Z')];

  const samples: Array<{ action: Action; context: DecisionContext }> = [];
  for (let index = 0; index < count; index += 1) {
    const { kind, name } = pick(names);
    const action: Action = {
      kind,
      name,
      args: {},
      agent: { id: 'sample-agent' },
      principal: { id: 'sample-principal', roles: [] },
      run: { id: `sample-${index}`, steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
    };
    const context: DecisionContext = { data: { classifications: [] } };
    if (readsNow) context.now = pick(times);
    for (const [path, pool] of pools) {
      if (random() < 0.1) continue;
      assign(action, context, path, pool, random);
    }
    samples.push({ action, context });
  }
  return samples;
}

function namesFor(pattern: string): string[] {
  let glob;
  try {
    glob = compileNameGlob(pattern);
  } catch {
    return [];
  }
  if (glob.kind === 'exact') return [glob.name];
  if (glob.kind === 'prefix') return [`${glob.prefix}sample`];
  if (glob.kind === 'any') return [];
  const candidate = pattern
    .replace(/\{([^,}]*)[^}]*\}/g, '$1')
    .replace(/\[!?([^\]])[^\]]*\]/g, '$1')
    .replace(/[*?]/g, 'x')
    .replace(/\\(.)/g, '$1');
  return matchesName(glob, candidate) ? [candidate] : [];
}

/** Collects (path, value) pairs from comparisons and memberships between a path and literals. */
function collectLiterals(ast: ASTNode, addValue: (path: string, value: unknown) => void): void {
  const pathOf = (node: ASTNode): string | undefined => {
    const parts: string[] = [];
    let cursor = node;
    while (
      cursor.op === '.' ||
      cursor.op === '.?' ||
      ((cursor.op === '[]' || cursor.op === '[?]') && (cursor.args as [ASTNode, ASTNode])[1].op === 'value')
    ) {
      const [object, field] = cursor.args as [ASTNode, string | ASTNode];
      parts.unshift(typeof field === 'string' ? field : String(field.args));
      cursor = object;
    }
    return cursor.op === 'id' && parts.length > 0 ? [cursor.args as string, ...parts].join('.') : undefined;
  };
  const literal = (node: ASTNode): { value: unknown } | undefined => {
    if (node.op === 'value') return { value: typeof node.args === 'bigint' ? Number(node.args) : node.args };
    if (node.op === '-_' && (node.args as ASTNode).op === 'value') {
      const inner = (node.args as ASTNode).args;
      return typeof inner === 'bigint' || typeof inner === 'number' ? { value: -Number(inner) } : undefined;
    }
    return undefined;
  };
  const visit = (node: ASTNode): void => {
    if (['==', '!=', '<', '<=', '>', '>='].includes(node.op)) {
      const [left, right] = node.args as [ASTNode, ASTNode];
      for (const [side, other] of [
        [left, right],
        [right, left],
      ] as const) {
        const path = pathOf(side);
        const found = literal(other);
        if (path && found) {
          if (typeof found.value === 'number') for (const delta of [-1, 0, 1]) addValue(path, found.value + delta);
          else if (typeof found.value === 'string') {
            addValue(path, found.value);
            addValue(path, `${found.value}-other`);
          } else if (typeof found.value === 'boolean') {
            addValue(path, true);
            addValue(path, false);
          }
        }
      }
    } else if (node.op === 'in') {
      const [left, right] = node.args as [ASTNode, ASTNode];
      const listPath = pathOf(right);
      const found = literal(left);
      if (listPath && found) addValue(`${listPath}[]`, found.value);
      const valuePath = pathOf(left);
      if (valuePath && right.op === 'list') {
        for (const item of right.args as ASTNode[]) {
          const element = literal(item);
          if (element) addValue(valuePath, element.value);
        }
        addValue(valuePath, 'other');
      }
    } else if (node.op === 'rcall') {
      const [name, receiver, args] = node.args as [string, ASTNode, ASTNode[]];
      const path = pathOf(receiver);
      const argument = args[0] ? literal(args[0]) : undefined;
      if (path && argument && typeof argument.value === 'string') {
        if (name === 'startsWith') addValue(path, `${argument.value}sample`);
        else if (name === 'endsWith') addValue(path, `sample${argument.value}`);
        else if (name === 'contains') addValue(path, `sample ${argument.value} sample`);
        addValue(path, 'sample');
      }
    }
    const args = node.args as unknown;
    if (Array.isArray(args)) {
      for (const child of args.flat()) if (child && typeof child === 'object' && 'op' in child) visit(child as ASTNode);
    } else if (args && typeof args === 'object' && 'op' in args) visit(args as ASTNode);
  };
  visit(ast);
}

/** Writes a sampled value into the action or context at a path (`[]` suffix: a list that may hold the value). */
function assign(action: Action, context: DecisionContext, path: string, pool: readonly unknown[], random: () => number): void {
  const isList = path.endsWith('[]');
  const segments = (isList ? path.slice(0, -2) : path).split('.');
  const value = isList ? pool.filter(() => random() < 0.5) : pool[Math.floor(random() * pool.length)];
  const [root, ...rest] = segments;
  if (rest.length === 0) return;
  let target: Record<string, unknown>;
  if (root === 'action') {
    if (rest[0] !== 'args' || rest.length < 2) return;
    target = action.args;
    rest.shift();
  } else if (root === 'agent') target = action.agent as unknown as Record<string, unknown>;
  else if (root === 'principal') target = action.principal as unknown as Record<string, unknown>;
  else if (root === 'run') target = action.run as unknown as Record<string, unknown>;
  else if (root === 'data') target = context.data as unknown as Record<string, unknown>;
  else return;
  for (let index = 0; index < rest.length - 1; index += 1) {
    const key = rest[index]!;
    const next = target[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  const leaf = rest.at(-1)!;
  if (root === 'run' && typeof value !== 'number') return;
  if (root !== 'action' && (leaf === 'id' || leaf === 'kind' || leaf === 'name') && typeof value !== 'string') return;
  target[leaf] = value;
}
