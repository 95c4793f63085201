// `factory policy`: the risk officer's tools. lint (with tool schemas), test (cases beside each
// policy, like `opa test`), explain (one decision and why), diff (what a change does before it
// rolls out), schema (the JSON Schema for editors).
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { ErrorCode, formatLocation, formatPosition, UserError, type SourceLocation } from '@aifactory/core';
import {
  compilePolicies,
  decide,
  diffPolicies,
  lintPolicyFiles,
  loadPolicyFiles,
  parseActionInput,
  parseContextInput,
  parseToolSchemas,
  policyJsonSchemaText,
  runPolicyTests,
  type Authority,
  type Decision,
  type LintReport,
  type MatchedRule,
  type PolicyDiff,
  type PolicyTestReport,
} from '@aifactory/control';
import { readNotificationChannels, undeliverableTarget } from '@aifactory/execution/notifications';
import { workspaceConfigFromEnv } from '@aifactory/workspace/config';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, ExitCode, withJson, type CommonOptions } from '../command-kit.ts';

interface LintOptions extends CommonOptions {
  tools?: string;
  strict?: boolean;
  notifications?: string;
}

interface TestOptions extends CommonOptions {
  verbose?: boolean;
}

interface ExplainOptions extends CommonOptions {
  action: string;
  context?: string;
}

interface DiffOptions extends CommonOptions {
  samples: string;
  seed: string;
  exitCode?: boolean;
}

const colours: Record<Authority, (text: string) => string> = {
  autonomous: pc.green,
  notify_human: pc.cyan,
  require_approval: pc.yellow,
  deny: pc.red,
};

/** Registers the `factory policy` commands. */
export function registerPolicyCommands(program: Command): Command {
  const policy = program
    .command('policy')
    .description('Lint, test, explain and diff bounded-autonomy policies.')
    .addHelpText(
      'after',
      `
A risk officer's loop:
  factory policy lint policies/finance-ops --tools policies/finance-ops/tools.json
  factory policy test policies/
  factory policy explain policies/finance-ops --action '{"kind":"tool","name":"payments.refund","args":{"amount":7200}}'
  factory policy diff policies/finance-ops/policy.yaml proposed/policy.yaml
The format and the CEL context are documented in docs/policy-language.md.`,
    );

  withJson(
    policy
      .command('lint')
      .description('Check policies for mistakes: invalid documents (errors) and rules that cannot mean what they say (warnings).')
      .argument('<files...>', 'policy files or folders (folders are read recursively)')
      .option(
        '--tools <schemas.json>',
        "type-check conditions against the tools' input schemas: [{name, inputSchema}] or an MCP tools/list result",
      )
      .option('--strict', 'fail on warnings too')
      .option(
        '--notifications <file>',
        'the notification channels notify targets must be deliverable through (default: AIFACTORY_NOTIFICATIONS or ./notifications.yaml)',
      )
      .addHelpText(
        'after',
        '\nThe files are linted as one policy set, the way an agent runs under them (shadowing across policies is found).' +
          '\nEvery notify target must be deliverable: a well-formed address or slack:#channel configured in notifications.yaml, inbox:<name>, webhook:https://… or log.' +
          '\nExit codes: 0 no errors (warnings allowed unless --strict), 1 errors found, 2 unreadable input.',
      ),
  ).action(
    action(async (files: string[], options: LintOptions) => {
      // Without --tools, the tools.json kept beside a policy (the agent's real tool schemas) is used.
      const toolsFile = options.tools ?? besideToolsFile(files);
      const tools = toolsFile ? parseToolSchemas(await readText(toolsFile, '--tools'), toolsFile) : undefined;
      const notificationsFile = options.notifications ? path.resolve(options.notifications) : workspaceConfigFromEnv().notificationsFile;
      if (options.notifications && !existsSync(notificationsFile))
        throw new UserError(ErrorCode.InputInvalid, `--notifications: cannot read ${options.notifications} (ENOENT).`, {
          location: { file: options.notifications },
        });
      const channels = await readNotificationChannels(path.relative(process.cwd(), notificationsFile) || notificationsFile);
      const report = await lintPolicyFiles(files, {
        ...(tools ? { tools } : {}),
        notifyTarget: (target) => undeliverableTarget(target, channels),
      });
      emit(
        options,
        { ...lintJson(report, tools?.length), ...(toolsFile ? { toolsFile } : {}), notifications: channels.file ?? null },
        renderLint,
      );
      return report.errors > 0 || (options.strict && report.warnings > 0) ? ExitCode.CheckFailed : ExitCode.Ok;
    }),
  );

  withJson(
    policy
      .command('test')
      .description('Run the test cases kept beside each policy (<folder>/tests/<expected authority>.yaml), like opa test.')
      .argument('<dir>', 'a policy folder, or a folder of policy folders (e.g. policies/)')
      .option('-v, --verbose', 'list passing cases too')
      .addHelpText('after', '\nExit codes: 0 all cases pass, 1 a case failed, 2 an invalid policy or test file.'),
  ).action(
    action(async (directory: string, options: TestOptions) => {
      const report = await everyProblem(options, () => runPolicyTests(directory));
      if (typeof report === 'number') return report;
      emit(options, testJson(report), (value) => renderTests(value, options.verbose === true));
      return report.failed > 0 ? ExitCode.CheckFailed : ExitCode.Ok;
    }),
  );

  withJson(
    policy
      .command('explain')
      .description('Decide one action under the given policies and explain why: rules, the values their conditions saw, obligations.')
      .argument('<policy...>', 'policy files or folders, combined as one set')
      .requiredOption('--action <json|file>', 'the action as JSON, or a JSON/YAML file: {kind, name, args, agent?, principal?, run?}')
      .option('--context <json|file>', 'the context as JSON, or a JSON/YAML file: {data?: {classifications, collections}, now?}')
      .addHelpText(
        'after',
        `\nExample:\n  factory policy explain policies/finance-ops --action '{"kind":"tool","name":"payments.refund","args":{"amount":40,"currency":"EUR"},"agent":{"id":"refund-bot","team":"finance"}}'`,
      ),
  ).action(
    action(async (paths: string[], options: ExplainOptions) => {
      const policies = await everyProblem(options, () => loadPolicyFiles(paths));
      if (typeof policies === 'number') return policies;
      const set = compilePolicies(policies);
      const subject = parseActionInput(await inputText(options.action, '--action'), labelOf(options.action, '--action'));
      const context = options.context
        ? parseContextInput(await inputText(options.context, '--context'), labelOf(options.context, '--context'))
        : {};
      const decision = decide(set, subject, context);
      emit(options, { action: subject, context, decision }, ({ decision: decided }) =>
        renderDecision(decided, `${subject.kind} '${subject.name}'`),
      );
      return ExitCode.Ok;
    }),
  );

  withJson(
    policy
      .command('diff')
      .description(
        'Compare two versions of a policy set: rules added, removed and changed, and which decisions change on a generated sample of actions.',
      )
      .argument('<old>', 'the current policy file or folder')
      .argument('<new>', 'the proposed policy file or folder')
      .option('--samples <n>', 'actions to sample', '1000')
      .option('--seed <n>', 'seed of the sample (same seed, same actions)', '1')
      .option('--exit-code', 'exit 1 when any sampled decision changes (for CI gates)')
      .addHelpText(
        'after',
        '\nSamples are built from the literals both versions compare against (amount 5000 -> 4999, 5000, 5001), so thresholds are exercised.',
      ),
  ).action(
    action(async (before: string, after: string, options: DiffOptions) => {
      const samples = positiveInteger(options.samples, '--samples');
      const seed = positiveInteger(options.seed, '--seed');
      const loaded = await everyProblem(options, () => Promise.all([loadPolicyFiles([before]), loadPolicyFiles([after])]));
      if (typeof loaded === 'number') return loaded;
      const diff = diffPolicies(loaded[0], loaded[1], { samples, seed });
      emit(options, diff, renderDiff);
      return options.exitCode && diff.sample.changed > 0 ? ExitCode.CheckFailed : ExitCode.Ok;
    }),
  );

  withJson(
    policy
      .command('schema')
      .description(
        'Print the JSON Schema of the policy format (editors: # yaml-language-server: $schema=<path to autonomy-policy.schema.json>).',
      )
      .addHelpText(
        'after',
        '\nThe schema is JSON already; --json is accepted for symmetry with every other command and prints the same document.',
      ),
  ).action(
    action(() => {
      process.stdout.write(policyJsonSchemaText());
    }),
  );

  return policy;
}

/**
 * Runs a step that may reject several files at once: in text mode every problem gets its own
 * `error:` line (file:line:column: path: message) and the command exits 2; --json keeps the
 * usual error object, whose details.problems lists them all.
 */
async function everyProblem<T>(options: CommonOptions, run: () => Promise<T>): Promise<T | number> {
  try {
    return await run();
  } catch (error) {
    const problems =
      error instanceof UserError
        ? (error.details?.problems as Array<{ message: string; location: SourceLocation }> | undefined)
        : undefined;
    if (options.json || !problems || problems.length < 2) throw error;
    for (const problem of problems) process.stderr.write(`${pc.red('error')}: ${formatLocation(problem.location)}${problem.message}\n`);
    process.stderr.write(`${problems.length} problems.\n`);
    return ExitCode.UserError;
  }
}

/** Reads a file named on the command line; a missing file is the caller's mistake. */
async function readText(path: string, option: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `${option}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
      { location: { file: path } },
    );
  }
}

/** Inline JSON (starts with `{`) or a file path. */
function inputText(value: string, option: string): Promise<string> {
  return value.trimStart().startsWith('{') ? Promise.resolve(value) : readText(value, option);
}

function labelOf(value: string, option: string): string {
  return value.trimStart().startsWith('{') ? option : value;
}

function positiveInteger(value: string, option: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 1_000_000) {
    throw new UserError(ErrorCode.InputInvalid, `${option} must be a whole number from 1 to 1000000, not '${value}'.`);
  }
  return number;
}

function lintJson(report: LintReport, tools: number | undefined) {
  return {
    ok: report.errors === 0,
    files: report.files,
    policies: report.policies.map((entry) => ({ name: entry.name, version: entry.version, hash: entry.hash, file: entry.file })),
    ...(tools !== undefined ? { tools } : {}),
    errors: report.errors,
    warnings: report.warnings,
    findings: report.findings,
  };
}

/** The tools.json beside the policies linted (in a folder given, or next to a file given), if exactly one. */
function besideToolsFile(files: readonly string[]): string | undefined {
  const found = new Set<string>();
  for (const file of files) {
    const folder = existsSync(file) && statSync(file).isDirectory() ? file : path.dirname(file);
    const candidate = path.join(folder, 'tools.json');
    if (existsSync(candidate)) found.add(candidate);
  }
  return found.size === 1 ? [...found][0] : undefined;
}

function renderLint(report: ReturnType<typeof lintJson> & { toolsFile?: string }): string {
  const lines = report.findings.map((finding) => {
    const severity = finding.severity === 'error' ? pc.red('error') : pc.yellow('warning');
    const field = finding.location.path ? `${finding.location.path}: ` : '';
    return `${formatPosition(finding.location)}: ${severity} ${field}${finding.message} ${pc.dim(`[${finding.code}]`)}`;
  });
  const files = `${report.files.length} file${report.files.length === 1 ? '' : 's'}`;
  const checked = report.toolsFile ? ` (checked against ${report.tools} tools in ${report.toolsFile})` : '';
  const summary =
    report.findings.length === 0
      ? `${pc.green('ok')}: ${files}${checked}, no findings`
      : `${files}: ${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}`;
  return [...lines, summary].join('\n');
}

function testJson(report: PolicyTestReport) {
  return {
    ok: report.failed === 0,
    total: report.total,
    passed: report.passed,
    failed: report.failed,
    suites: report.suites.map((suite) => ({
      directory: suite.directory,
      policies: suite.policies,
      results: suite.results.map((result) => ({
        name: result.name,
        file: result.file,
        line: result.line,
        expected: result.expected,
        actual: result.actual,
        passed: result.passed,
        ...(result.passed ? {} : { failures: result.failures, decision: result.decision }),
      })),
    })),
  };
}

function renderTests(report: ReturnType<typeof testJson>, verbose: boolean): string {
  const lines: string[] = [];
  for (const suite of report.suites) {
    const failed = suite.results.filter((result) => !result.passed).length;
    lines.push(`${failed === 0 ? pc.green('ok  ') : pc.red('FAIL')} ${suite.directory} ${pc.dim(`(${suite.results.length} cases)`)}`);
    for (const result of suite.results) {
      if (result.passed && !verbose) continue;
      const location = pc.dim(`${result.file}:${result.line}`);
      if (result.passed) lines.push(`  ${pc.green('PASS')} ${result.name} ${location}`);
      else {
        lines.push(`  ${pc.red('FAIL')} ${result.name} ${location}`);
        for (const failure of result.failures ?? []) lines.push(`       ${failure}`);
      }
    }
  }
  lines.push('-'.repeat(40));
  lines.push(
    report.failed === 0
      ? `${pc.green('PASS')}: ${report.passed}/${report.total}`
      : `${pc.red('FAIL')}: ${report.failed}/${report.total} failed, ${report.passed} passed`,
  );
  return lines.join('\n');
}

function formatValue(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function renderRule(rule: MatchedRule): string[] {
  const lines = [`  ${colours[rule.authority](rule.authority.padEnd(16))} ${rule.policy}/${rule.ruleId}`];
  if (rule.reason) lines.push(`      reason: ${rule.reason}`);
  const values = Object.entries(rule.values);
  if (values.length > 0) lines.push(`      saw:    ${values.map(([path, value]) => `${path} = ${formatValue(value)}`).join(', ')}`);
  if (rule.conditionError) lines.push(`      ${pc.red('condition failed')}: ${rule.conditionError}`);
  return lines;
}

function humanDuration(milliseconds: number): string {
  if (milliseconds % 86_400_000 === 0) return `${milliseconds / 86_400_000}d`;
  if (milliseconds % 3_600_000 === 0) return `${milliseconds / 3_600_000}h`;
  if (milliseconds % 60_000 === 0) return `${milliseconds / 60_000}m`;
  return `${Math.round(milliseconds / 1000)}s`;
}

/** The text form of a decision, for people. */
export function renderDecision(decision: Decision, subject: string): string {
  const lines = [`${colours[decision.authority](pc.bold(decision.authority))}  ${subject}`, decision.reason, ''];
  if (decision.rules.length > 0) lines.push('rules that applied', ...decision.rules.flatMap(renderRule), '');
  else lines.push(`no rule applied: the default for the action kind decided`, '');
  if (decision.skipped.length > 0)
    lines.push(
      'rules skipped (their condition failed and they would have loosened the outcome)',
      ...decision.skipped.flatMap(renderRule),
      '',
    );
  const { approvers, notify, redact } = decision.obligations;
  const obligations: string[] = [];
  if (approvers) {
    const roles = approvers.roles.length > 0 ? `with role ${approvers.roles.join(' or ')}` : 'with any role';
    const expiry =
      approvers.expires_in_ms !== undefined
        ? `expires in ${humanDuration(approvers.expires_in_ms)}, then ${approvers.on_expiry}`
        : 'never expires';
    obligations.push(`  approvers  ${approvers.count} ${roles}${approvers.separation_of_duties ? ', not the requester' : ''}; ${expiry}`);
  }
  if (notify.length > 0) obligations.push(`  notify     ${notify.join(', ')}`);
  if (redact.length > 0) obligations.push(`  redact     ${redact.map((field) => `action.args.${field}`).join(', ')}`);
  if (obligations.length > 0) lines.push('obligations', ...obligations, '');
  lines.push(
    'policies',
    ...decision.policies.map((entry) => `  ${entry.name} v${entry.version}  ${pc.dim(`sha256:${entry.hash.slice(0, 16)}`)}`),
  );
  return lines.join('\n');
}

function renderDiff(diff: PolicyDiff): string {
  const lines: string[] = [];
  const { added, removed, changed } = diff.policies;
  for (const name of added) lines.push(`${pc.green('+')} policy ${name}`);
  for (const name of removed) lines.push(`${pc.red('-')} policy ${name}`);
  for (const entry of changed)
    lines.push(
      `${pc.yellow('~')} policy ${entry.name} v${entry.before.version} -> v${entry.after.version} ${pc.dim(`(${entry.before.hash.slice(0, 12)} -> ${entry.after.hash.slice(0, 12)})`)}`,
    );
  if (diff.rules.length > 0) {
    lines.push('', 'rules');
    for (const rule of diff.rules) {
      const mark = rule.change === 'added' ? pc.green('+') : rule.change === 'removed' ? pc.red('-') : pc.yellow('~');
      const detail =
        rule.change === 'changed'
          ? rule.fields
              .map(
                (field) =>
                  `${field}: ${formatValue(rule.before?.[field as keyof typeof rule.before] ?? null)} -> ${formatValue(rule.after?.[field as keyof typeof rule.after] ?? null)}`,
              )
              .join('; ')
          : `${(rule.after ?? rule.before)!.authority}${(rule.after ?? rule.before)!.when ? ` when ${(rule.after ?? rule.before)!.when}` : ''}`;
      lines.push(`  ${mark} ${rule.policy}/${rule.ruleId}  ${detail}`);
    }
  }
  if (diff.defaults.length > 0)
    lines.push('', 'defaults', ...diff.defaults.map((entry) => `  ${entry.kind}: ${entry.before} -> ${entry.after}`));
  if (diff.limits.length > 0) {
    lines.push(
      '',
      'limits',
      ...diff.limits.map(
        (entry) =>
          `  ${entry.limit}: ${entry.before ? `${entry.before.max} (${entry.before.on_exceeded})` : 'none'} -> ${entry.after ? `${entry.after.max} (${entry.after.on_exceeded})` : 'none'}`,
      ),
    );
  }
  if (lines.length === 0) lines.push('no changes to policies, rules, defaults or limits');
  lines.push(
    '',
    `sampled ${diff.sample.size} actions (seed ${diff.sample.seed}): ${diff.sample.changed === 0 ? 'no decision changes' : `${diff.sample.changed} decision${diff.sample.changed === 1 ? '' : 's'} change`}`,
  );
  for (const [transition, count] of Object.entries(diff.sample.transitions).sort((left, right) => right[1] - left[1])) {
    const [from = 'deny', to = 'deny'] = transition.split(' -> ') as [Authority, Authority];
    lines.push(`  ${String(count).padStart(5)}  ${colours[from](from)} -> ${colours[to](to)}`);
    for (const example of diff.sample.examples.filter((entry) => entry.before.authority === from && entry.after.authority === to)) {
      const args = Object.keys(example.action.args).length > 0 ? ` ${formatValue(example.action.args)}` : '';
      const by = example.after.rules.length > 0 ? example.after.rules.join(', ') : 'the default';
      lines.push(`         e.g. ${example.action.kind} ${example.action.name}${args}: now ${by}`);
    }
  }
  return lines.join('\n');
}
