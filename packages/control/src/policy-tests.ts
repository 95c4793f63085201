// Policy tests, run like `opa test`: each policy folder keeps its cases beside it, sorted by
// expected outcome (tests/autonomous.yaml, tests/notify_human.yaml, tests/require_approval.yaml,
// tests/deny.yaml). A case is an action (and context) in, an authority (and optionally the rules,
// obligations, defaulted flag) out.
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import { z } from 'zod';
import type { Action, DecisionContext } from './action.ts';
import { isAuthority, type Authority } from './authority.ts';
import { decide } from './decide.ts';
import type { Decision } from './decision.ts';
import { lintPolicies, parseToolSchemas, type ToolSchema } from './lint.ts';
import { readPolicyFiles } from './parse-policy.ts';
import type { Policy } from './policy.ts';
import { compilePolicies } from './policy-set.ts';
import { issueProblems } from './schema-issues.ts';
import { problemsError, YamlSource, type SourceProblem } from '@aifactory/core/yaml';

const actionKind = z.enum(['tool', 'model', 'retrieval', 'handoff', 'answer']);

/** An action as a test case, explain or diff input writes it: agent, principal and run may be left out. */
export const actionInputSchema = z.strictObject({
  kind: actionKind,
  name: z.string(),
  args: z.record(z.string(), z.unknown()).optional(),
  agent: z.strictObject({ id: z.string(), team: z.string().optional(), tags: z.array(z.string()).optional() }).optional(),
  principal: z.strictObject({ id: z.string(), roles: z.array(z.string()).optional() }).optional(),
  run: z
    .strictObject({
      id: z.string().optional(),
      steps: z.number().optional(),
      tool_calls: z.number().optional(),
      tokens: z.number().optional(),
      cost_usd: z.number().optional(),
      elapsed_ms: z.number().optional(),
    })
    .optional(),
});

/** A decision context as a test case or explain input writes it (`now` as an ISO time). */
export const contextInputSchema = z.strictObject({
  data: z
    .strictObject({
      classifications: z.array(z.string()).optional(),
      collections: z.array(z.strictObject({ name: z.string(), classifications: z.array(z.string()) })).optional(),
    })
    .optional(),
  model: z
    .strictObject({
      registered: z.boolean(),
      id: z.string().optional(),
      version: z.string().optional(),
      owner: z.string().optional(),
      classifications: z.array(z.string()).optional(),
      residency: z.array(z.string()).optional(),
    })
    .optional(),
  eval: z
    .strictObject({
      found: z.boolean().optional(),
      passed: z.boolean(),
      scores: z.record(z.string(), z.number()).optional(),
      suite: z.string().optional(),
      record: z.string().optional(),
    })
    .optional(),
  now: z.union([z.iso.datetime({ offset: true }), z.date()]).optional(),
});

const caseSchema = z.strictObject({
  name: z.string().min(1),
  action: actionInputSchema,
  context: contextInputSchema.optional(),
  expect: z
    .strictObject({
      rules: z.array(z.string()).optional(),
      defaulted: z.boolean().optional(),
      notify: z.array(z.string()).optional(),
      redact: z.array(z.string()).optional(),
      approvers: z
        .strictObject({
          roles: z.array(z.string()).optional(),
          count: z.int().optional(),
          separation_of_duties: z.boolean().optional(),
          on_expiry: z.enum(['deny', 'approve']).optional(),
        })
        .optional(),
      condition_errors: z.array(z.string()).optional(),
    })
    .optional(),
});

const testFileSchema = z.strictObject({
  apiVersion: z.literal('aifactory/v1').optional(),
  kind: z.literal('PolicyTests').optional(),
  policies: z.array(z.string().min(1)).optional(),
  cases: z.array(caseSchema),
});

/** One case as written. */
export type PolicyTestCase = z.infer<typeof caseSchema>;

/** Result of one case. */
export interface PolicyTestResult {
  /** The case name. */
  name: string;
  /** Test file and line of the case. */
  file: string;
  line: number;
  /** The outcome the file expects. */
  expected: Authority;
  /** The outcome decided. */
  actual: Authority;
  /** True when every expectation held. */
  passed: boolean;
  /** What did not hold, one sentence each. */
  failures: string[];
  /** The full decision. */
  decision: Decision;
}

/** One policy folder and its cases. */
export interface PolicyTestSuite {
  /** The folder holding the policy and its tests/ folder. */
  directory: string;
  /** Policy files in force. */
  policies: string[];
  /** Results, by file then case order. */
  results: PolicyTestResult[];
}

/** What `factory policy test` prints. */
export interface PolicyTestReport {
  suites: PolicyTestSuite[];
  total: number;
  passed: number;
  failed: number;
}

/** Fills what an action input leaves out: an anonymous agent and principal, a fresh run. */
export function completeAction(input: z.infer<typeof actionInputSchema>): Action {
  return {
    kind: input.kind,
    name: input.name,
    args: input.args ?? {},
    agent: {
      id: input.agent?.id ?? 'test-agent',
      ...(input.agent?.team !== undefined ? { team: input.agent.team } : {}),
      ...(input.agent?.tags ? { tags: input.agent.tags } : {}),
    },
    principal: { id: input.principal?.id ?? 'test-principal', roles: input.principal?.roles ?? [] },
    run: {
      id: input.run?.id ?? 'test-run',
      steps: input.run?.steps ?? 0,
      tool_calls: input.run?.tool_calls ?? 0,
      tokens: input.run?.tokens ?? 0,
      cost_usd: input.run?.cost_usd ?? 0,
      elapsed_ms: input.run?.elapsed_ms ?? 0,
    },
  };
}

/** Turns a context input into a DecisionContext. */
export function completeContext(input: z.infer<typeof contextInputSchema> | undefined): DecisionContext {
  const context: DecisionContext = {};
  if (input?.data)
    context.data = {
      classifications: input.data.classifications ?? [],
      ...(input.data.collections ? { collections: input.data.collections } : {}),
    };
  if (input?.model)
    context.model = { ...input.model, classifications: input.model.classifications ?? [], residency: input.model.residency ?? [] };
  if (input?.eval)
    context.eval = {
      found: input.eval.found ?? true,
      passed: input.eval.passed,
      scores: input.eval.scores ?? {},
      ...(input.eval.suite ? { suite: input.eval.suite } : {}),
      ...(input.eval.record ? { record: input.eval.record } : {}),
    };
  if (input?.now !== undefined) context.now = input.now instanceof Date ? input.now : new Date(input.now);
  return context;
}

/** Parses an action written as JSON or YAML (agent, principal and run may be left out); throws UserError(INPUT_INVALID) naming the field. */
export function parseActionInput(text: string, file: string): Action {
  return completeAction(parseInput(text, file, actionInputSchema, 'action'));
}

/** Parses a decision context written as JSON or YAML (`now` as an ISO time); throws UserError(INPUT_INVALID) naming the field. */
export function parseContextInput(text: string, file: string): DecisionContext {
  return completeContext(parseInput(text, file, contextInputSchema, 'context'));
}

function parseInput<T extends z.ZodType>(text: string, file: string, schema: T, subject: string): z.infer<T> {
  const source = new YamlSource(text, file);
  if (source.problems.length > 0) throw problemsError(source.problems, subject, ErrorCode.InputInvalid);
  const parsed = schema.safeParse(source.value);
  if (!parsed.success)
    throw problemsError(issueProblems(parsed.error.issues, source, source.value, schema), subject, ErrorCode.InputInvalid);
  return parsed.data;
}

/**
 * Finds every folder under `directory` (itself included) that has a `tests/` folder, and runs its
 * cases against the policies beside it. Throws UserError(POLICY_INVALID) listing every invalid
 * policy or test file; a failing case is a result, not an error.
 */
export async function runPolicyTests(directory: string): Promise<PolicyTestReport> {
  const suites = await findSuites(directory);
  if (suites.length === 0) {
    throw new UserError(
      ErrorCode.NotFound,
      `No policy tests under ${directory}: put cases in <policy folder>/tests/<expected authority>.yaml.`,
      { location: { file: directory } },
    );
  }
  const problems: SourceProblem[] = [];
  const prepared: Array<{
    directory: string;
    files: Array<{
      file: string;
      expected: Authority;
      source: YamlSource;
      document: z.infer<typeof testFileSchema>;
      policies: Policy[];
      policyFiles: string[];
    }>;
  }> = [];
  for (const suite of suites) {
    const files: (typeof prepared)[number]['files'] = [];
    for (const file of suite.testFiles) {
      const expected = basename(file, extname(file));
      const source = new YamlSource(await readFile(file, 'utf8'), file);
      if (!isAuthority(expected)) {
        problems.push({
          message: `Test files are named after the outcome their cases expect (autonomous.yaml, notify_human.yaml, require_approval.yaml, deny.yaml), not '${basename(file)}'.`,
          location: { file },
        });
        continue;
      }
      if (source.problems.length > 0) {
        problems.push(...source.problems);
        continue;
      }
      const parsed = testFileSchema.safeParse(source.value);
      if (!parsed.success) {
        problems.push(...issueProblems(parsed.error.issues, source, source.value, testFileSchema));
        continue;
      }
      const policyPaths = parsed.data.policies ? parsed.data.policies.map((path) => resolve(dirname(file), path)) : suite.policyFiles;
      const loaded = await readPolicyFiles(policyPaths);
      problems.push(...loaded.problems);
      if (loaded.policies.length === 0 && loaded.problems.length === 0)
        problems.push({
          message: `No policy found for the tests in ${file}; put the policy next to tests/ or list it under policies:.`,
          location: { file },
        });
      files.push({ file, expected, source, document: parsed.data, policies: loaded.policies, policyFiles: loaded.files });
    }
    // The agent's tools, when kept beside the policy: cases and rules naming a tool or an argument
    // they do not have are errors (a misspelt name would otherwise test, and pass, something else).
    const toolsFile = join(suite.directory, 'tools.json');
    if (existsSync(toolsFile)) {
      const tools = parseToolSchemas(await readFile(toolsFile, 'utf8'), toolsFile);
      const linted = new Set<Policy>();
      for (const entry of files) {
        for (const policy of entry.policies) {
          if (linted.has(policy)) continue;
          linted.add(policy);
        }
        problems.push(...caseToolProblems(entry.source, entry.document, tools, toolsFile));
      }
      const seen = new Set<string>();
      const unique = [...linted].filter((policy) => !seen.has(policy.name) && seen.add(policy.name));
      for (const finding of lintPolicies(unique, { tools })) {
        if (finding.severity === 'error')
          problems.push({
            message: `${finding.location.path ? `${finding.location.path}: ` : ''}${finding.message} (tools from ${toolsFile})`,
            location: finding.location,
          });
      }
    }
    prepared.push({ directory: suite.directory, files });
  }
  if (problems.length > 0) throw problemsError(dedupe(problems), 'policy test');

  const report: PolicyTestReport = { suites: [], total: 0, passed: 0, failed: 0 };
  for (const suite of prepared) {
    const results: PolicyTestResult[] = [];
    const policyFiles = new Set<string>();
    for (const { file, expected, source, document, policies, policyFiles: used } of suite.files) {
      for (const used_ of used) policyFiles.add(used_);
      const set = compilePolicies(policies);
      document.cases.forEach((testCase, index) => {
        const decision = decide(set, completeAction(testCase.action), completeContext(testCase.context));
        const failures = checkCase(testCase, expected, decision);
        results.push({
          name: testCase.name,
          file,
          line: source.locate(['cases', index]).line ?? 0,
          expected,
          actual: decision.authority,
          passed: failures.length === 0,
          failures,
          decision,
        });
      });
    }
    report.suites.push({ directory: suite.directory, policies: [...policyFiles], results });
    report.total += results.length;
    report.passed += results.filter((result) => result.passed).length;
  }
  report.failed = report.total - report.passed;
  return report;
}

/** Cases whose tool action names a tool, or a top-level argument, that the tools file does not have. */
function caseToolProblems(
  source: YamlSource,
  document: z.infer<typeof testFileSchema>,
  tools: readonly ToolSchema[],
  toolsFile: string,
): SourceProblem[] {
  const problems: SourceProblem[] = [];
  document.cases.forEach((testCase, index) => {
    if (testCase.action.kind !== 'tool') return;
    const tool = tools.find((candidate) => candidate.name === testCase.action.name);
    if (!tool) {
      problems.push({
        message: `Case '${testCase.name}' calls tool '${testCase.action.name}', which ${toolsFile} does not list; known tools: ${tools.map((candidate) => candidate.name).join(', ')}.`,
        location: { ...source.locate(['cases', index, 'action', 'name']), path: `cases[${index}].action.name` },
      });
      return;
    }
    const properties = (tool.inputSchema as { properties?: Record<string, unknown> }).properties;
    if (!properties) return;
    for (const field of Object.keys(testCase.action.args ?? {})) {
      if (Object.hasOwn(properties, field)) continue;
      problems.push({
        message: `Case '${testCase.name}' passes argument '${field}', which tool '${tool.name}' does not have; its arguments: ${Object.keys(properties).join(', ')}.`,
        location: { ...source.locate(['cases', index, 'action', 'args', field]), path: `cases[${index}].action.args.${field}` },
      });
    }
  });
  return problems;
}

function checkCase(testCase: PolicyTestCase, expected: Authority, decision: Decision): string[] {
  const failures: string[] = [];
  if (decision.authority !== expected) failures.push(`expected ${expected}, got ${decision.authority}: ${decision.reason}`);
  const expect = testCase.expect;
  if (!expect) return failures;
  const ruleNames = (rules: Decision['rules']): string[] => rules.map((rule) => `${rule.policy}/${rule.ruleId}`);
  if (expect.rules) {
    const actual = ruleNames(decision.rules);
    const wanted = expect.rules.map((rule) => (rule.includes('/') ? rule : (actual.find((name) => name.endsWith(`/${rule}`)) ?? rule)));
    if (!sameSet(actual, wanted)) failures.push(`expected rules [${expect.rules.join(', ')}], got [${actual.join(', ')}]`);
  }
  if (expect.defaulted !== undefined && decision.defaulted !== expect.defaulted)
    failures.push(`expected defaulted ${expect.defaulted}, got ${decision.defaulted}`);
  if (expect.notify && !sameSet([...decision.obligations.notify], expect.notify))
    failures.push(`expected notify [${expect.notify.join(', ')}], got [${decision.obligations.notify.join(', ')}]`);
  if (expect.redact && !sameSet([...decision.obligations.redact], expect.redact))
    failures.push(`expected redact [${expect.redact.join(', ')}], got [${decision.obligations.redact.join(', ')}]`);
  if (expect.approvers) {
    const actual = decision.obligations.approvers;
    if (!actual) failures.push('expected approvers, but the decision names none');
    else {
      if (expect.approvers.roles && !sameSet(actual.roles, expect.approvers.roles))
        failures.push(`expected approver roles [${expect.approvers.roles.join(', ')}], got [${actual.roles.join(', ')}]`);
      for (const key of ['count', 'separation_of_duties', 'on_expiry'] as const) {
        if (expect.approvers[key] !== undefined && actual[key] !== expect.approvers[key])
          failures.push(`expected approvers ${key} ${String(expect.approvers[key])}, got ${String(actual[key])}`);
      }
    }
  }
  if (expect.condition_errors) {
    const actual = ruleNames([...decision.rules, ...decision.skipped].filter((rule) => rule.conditionError !== undefined));
    const wanted = expect.condition_errors.map((rule) =>
      rule.includes('/') ? rule : (actual.find((name) => name.endsWith(`/${rule}`)) ?? rule),
    );
    if (!sameSet(actual, wanted))
      failures.push(`expected failing conditions [${expect.condition_errors.join(', ')}], got [${actual.join(', ')}]`);
  }
  return failures;
}

function sameSet(left: readonly string[], right: readonly string[]): boolean {
  const a = new Set(left);
  const b = new Set(right);
  return a.size === b.size && [...a].every((value) => b.has(value));
}

function dedupe(problems: SourceProblem[]): SourceProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.location.file}:${problem.location.line}:${problem.location.column}:${problem.message}`;
    return !seen.has(key) && seen.add(key);
  });
}

async function findSuites(directory: string): Promise<Array<{ directory: string; testFiles: string[]; policyFiles: string[] }>> {
  let info;
  try {
    info = await stat(directory);
  } catch {
    throw new UserError(ErrorCode.NotFound, `No such directory: ${directory}.`, { location: { file: directory } });
  }
  if (!info.isDirectory())
    throw new UserError(ErrorCode.InputInvalid, `${directory} is a file; give the folder that holds the policy and its tests/ folder.`, {
      location: { file: directory },
    });
  const suites: Array<{ directory: string; testFiles: string[]; policyFiles: string[] }> = [];
  const visit = async (folder: string): Promise<void> => {
    const entries = (await readdir(folder, { withFileTypes: true })).sort((left, right) => left.name.localeCompare(right.name));
    const tests = entries.find((entry) => entry.isDirectory() && entry.name === 'tests');
    if (tests) {
      const testFolder = join(folder, 'tests');
      const testFiles = (await readdir(testFolder))
        .filter((name) => /\.ya?ml$/.test(name))
        .sort()
        .map((name) => join(testFolder, name));
      const policyFiles = entries.filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name)).map((entry) => join(folder, entry.name));
      if (testFiles.length > 0) suites.push({ directory: folder, testFiles, policyFiles });
    }
    for (const entry of entries) {
      if (entry.isDirectory() && entry.name !== 'tests' && !entry.name.startsWith('.') && entry.name !== 'node_modules')
        await visit(join(folder, entry.name));
    }
  };
  await visit(directory);
  return suites;
}
