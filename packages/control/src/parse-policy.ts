// YAML text -> validated Policy. Every problem (YAML syntax, unknown keys, wrong types, invalid
// CEL, unknown authority, duplicate rule ids, bad globs) is reported with file, line, column and
// field path; all problems of a document are collected before the one error is thrown.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, sha256Hex, UserError } from '@aifactory/core';
import { ACTION_KINDS, type ActionKind } from './action.ts';
import type { Authority } from './authority.ts';
import { compileCondition, ConditionError, type CompiledCondition } from './condition.ts';
import { compileNameGlob } from './name-glob.ts';
import {
  POLICY_API_VERSION,
  POLICY_KIND,
  type ApproverRequirement,
  type Policy,
  type PolicyLimits,
  type PolicyRule,
  type VerificationRequirements,
} from './policy.ts';
import {
  durationPattern,
  policyDocumentSchema,
  ruleSchema,
  type ApproversDocument,
  type PolicyDocument,
  type RuleDocument,
} from './policy-schema.ts';
import { describeValue, issueProblems } from './schema-issues.ts';
import { formatPath, problemsError, sortProblems, YamlSource, type DocumentPath, type SourceProblem } from '@aifactory/core/yaml';

const compiledConditions = new WeakMap<PolicyRule, CompiledCondition>();

/** The condition compiled when the rule was parsed, if it was parsed by parsePolicy. */
export function parsedCondition(rule: PolicyRule): CompiledCondition | undefined {
  return compiledConditions.get(rule);
}

/**
 * Parses and validates one AutonomyPolicy document. Throws UserError(POLICY_INVALID) whose
 * location names file, line, column and field path of the first problem, with every problem
 * in `details.problems`.
 */
export function parsePolicy(text: string, file: string): Policy {
  const source = new YamlSource(text, file);
  if (source.problems.length > 0) throw problemsError(source.problems);
  const problems: SourceProblem[] = [];
  const policy = buildPolicy(source, problems);
  if (problems.length > 0 || !policy) throw problemsError(sortProblems(problems));
  return policy;
}

/** Reads policy files and directories (recursively; YAML files of other kinds in a directory are skipped). Problems of every file are reported together. */
export async function loadPolicyFiles(paths: string[]): Promise<Policy[]> {
  const { policies, problems } = await readPolicyFiles(paths);
  if (problems.length > 0) throw problemsError(problems, 'policy set');
  if (policies.length === 0)
    throw new UserError(ErrorCode.PolicyInvalid, `No AutonomyPolicy documents found in ${paths.join(', ')}.`, {
      location: { file: paths[0] ?? '' },
    });
  return policies;
}

/** Like loadPolicyFiles, but returns the problems instead of throwing (lint reports them all). */
export async function readPolicyFiles(
  paths: readonly string[],
): Promise<{ policies: Policy[]; problems: SourceProblem[]; files: string[] }> {
  const problems: SourceProblem[] = [];
  const policies: Policy[] = [];
  const files: Array<{ file: string; explicit: boolean }> = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch {
      problems.push({ message: `No policy file or directory at ${path}.`, location: { file: path } });
      continue;
    }
    if (isDirectory) for (const file of await yamlFilesUnder(path)) files.push({ file, explicit: false });
    else files.push({ file: path, explicit: true });
  }
  const read: string[] = [];
  for (const { file, explicit } of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push({ message: `Cannot read ${file}: ${(error as Error).message}.`, location: { file } });
      continue;
    }
    const source = new YamlSource(text, file);
    if (!explicit && source.problems.length === 0 && (source.value as { kind?: unknown } | null)?.kind !== POLICY_KIND) continue;
    read.push(file);
    if (source.problems.length > 0) {
      problems.push(...source.problems);
      continue;
    }
    const fileProblems: SourceProblem[] = [];
    const policy = buildPolicy(source, fileProblems);
    problems.push(...sortProblems(fileProblems));
    if (policy && fileProblems.length === 0) policies.push(policy);
  }
  problems.push(...duplicateNameProblems(policies));
  return { policies, problems, files: read };
}

/** Problems for policies sharing a name (decisions name rules by policy and rule id). */
export function duplicateNameProblems(policies: readonly Policy[]): SourceProblem[] {
  const seen = new Map<string, Policy>();
  const problems: SourceProblem[] = [];
  for (const policy of policies) {
    const first = seen.get(policy.name);
    if (first) {
      problems.push({
        message: `Policy name '${policy.name}' is already used by ${first.file}; names must be unique in a policy set.`,
        location: policy.locations['metadata.name'] ?? { file: policy.file, path: 'metadata.name' },
      });
    } else seen.set(policy.name, policy);
  }
  return problems;
}

async function yamlFilesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((left, right) => left.name.localeCompare(right.name))) {
    const path = join(directory, entry.name);
    if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') files.push(...(await yamlFilesUnder(path)));
    else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) files.push(path);
  }
  return files;
}

function buildPolicy(source: YamlSource, problems: SourceProblem[]): Policy | undefined {
  const value = source.value;
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    problems.push({
      message: `A policy file holds one AutonomyPolicy document (apiVersion, kind, metadata, spec), not ${describeValue(value)}.`,
      location: source.locate([]),
    });
    return undefined;
  }
  const document = value as Record<string, unknown>;
  if (typeof document.apiVersion === 'string' && document.apiVersion !== POLICY_API_VERSION) {
    problems.push({
      message: `apiVersion '${document.apiVersion}' is not supported; this build reads ${POLICY_API_VERSION}.`,
      location: source.locate(['apiVersion']),
    });
    return undefined;
  }
  if (typeof document.kind === 'string' && document.kind !== POLICY_KIND) {
    problems.push({ message: `kind '${document.kind}' is not a policy; expected ${POLICY_KIND}.`, location: source.locate(['kind']) });
    return undefined;
  }
  const result = policyDocumentSchema.safeParse(value);
  if (!result.success) {
    problems.push(...issueProblems(result.error.issues, source, value, policyDocumentSchema));
    // Rules whose own shape is fine still get their conditions and globs checked, so one pass reports everything.
    const rawRules = (document.spec as { rules?: unknown } | undefined)?.rules;
    if (Array.isArray(rawRules)) {
      rawRules.forEach((raw, index) => {
        const rule = ruleSchema.safeParse(raw);
        if (rule.success) buildRule(rule.data, index, source, problems);
      });
    }
    return undefined;
  }
  return semanticPolicy(result.data, source, problems);
}

function semanticPolicy(document: PolicyDocument, source: YamlSource, problems: SourceProblem[]): Policy | undefined {
  const spec = document.spec;
  const rules: PolicyRule[] = [];
  const ruleIds = new Map<string, number>();
  (spec.rules ?? []).forEach((raw, index) => {
    const earlier = ruleIds.get(raw.id);
    if (earlier !== undefined) {
      problems.push({
        message: `Rule id '${raw.id}' is already used by spec.rules[${earlier}]; rule ids must be unique in a policy.`,
        location: source.locate(['spec', 'rules', index, 'id']),
      });
    } else ruleIds.set(raw.id, index);
    rules.push(buildRule(raw, index, source, problems));
  });

  const defaults: Partial<Record<ActionKind, Authority>> = {};
  if (typeof spec.default === 'string') for (const kind of ACTION_KINDS) defaults[kind] = spec.default;
  else if (spec.default) for (const kind of ACTION_KINDS) if (spec.default[kind]) defaults[kind] = spec.default[kind];

  const limits: PolicyLimits = {};
  if (spec.limits) {
    const { max_duration, ...counts } = spec.limits;
    Object.assign(limits, counts);
    if (max_duration !== undefined) {
      const milliseconds = durationMilliseconds(max_duration);
      if (milliseconds === undefined)
        problems.push({
          message: `max_duration ${JSON.stringify(max_duration)} is not a duration; use e.g. 90s, 15m, 4h or 2d.`,
          location: source.locate(['spec', 'limits', 'max_duration']),
        });
      else limits.max_duration_ms = milliseconds;
    }
  }
  const verification: VerificationRequirements = { ...(spec.verification ?? {}) };
  const approvers = spec.approvers ? approverRequirement(spec.approvers, source, ['spec', 'approvers'], problems) : undefined;
  if (problems.length > 0) return undefined;
  const metadata = document.metadata;
  return {
    name: metadata.name,
    version: String(metadata.version),
    ...(metadata.owner !== undefined ? { owner: metadata.owner } : {}),
    ...(metadata.description !== undefined ? { description: metadata.description } : {}),
    file: source.file,
    source: source.text,
    hash: sha256Hex(source.text),
    defaults,
    ...(approvers ? { approvers } : {}),
    notify: uniqueSorted(spec.notify ?? []),
    limits,
    verification,
    rules,
    locations: Object.freeze(source.keyLocations()),
  };
}

function buildRule(raw: RuleDocument, index: number, source: YamlSource, problems: SourceProblem[]): PolicyRule {
  const path = ['spec', 'rules', index];
  const names = raw.match.name === undefined ? ['*'] : typeof raw.match.name === 'string' ? [raw.match.name] : raw.match.name;
  names.forEach((name, nameIndex) => {
    try {
      compileNameGlob(name);
    } catch (error) {
      const namePath = typeof raw.match.name === 'string' ? [...path, 'match', 'name'] : [...path, 'match', 'name', nameIndex];
      problems.push({ message: (error as Error).message, location: source.locate(namePath) });
    }
  });
  const kinds: ActionKind[] =
    raw.match.kind === '*' ? [...ACTION_KINDS] : typeof raw.match.kind === 'string' ? [raw.match.kind] : [...new Set(raw.match.kind)];
  let condition: CompiledCondition | undefined;
  if (raw.when !== undefined) {
    try {
      condition = compileCondition(raw.when);
    } catch (error) {
      if (!(error instanceof ConditionError)) throw error;
      for (const problem of error.problems)
        problems.push({ message: problem.message, location: conditionLocation(source, [...path, 'when'], raw.when, problem.start) });
    }
  }
  const approvers = raw.approvers ? approverRequirement(raw.approvers, source, [...path, 'approvers'], problems) : undefined;
  const rule: PolicyRule = {
    id: raw.id,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    match: { kinds, names: [...new Set(names)] },
    ...(raw.when !== undefined ? { when: raw.when } : {}),
    authority: raw.authority,
    ...(raw.reason !== undefined ? { reason: raw.reason } : {}),
    notify: uniqueSorted(raw.notify ?? []),
    ...(approvers ? { approvers } : {}),
    redact: uniqueSorted(
      (raw.redact ?? []).map((field, fieldIndex) => redactPath(field, source, [...path, 'redact', fieldIndex], problems)),
    ),
    location: source.locate(path),
  };
  if (condition) compiledConditions.set(rule, condition);
  return rule;
}

function approverRequirement(
  raw: ApproversDocument,
  source: YamlSource,
  path: DocumentPath,
  problems: SourceProblem[],
): ApproverRequirement {
  const requirement: ApproverRequirement = {
    roles: uniqueSorted(raw.roles ?? []),
    count: raw.count ?? 1,
    separation_of_duties: raw.separation_of_duties ?? true,
    on_expiry: raw.on_expiry ?? 'deny',
  };
  if (raw.expires_in !== undefined) {
    const milliseconds = durationMilliseconds(raw.expires_in);
    if (milliseconds === undefined)
      problems.push({
        message: `expires_in ${JSON.stringify(raw.expires_in)} is not a duration; use e.g. 15m, 4h or 2d.`,
        location: source.locate([...path, 'expires_in']),
      });
    else requirement.expires_in_ms = milliseconds;
  }
  return requirement;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration (`15m`, `4h`, `500ms`) or a number of seconds; undefined when malformed. */
export function durationMilliseconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : undefined;
  const match = durationPattern.exec(value);
  if (!match) return undefined;
  const milliseconds = Math.round(Number(match[1]) * durationUnits[match[2]!]!);
  return milliseconds > 0 && Number.isFinite(milliseconds) ? milliseconds : undefined;
}

function redactPath(field: string, source: YamlSource, path: DocumentPath, problems: SourceProblem[]): string {
  const stripped = field.replace(/^action\.args\./, '').replace(/^args\./, '');
  if (stripped.split('.').some((segment) => segment.trim() === '')) {
    problems.push({
      message: `redact field ${JSON.stringify(field)} is not a dot path under action.args (e.g. card.number).`,
      location: source.locate(path),
    });
  }
  return stripped;
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** File, line and column of an offset inside the condition of a policy's rule (by its index in spec.rules). */
export function locateInCondition(policy: Policy, ruleIndex: number, offset: number): SourceProblem['location'] {
  const rule = policy.rules[ruleIndex];
  if (!rule?.when) return rule?.location ?? { file: policy.file };
  return conditionLocation(new YamlSource(policy.source, policy.file), ['spec', 'rules', ruleIndex, 'when'], rule.when, offset);
}

/** Where a position inside a condition is in the file: aligns the parsed value with the raw scalar (quotes, escapes, folding). */
function conditionLocation(source: YamlSource, path: DocumentPath, expression: string, offset: number): SourceProblem['location'] {
  const scalar = source.scalarSource(path);
  if (!scalar) return source.locate(path);
  const { raw } = scalar;
  let cursor = 0;
  if (raw.startsWith('|') || raw.startsWith('>')) cursor = raw.indexOf('\n') + 1;
  else if (raw.startsWith('"') || raw.startsWith("'")) cursor = 1;
  let found = cursor;
  for (let index = 0; index <= offset && index < expression.length; index += 1) {
    let probe = cursor;
    while (probe < raw.length && raw[probe] !== expression[index]) probe += 1;
    if (probe >= raw.length) break;
    found = probe;
    cursor = probe + 1;
  }
  if (offset >= expression.length) found = Math.min(raw.length, cursor);
  return { file: source.file, ...source.position(scalar.offset + found), path: formatPath(path) };
}
