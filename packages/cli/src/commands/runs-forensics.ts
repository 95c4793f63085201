// `factory runs replay | explain | search`: the auditor's forensics over recorded runs. Replay
// re-executes a run from its trace (no model call, no tool run) and reports `identical` or the
// first divergence; with --policy it re-decides every recorded action under other policies
// (what-if). Explain prints the proof of every action; search finds actions across runs.
import path from 'node:path';
import { compilePolicies, loadPolicyFiles, type Authority } from '@aifactory/control';
import { ErrorCode, UserError } from '@aifactory/core';
import type { ReplayReport, WhatIfReport } from '@aifactory/execution/replay';
import type { Store } from '@aifactory/store';
import {
  explainRun,
  parseArgumentCondition,
  renderExplanationMarkdown,
  renderExplanationText,
  searchRuns,
  type RunSearchHit,
} from '@aifactory/verification';
import { Option, type Command } from 'commander';
import pc from 'picocolors';
import { ExitCode, action, emit, withJson, type CommonOptions } from '../command-kit.ts';
import { openWorkspaceRecorder, openWorkspaceStore } from '@aifactory/workspace/config';

/** What the forensics commands take from whoever wires the CLI (tests pass their own store). */
export interface RunsForensicsOptions {
  openStore?: () => Promise<Store>;
  /** Agents folder used when a run's recorded agent file is gone (default ./agents). */
  agentsDir?: string;
}

interface ReplayCommandOptions extends CommonOptions {
  policy?: string[];
  record?: boolean;
}

interface SearchOptions extends CommonOptions {
  feedback?: string;
  tool?: string;
  kind?: string;
  authority?: string;
  rule?: string;
  principal?: string;
  agent?: string;
  since?: string;
  until?: string;
  text?: string;
  where?: string[];
  replays?: boolean;
  limit?: string;
}

/** Adds `replay`, `explain` and `search` to the `runs` command. */
export function registerRunsForensicsCommands(runs: Command, options: RunsForensicsOptions = {}): void {
  const openStore = options.openStore ?? (() => openWorkspaceStore());
  async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
    const store = await openStore();
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  withJson(
    runs
      .command('replay')
      .description(
        'Replay a run from its trace (recorded model outputs, tool results, approvals and clock; no model is called, no tool runs) and report identical or the first divergence; with --policy, list the decisions other policies would change.',
      )
      .argument('<run>', 'run id')
      .option('--policy <file...>', 'what-if: re-decide every recorded action under these policy files or folders')
      .option('--no-record', 'do not record the replay as a run of its own'),
  )
    .addHelpText(
      'after',
      '\nExit code 0 when the replay is identical (or, with --policy, when no decision changes), 1 when it diverges (or decisions change), 2 when the run or a policy is wrong.',
    )
    .action(
      action(async (runId: string, replayOptions: ReplayCommandOptions) =>
        withStore(async (store) => {
          if (replayOptions.policy && replayOptions.policy.length > 0) {
            const policies = compilePolicies(await loadPolicyFiles(replayOptions.policy.map((file) => path.resolve(file))));
            const { loadRecordedRun, whatIf } = await import('@aifactory/execution/replay');
            const report = whatIf(await loadRecordedRun(store, runId), policies);
            emit(replayOptions, report, renderWhatIf);
            return report.changes.length > 0 ? ExitCode.CheckFailed : ExitCode.Ok;
          }
          const recorder = replayOptions.record === false ? undefined : await openWorkspaceRecorder(store);
          // The replay plane loads when a replay runs, so the other `runs` commands start quickly.
          const { replayRun } = await import('@aifactory/execution/replay');
          const report = await replayRun(store, {
            runId,
            ...(recorder ? { recorder } : {}),
            agentsDir: options.agentsDir ?? path.resolve('agents'),
          });
          emit(replayOptions, report, renderReplay);
          if (report.outcome === 'unavailable')
            throw new UserError(
              ErrorCode.NotFound,
              `Run '${runId}' cannot be replayed: ${report.notes.at(-1) ?? 'its agent is not available'}`,
            );
          return report.outcome === 'identical' ? ExitCode.Ok : ExitCode.CheckFailed;
        }),
      ),
    );

  runs
    .command('explain')
    .description(
      'The proof of every action of a run: what occurred, why it was allowed (policy, version, hash, rule, the values its condition saw), what data influenced it, whether it succeeded, how to replay it.',
    )
    .argument('<run>', 'run id')
    .option('--step <n>', 'only the action at this step')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'markdown', 'json']).default('text'))
    .option('--json', 'same as --format json')
    .action(
      action(async (runId: string, explainOptions: CommonOptions & { step?: string; format: 'text' | 'markdown' | 'json' }) =>
        withStore(async (store) => {
          const step = explainOptions.step === undefined ? undefined : Number(explainOptions.step);
          if (step !== undefined && (!Number.isInteger(step) || step < 1))
            throw new UserError(ErrorCode.InputInvalid, `--step must be a positive whole number, not '${explainOptions.step}'.`, {
              location: { path: 'step' },
            });
          const explanation = await explainRun(store, runId, step === undefined ? {} : { step });
          const format = explainOptions.json ? 'json' : explainOptions.format;
          if (format === 'json') process.stdout.write(`${JSON.stringify(explanation, null, 2)}\n`);
          else
            process.stdout.write(
              `${format === 'markdown' ? renderExplanationMarkdown(explanation) : renderExplanationText(explanation)}\n`,
            );
        }),
      ),
    );

  withJson(
    runs
      .command('search')
      .description(
        'Find governed actions across recorded runs by tool, authority, rule, principal, time range, text and argument conditions.',
      )
      .option('--tool <name>', 'action name; * matches anything (payments.*)')
      .option('--kind <kind>', 'tool, model, retrieval, handoff or answer')
      .option('--authority <authority>', 'autonomous, notify_human, require_approval or deny')
      .option('--rule <rule>', 'rule id or policy/rule')
      .option('--principal <id>', 'on whose behalf')
      .option('--agent <name>', 'agent name')
      .option('--since <time>', 'decided at or after (ISO date/time, or 7d / 24h ago)')
      .option('--until <time>', 'decided before (ISO date/time, or 7d / 24h ago)')
      .option('--text <text>', 'text anywhere in the arguments (case-insensitive)')
      .option('--where <condition...>', 'argument conditions, e.g. amount>1000 currency=EUR')
      .option('--replays', 'include replay runs')
      .option('--feedback <sentiment>', 'only actions of runs that received feedback of this sentiment: positive, neutral, negative or any')
      .option('--limit <n>', 'at most this many actions', '200'),
  )
    .addHelpText(
      'after',
      '\nExample: which runs refunded more than 1,000 last week?\n  factory runs search --tool "payments.refund" --where "amount>1000" --since 7d',
    )
    .action(
      action(async (searchOptions: SearchOptions) => {
        // Feedback is kept in sealed feedback records beside the runs (@aifactory/quality); --feedback narrows to the runs they name.
        const judged =
          searchOptions.feedback === undefined ? undefined : await (await import('./feedback.ts')).runsWithFeedback(searchOptions.feedback);
        return withStore(async (store) => {
          const limit = Number(searchOptions.limit ?? 200);
          if (!Number.isInteger(limit) || limit < 1)
            throw new UserError(ErrorCode.InputInvalid, `--limit must be a positive whole number, not '${searchOptions.limit}'.`, {
              location: { path: 'limit' },
            });
          const hits = await searchRuns(store, {
            ...(searchOptions.tool ? { tool: searchOptions.tool } : {}),
            ...(searchOptions.kind ? { kind: searchOptions.kind } : {}),
            ...(searchOptions.authority ? { authority: searchOptions.authority } : {}),
            ...(searchOptions.rule ? { rule: searchOptions.rule } : {}),
            ...(searchOptions.principal ? { principal: searchOptions.principal } : {}),
            ...(searchOptions.agent ? { agent: searchOptions.agent } : {}),
            ...(searchOptions.since ? { since: parseTime(searchOptions.since, 'since') } : {}),
            ...(searchOptions.until ? { until: parseTime(searchOptions.until, 'until') } : {}),
            ...(searchOptions.text ? { text: searchOptions.text } : {}),
            ...(searchOptions.where ? { where: searchOptions.where.map(parseArgumentCondition) } : {}),
            ...(searchOptions.replays ? { includeReplays: true } : {}),
            limit,
          });
          const kept = judged ? hits.filter((hit) => judged.has(hit.runId)) : hits;
          emit(searchOptions, { hits: kept, runs: [...new Set(kept.map((hit) => hit.runId))] }, ({ hits: found }) => renderHits(found));
        });
      }),
    );
}

/** An ISO time, or a span back from now (`7d`, `24h`, `30m`). */
function parseTime(text: string, option: string): Date {
  const span = /^(\d+)\s*([dhm])$/.exec(text.trim());
  if (span) return new Date(Date.now() - Number(span[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[span[2] as 'd' | 'h' | 'm']);
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    throw new UserError(
      ErrorCode.InputInvalid,
      `--${option} '${text}' is neither a date/time (2025-06-01, 2025-06-01T12:00Z) nor a span like 7d or 24h.`,
      { location: { path: option } },
    );
  return date;
}

const authorityColour: Record<Authority, (text: string) => string> = {
  autonomous: pc.green,
  notify_human: pc.cyan,
  require_approval: pc.yellow,
  deny: pc.red,
};

function colour(authority: string): string {
  return Object.hasOwn(authorityColour, authority) ? authorityColour[authority as Authority](authority) : authority;
}

function renderReplay(report: ReplayReport): string {
  const lines: string[] = [];
  if (report.outcome === 'identical')
    lines.push(`${pc.green('identical')}: run ${report.runId} replayed ${report.steps} governed steps the same.`);
  else if (report.outcome === 'unavailable') lines.push(`${pc.red('unavailable')}: run ${report.runId} cannot be replayed.`);
  else if (report.divergence) {
    const divergence = report.divergence;
    lines.push(`${pc.red('diverged')} at step ${divergence.step}: ${divergence.reason}`);
    const view = (label: string, value: typeof divergence.recorded) =>
      lines.push(
        `  ${label}: ${value ? `${value.kind} ${value.name} ${JSON.stringify(value.args)}${value.authority ? ` (${colour(value.authority)})` : ''}` : '(none)'}`,
      );
    view('recorded', divergence.recorded);
    view('replayed', divergence.replayed);
    for (const difference of divergence.differences)
      lines.push(
        `  ${difference.path}: ${pc.red(`- ${JSON.stringify(difference.recorded)}`)}  ${pc.green(`+ ${JSON.stringify(difference.replayed)}`)}`,
      );
  }
  for (const note of report.notes) lines.push(`  note: ${note}`);
  for (const child of report.children ?? [])
    lines.push(
      `  hand-off: child run ${child.runId} replayed ${child.outcome === 'identical' ? pc.green('identical') : pc.red(child.outcome)} (${child.steps} steps)`,
    );
  if (report.replayRunId) lines.push(`  recorded as run ${report.replayRunId} (replay of ${report.runId})`);
  return lines.join('\n');
}

function renderWhatIf(report: WhatIfReport): string {
  const lines = [
    `What-if for run ${report.runId} under ${report.policies.map((policy) => `${policy.name} v${policy.version}`).join(', ')}: ${report.changes.length} of ${report.decided} re-decided actions would change.`,
  ];
  for (const change of report.changes) {
    lines.push(
      `  step ${change.step}  ${change.kind} ${change.name}  ${colour(change.from)} -> ${colour(change.to)}  (${change.toRules.join(', ')})${change.altersPath ? pc.bold('  path changes') : ''}${change.maskedArgs ? '  [masked arguments]' : ''}`,
    );
  }
  if (report.pathAltered) lines.push(`  ${report.pathAltered.explanation}`);
  else if (report.changes.length === 0) lines.push('  The run would have gone the same way.');
  return lines.join('\n');
}

function renderHits(hits: RunSearchHit[]): string {
  if (hits.length === 0) return 'No actions match.';
  const lines = hits.map(
    (hit) =>
      `${hit.decidedAt.toISOString()}  ${hit.runId}  step ${hit.step}  ${hit.principal}  ${hit.kind} ${hit.name}  ${colour(hit.authority)}  ${hit.rules.join(', ') || '(default)'}  ${JSON.stringify(hit.args).slice(0, 80)}`,
  );
  lines.push(`${hits.length} actions in ${new Set(hits.map((hit) => hit.runId)).size} runs.`);
  return lines.join('\n');
}
