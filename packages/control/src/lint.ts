// Lint: what a policy says that it probably does not mean. Warnings for rules that can never
// change an outcome, denials without a reason, approvals without approvers, notices without
// targets and limits that contradict each other; errors for conditions that read tool
// arguments the tool does not have or compare them with the wrong type (given the tools' MCP
// input schemas), so a typo is caught before rollout instead of failing closed in production.
import { ErrorCode, UserError, type SourceLocation } from '@aifactory/core';
import { ACTION_KINDS, type ActionKind } from './action.ts';
import { authorityRank } from './authority.ts';
import { analyzeCondition, closest, compileCondition, type CompiledCondition, type ConditionProblem } from './condition.ts';
import { contextShape, shapeChild, shapeFromJsonSchema, type JsonSchema, type Shape } from './context-shape.ts';
import { LOCATION_FUNCTIONS, LOCATION_VARIANTS, locationComparisons, unboundedDivisors, type LocationComparison } from './location-lint.ts';
import { globCovers, compileNameGlob, matchesName, type NameGlob } from './name-glob.ts';
import { locateInCondition, parsedCondition, readPolicyFiles } from './parse-policy.ts';
import type { Policy, PolicyRule } from './policy.ts';
import { YamlSource, type SourceProblem } from '@aifactory/core/yaml';

/** How serious a finding is: errors fail `factory policy lint`, warnings do not. */
export type LintSeverity = 'error' | 'warning';

/** What a finding is about. */
export type LintCode =
  | 'invalid-policy'
  | 'shadowed-rule'
  | 'redundant-rule'
  | 'deny-without-reason'
  | 'approval-without-approvers'
  | 'notify-without-targets'
  | 'missing-default'
  | 'contradictory-limits'
  | 'unknown-tool'
  | 'unknown-argument'
  | 'argument-type-mismatch'
  | 'location-as-text'
  | 'unbounded-divisor'
  | 'undeliverable-notify-target';

/** One lint finding. */
export interface LintFinding {
  /** error or warning. */
  severity: LintSeverity;
  /** Stable code of the check. */
  code: LintCode;
  /** One sentence. */
  message: string;
  /** File, line, column and field path. */
  location: SourceLocation;
  /** Policy name, when the finding is about one. */
  policy?: string;
  /** Rule id, when the finding is about one. */
  rule?: string;
}

/** A tool an agent can call, as MCP lists it. */
export interface ToolSchema {
  /** Tool name as actions carry it. */
  name: string;
  /** JSON Schema of the tool's arguments. */
  inputSchema: JsonSchema;
}

/** Options of lintPolicies. */
export interface LintOptions {
  /** Tools the agents can call; conditions on tool actions are type-checked against them. */
  tools?: readonly ToolSchema[];
  /**
   * Why a `notify` target cannot be delivered (malformed, or a channel nobody configured), or
   * undefined when it can; given, every target the policies name is checked with it and an
   * undeliverable one is an error. The execution plane's undeliverableTarget is the usual one.
   */
  notifyTarget?: (target: string) => string | undefined;
}

/** Result of linting files. */
export interface LintReport {
  /** Policy files read. */
  files: string[];
  /** Policies that parsed. */
  policies: Policy[];
  /** Every finding, errors first, then by file and line. */
  findings: LintFinding[];
  /** Number of errors. */
  errors: number;
  /** Number of warnings. */
  warnings: number;
}

/** Reads and lints policy files; invalid documents become `invalid-policy` errors instead of exceptions. */
export async function lintPolicyFiles(paths: readonly string[], options: LintOptions = {}): Promise<LintReport> {
  const { policies, problems, files } = await readPolicyFiles(paths);
  const findings = problemsAsFindings(problems);
  const names = new Set<string>();
  const unique = policies.filter((policy) => !names.has(policy.name) && names.add(policy.name));
  findings.push(...lintPolicies(unique, options));
  return report(files, policies, findings);
}

/** Lints a set of policies (as they would be combined) and returns the findings. */
export function lintPolicies(policies: readonly Policy[], options: LintOptions = {}): LintFinding[] {
  const findings: LintFinding[] = [];
  const entries = policies.flatMap((policy) => policy.rules.map((rule, index) => ({ policy, rule, index, globs: safeGlobs(rule) })));
  const defaults = kindDefaults(policies);
  for (const entry of entries) {
    const { policy, rule } = entry;
    const where = { location: rule.location, policy: policy.name, rule: rule.id };
    if (rule.authority === 'deny' && !rule.reason) {
      findings.push({
        severity: 'warning',
        code: 'deny-without-reason',
        message: `Rule '${rule.id}' denies without a reason; agents, approvers and auditors will not know why.`,
        ...where,
      });
    }
    if (rule.authority === 'require_approval' && !rule.approvers && !policy.approvers) {
      findings.push({
        severity: 'warning',
        code: 'approval-without-approvers',
        message: `Rule '${rule.id}' requires approval but names no approvers (nor does spec.approvers), so any one principal other than the requester may approve.`,
        ...where,
      });
    }
    if (rule.authority === 'notify_human' && rule.notify.length === 0 && policy.notify.length === 0) {
      findings.push({
        severity: 'warning',
        code: 'notify-without-targets',
        message: `Rule '${rule.id}' notifies a human but names no targets (nor does spec.notify), so nobody is told.`,
        ...where,
      });
    }
    const shadow = shadowingRule(entry, entries);
    if (shadow) {
      findings.push({
        severity: 'warning',
        code: 'shadowed-rule',
        message: `Rule '${rule.id}' can never change an outcome: ${label(shadow.policy, shadow.rule, policy)} applies to every action it matches, unconditionally, with the stricter authority ${shadow.rule.authority}.`,
        ...where,
      });
    } else if (rule.authority === 'autonomous' && rule.match.kinds.every((kind) => defaults[kind] === 'autonomous')) {
      findings.push({
        severity: 'warning',
        code: 'redundant-rule',
        message: `Rule '${rule.id}' grants autonomous, which is already the default for ${rule.match.kinds.join(', ')} actions, so it can never change an outcome.`,
        ...where,
      });
    }
  }
  findings.push(...limitFindings(policies));
  findings.push(...locationFindings(entries, options.tools));
  const missing = ACTION_KINDS.filter((kind) => defaults[kind] === undefined);
  if (missing.length > 0 && policies.length > 0) {
    const first = policies[0]!;
    findings.push({
      severity: 'warning',
      code: 'missing-default',
      message: `No policy sets a default for ${missing.join(', ')} actions, so any such action no rule matches is denied; set spec.default to make that explicit.`,
      location: first.locations['spec'] ?? { file: first.file },
      policy: first.name,
    });
  }
  if (options.tools) findings.push(...toolFindings(entries, options.tools));
  if (options.notifyTarget) for (const policy of policies) findings.push(...notifyTargetFindings(policy, options.notifyTarget));
  return findings;
}

/** Every notify target as written (spec.notify and each rule's), checked where it stands in the file. */
function notifyTargetFindings(policy: Policy, undeliverable: (target: string) => string | undefined): LintFinding[] {
  const source = new YamlSource(policy.source, policy.file);
  const spec = (source.value as { spec?: { notify?: unknown; rules?: unknown } } | undefined)?.spec;
  const lists: Array<{ path: Array<string | number>; targets: unknown; rule?: string }> = [
    { path: ['spec', 'notify'], targets: spec?.notify },
  ];
  if (Array.isArray(spec?.rules)) {
    spec.rules.forEach((rule: unknown, index) => {
      const raw = rule as { id?: unknown; notify?: unknown } | null;
      lists.push({
        path: ['spec', 'rules', index, 'notify'],
        targets: raw?.notify,
        ...(typeof raw?.id === 'string' ? { rule: raw.id } : {}),
      });
    });
  }
  const findings: LintFinding[] = [];
  for (const list of lists) {
    if (!Array.isArray(list.targets)) continue;
    list.targets.forEach((target: unknown, index) => {
      if (typeof target !== 'string') return;
      const problem = undeliverable(target);
      if (problem === undefined) return;
      findings.push({
        severity: 'error',
        code: 'undeliverable-notify-target',
        message: `Undeliverable notify target: ${problem}`,
        location: source.locate([...list.path, index]),
        policy: policy.name,
        ...(list.rule ? { rule: list.rule } : {}),
      });
    });
  }
  return findings;
}

/** Parses a tools file: `[{name, inputSchema}]` or MCP's `{tools: [{name, inputSchema}]}`. */
export function parseToolSchemas(text: string, file: string): ToolSchema[] {
  const source = new YamlSource(text, file);
  if (source.problems.length > 0) {
    const first = source.problems[0]!;
    throw new UserError(ErrorCode.InputInvalid, `Tool schemas: ${first.message}`, { location: first.location });
  }
  const value = source.value as unknown;
  const list = Array.isArray(value)
    ? value
    : value && typeof value === 'object' && Array.isArray((value as { tools?: unknown }).tools)
      ? (value as { tools: unknown[] }).tools
      : undefined;
  const prefix: Array<string | number> = Array.isArray(value) ? [] : ['tools'];
  if (!list)
    throw new UserError(
      ErrorCode.InputInvalid,
      'Tool schemas must be a list of {name, inputSchema} or an MCP tools/list result {tools: [...]}.',
      { location: source.locate([]) },
    );
  return list.map((item, index) => {
    const tool = item as { name?: unknown; inputSchema?: unknown; input_schema?: unknown } | null;
    if (!tool || typeof tool !== 'object' || typeof tool.name !== 'string' || tool.name === '') {
      throw new UserError(ErrorCode.InputInvalid, 'Each tool needs a name.', { location: source.locate([...prefix, index]) });
    }
    const schema = tool.inputSchema ?? tool.input_schema;
    if (!schema || typeof schema !== 'object' || Array.isArray(schema)) {
      throw new UserError(ErrorCode.InputInvalid, `Tool '${tool.name}' has no inputSchema object.`, {
        location: source.locate([...prefix, index]),
      });
    }
    return { name: tool.name, inputSchema: schema as JsonSchema };
  });
}

interface RuleEntry {
  policy: Policy;
  rule: PolicyRule;
  index: number;
  globs: NameGlob[] | undefined;
}

function safeGlobs(rule: PolicyRule): NameGlob[] | undefined {
  try {
    return rule.match.names.map((name) => compileNameGlob(name));
  } catch {
    return undefined;
  }
}

function kindDefaults(policies: readonly Policy[]): Partial<Record<ActionKind, string>> {
  const defaults: Partial<Record<ActionKind, string>> = {};
  for (const kind of ACTION_KINDS) {
    for (const policy of policies) {
      const value = policy.defaults[kind];
      if (value && (defaults[kind] === undefined || authorityRank(value) > authorityRank(defaults[kind] as never))) defaults[kind] = value;
    }
  }
  return defaults;
}

/** An unconditional, strictly stricter rule whose match covers this rule's, if any. */
function shadowingRule(entry: RuleEntry, entries: readonly RuleEntry[]): RuleEntry | undefined {
  if (!entry.globs) return undefined;
  for (const other of entries) {
    if (other === entry || other.rule.when !== undefined || !other.globs) continue;
    if (authorityRank(other.rule.authority) <= authorityRank(entry.rule.authority)) continue;
    if (!entry.rule.match.kinds.every((kind) => other.rule.match.kinds.includes(kind))) continue;
    if (entry.globs.every((inner) => other.globs!.some((outer) => globCovers(outer, inner) === true))) return other;
  }
  return undefined;
}

function label(policy: Policy, rule: PolicyRule, from: Policy): string {
  return policy === from ? `rule '${rule.id}'` : `rule '${rule.id}' of policy '${policy.name}'`;
}

function limitFindings(policies: readonly Policy[]): LintFinding[] {
  const findings: LintFinding[] = [];
  for (const policy of policies) {
    const limits = policy.limits;
    const at = (key: string): SourceLocation =>
      policy.locations[`spec.limits.${key}`] ?? policy.locations['spec.limits'] ?? { file: policy.file };
    const warn = (key: string, message: string): void => {
      findings.push({ severity: 'warning', code: 'contradictory-limits', message, location: at(key), policy: policy.name });
    };
    for (const key of ['max_steps', 'max_tool_calls', 'max_tokens', 'max_cost_usd'] as const) {
      if (limits[key] === 0)
        warn(
          key,
          `${key} is 0, so no run can take a single ${key === 'max_tool_calls' ? 'tool call' : 'step'}${key === 'max_tool_calls' ? '' : '; every run stops before it starts'}.`,
        );
    }
    if (limits.max_tool_calls === 0) {
      const allowing = policies.flatMap((candidate) =>
        candidate.rules.filter((rule) => rule.match.kinds.includes('tool') && rule.authority !== 'deny'),
      );
      if (allowing.length > 0)
        warn(
          'max_tool_calls',
          `max_tool_calls is 0, yet rule '${allowing[0]!.id}' lets tool calls through; the limit makes that rule dead.`,
        );
    }
    // No check of approval expiry against max_duration: time a run waits for a human does not count against it.
    if (limits.on_exceeded === 'hold' && !policies.some((candidate) => candidate.approvers)) {
      warn('on_exceeded', 'on_exceeded is hold, but no policy names spec.approvers to let a held run continue.');
    }
  }
  return findings;
}

function toolFindings(entries: readonly RuleEntry[], tools: readonly ToolSchema[]): LintFinding[] {
  const findings: LintFinding[] = [];
  const shapes = new Map(tools.map((tool) => [tool.name, shapeFromJsonSchema(tool.inputSchema)]));
  for (const { policy, rule, index, globs } of entries) {
    if (!rule.match.kinds.includes('tool') || !globs) continue;
    const matching = tools.filter((tool) => globs.some((glob) => matchesName(glob, tool.name)));
    const where = { policy: policy.name, rule: rule.id };
    if (matching.length === 0) {
      const suggestion = closest(
        rule.match.names[0] ?? '',
        tools.map((tool) => tool.name),
      );
      // Given the agent's tools, a rule that matches none of them is a mistake (a misspelt name).
      findings.push({
        severity: 'error',
        code: 'unknown-tool',
        message: `Rule '${rule.id}' matches none of the ${tools.length} known tools (${rule.match.names.join(', ')})${suggestion ? `; did you mean '${suggestion}'?` : '.'}`,
        location: policy.locations[`spec.rules[${index}].match`] ?? rule.location,
        ...where,
      });
      continue;
    }
    const condition = conditionOf(rule);
    const byMessage = new Map<string, { problem: ConditionProblem; tools: string[]; code: LintCode }>();
    for (const tool of matching) {
      const shape = shapes.get(tool.name)!;
      if (condition) {
        for (const problem of analyzeCondition(condition.ast, contextShape(shape)).problems) {
          const key = `${problem.start}:${problem.message}`;
          const code: LintCode = problem.message.startsWith('Type mismatch') ? 'argument-type-mismatch' : 'unknown-argument';
          const found = byMessage.get(key);
          if (found) found.tools.push(tool.name);
          else byMessage.set(key, { problem, tools: [tool.name], code });
        }
      }
      for (const field of rule.redact) {
        if (!redactFieldExists(shape, field)) {
          findings.push({
            severity: 'error',
            code: 'unknown-argument',
            message: `Rule '${rule.id}' redacts '${field}', which tool '${tool.name}' does not have; nothing is masked for it.`,
            location: policy.locations[`spec.rules[${index}].redact`] ?? rule.location,
            ...where,
          });
        }
      }
    }
    if (condition) {
      const divisors = new Map<string, string[]>();
      for (const tool of matching) {
        for (const divisor of unboundedDivisors(condition.ast, shapes.get(tool.name)!)) {
          const key = `${divisor.start}\u0000${divisor.field}`;
          divisors.set(key, [...(divisors.get(key) ?? []), tool.name]);
        }
      }
      for (const [key, toolNames] of divisors) {
        const [start, field] = key.split('\u0000') as [string, string];
        findings.push({
          severity: 'warning',
          code: 'unbounded-divisor',
          message: `Rule '${rule.id}' divides by ${field}, which the input schema of ${toolNames.map((name) => `'${name}'`).join(', ')} does not keep above zero: zero fails the condition (closed), but a negative value flips the comparison; add "exclusiveMinimum": 0 to the schema.`,
          location: locateInCondition(policy, index, Number(start)),
          ...where,
        });
      }
    }
    for (const { problem, tools: toolNames, code } of byMessage.values()) {
      findings.push({
        severity: 'error',
        code,
        message: `${problem.message.replace(/\.$/, '')} (for tool${toolNames.length > 1 ? 's' : ''} ${toolNames.map((name) => `'${name}'`).join(', ')}).`,
        location: locateInCondition(policy, index, problem.start),
        ...where,
      });
    }
  }
  return findings;
}

/**
 * Warnings for conditions that compare a path, URL or host argument as plain text: by its name
 * always, by its schema format for the tools the rule matches.
 */
function locationFindings(entries: readonly RuleEntry[], tools: readonly ToolSchema[] | undefined): LintFinding[] {
  const findings: LintFinding[] = [];
  for (const { policy, rule, index, globs } of entries) {
    const condition = conditionOf(rule);
    if (!condition) continue;
    const found = new Map<string, LocationComparison>();
    const add = (comparison: LocationComparison): void => {
      const key = `${comparison.start}:${comparison.field}`;
      if (!found.has(key)) found.set(key, comparison);
    };
    for (const comparison of locationComparisons(condition.ast)) add(comparison);
    if (tools && globs && rule.match.kinds.includes('tool')) {
      for (const tool of tools.filter((candidate) => globs.some((glob) => matchesName(glob, candidate.name)))) {
        for (const comparison of locationComparisons(condition.ast, shapeFromJsonSchema(tool.inputSchema))) add(comparison);
      }
    }
    for (const comparison of found.values()) {
      findings.push({
        severity: 'warning',
        code: 'location-as-text',
        message: `Rule '${rule.id}' compares ${comparison.field} as text (${comparison.how}); a ${comparison.kind} can be written many ways (${LOCATION_VARIANTS[comparison.kind]}), so compare it with ${LOCATION_FUNCTIONS[comparison.kind]}.`,
        location: locateInCondition(policy, index, comparison.start),
        policy: policy.name,
        rule: rule.id,
      });
    }
  }
  return findings;
}

function conditionOf(rule: PolicyRule): CompiledCondition | undefined {
  if (rule.when === undefined) return undefined;
  const parsed = parsedCondition(rule);
  if (parsed) return parsed;
  try {
    return compileCondition(rule.when);
  } catch {
    return undefined;
  }
}

function redactFieldExists(shape: Shape, field: string): boolean {
  let current: Shape | undefined = shape;
  for (const segment of field.split('.')) {
    if (!current) return false;
    current = shapeChild(current, segment);
  }
  return current !== undefined;
}

function report(files: string[], policies: Policy[], findings: LintFinding[]): LintReport {
  const severityOrder = (finding: LintFinding): number => (finding.severity === 'error' ? 0 : 1);
  findings.sort(
    (left, right) =>
      severityOrder(left) - severityOrder(right) ||
      (left.location.file ?? '').localeCompare(right.location.file ?? '') ||
      (left.location.line ?? 0) - (right.location.line ?? 0) ||
      (left.location.column ?? 0) - (right.location.column ?? 0),
  );
  const errors = findings.filter((finding) => finding.severity === 'error').length;
  return { files, policies, findings, errors, warnings: findings.length - errors };
}

/** Problems (from parsing) as lint findings. */
export function problemsAsFindings(problems: readonly SourceProblem[]): LintFinding[] {
  return problems.map((problem) => ({ severity: 'error', code: 'invalid-policy', message: problem.message, location: problem.location }));
}
