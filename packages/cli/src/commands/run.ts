// `factory run` and `factory runs resume`: start a governed run of an agent and watch it — the
// answer as it streams and each governed action with its authority — and resume held runs.
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import type { RunEvent, RunResult } from '@aifactory/execution';
import type { Store } from '@aifactory/store';
import type { OpenWorkspaceOptions, Workspace } from '@aifactory/workspace';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, ExitCode, withJson, type CommonOptions } from '../command-kit.ts';
import { actingAs, ServerClient, viaServerOrStore, type ServerConnection } from '../connection.ts';

interface RunOptions extends CommonOptions {
  input: string;
  as: string;
  role: string[];
  agents: string;
  feature?: string;
}

interface ResumeOptions extends CommonOptions {
  approval?: string;
  agents: string;
}

/** Opens the workspace (configured from the environment) over an open store, with agents from `agentsDir`. */
export async function openCliWorkspace(
  store: Store,
  agentsDir = 'agents',
  options: Pick<OpenWorkspaceOptions, 'adaptAgent'> = {},
): Promise<Workspace> {
  // The runtime loads here, not with the module: `factory runs list` registers `runs resume` too.
  const { openWorkspace, workspaceConfigFromEnv } = await import('@aifactory/workspace');
  // A local admin's CLI may also start agents by the path of their file (agentPaths).
  return openWorkspace(workspaceConfigFromEnv(process.env, { agentsDir: path.resolve(agentsDir) }), {
    store,
    agentPaths: true,
    ...options,
  });
}

/** Opens the workspace's store as configured by the environment. */
async function openCliStore(): Promise<Store> {
  const { openWorkspaceStore } = await import('@aifactory/workspace/config');
  return openWorkspaceStore();
}

/**
 * Returns a printer of run events (text mode): model text streams as it arrives, each governed
 * action gets a line with its authority and rules, holds say how to approve.
 */
export function createRunRenderer(write: (text: string) => void = (text) => process.stdout.write(text)): (event: RunEvent) => void {
  let streamed = '';
  // The answer event follows the answer's own decision event, so keep the last streamed text
  // until the next stream starts: an answer that was already streamed is not printed twice.
  let lastStreamed = '';
  return (event) => {
    if (event.type === 'token') {
      streamed += event.text;
      write(event.text);
      return;
    }
    if (streamed) {
      write('\n');
      lastStreamed = streamed;
      streamed = '';
    }
    if (event.type === 'answer' && lastStreamed.trim() === event.text.trim()) return;
    renderRunEvent(event, write);
  };
}

/** Prints one run event (text mode); see createRunRenderer for streaming text. */
export function renderRunEvent(event: RunEvent, write: (text: string) => void = (text) => process.stdout.write(text)): void {
  switch (event.type) {
    case 'run.started':
      write(`${pc.dim(`run ${event.runId} · agent ${event.agent} · as ${event.principal}`)}\n`);
      break;
    case 'action.decided': {
      if (event.kind === 'model' || event.kind === 'answer') {
        if (event.authority !== 'autonomous') write(`${badge(event.authority)} ${event.kind} ${event.name} ${pc.dim(event.reason)}\n`);
        break;
      }
      const args = JSON.stringify(event.args);
      write(
        `${badge(event.authority)} ${event.kind} ${pc.bold(event.name)} ${pc.dim(args.length > 100 ? `${args.slice(0, 97)}...` : args)}${event.rules.length > 0 ? pc.dim(`  [${event.rules.join(', ')}]`) : ''}\n`,
      );
      if (event.authority === 'deny') write(`  ${pc.red('✗')} ${event.reason}\n`);
      break;
    }
    case 'tool.returned':
      write(`  ${event.ok ? pc.green('✓') : pc.red('✗')} ${pc.dim(event.summary)}\n`);
      break;
    case 'notification.queued':
      write(`  ${pc.yellow('✉')} notified ${event.targets.join(', ')}\n`);
      break;
    case 'run.held':
      write(
        `${pc.yellow('⏸ held')}: ${event.kind} ${event.name} waits for approval ${pc.bold(event.approvalId)}${event.expiresAt ? ` (expires ${event.expiresAt})` : ''}\n`,
      );
      if (event.childRunId)
        write(`  the hand-off's run ${event.childRunId} is held; see: pnpm factory approvals show ${event.approvalId}\n`);
      else write(`  approvers: ${JSON.stringify(event.approvers)}\n`);
      // Hints a person can paste as printed: their login name for --as, the first role that may vote.
      write(`  approve:   pnpm factory approvals approve ${event.approvalId} --as "$USER"${hintRole(event.approvers)}\n`);
      write(`  reject:    pnpm factory approvals reject ${event.approvalId} --as "$USER"${hintRole(event.approvers)} --comment "why"\n`);
      break;
    case 'approval.applied':
      write(
        `${event.outcome === 'approved' ? pc.green('▶ approved') : pc.red('■ rejected')}: approval ${event.approvalId} (step ${event.step})\n`,
      );
      break;
    case 'budget.exceeded':
      write(`${pc.red('budget')}: ${event.limit} reached ${event.value} (max ${event.max}); ${event.outcome}\n`);
      break;
    case 'answer':
      write(`\n${event.text}\n`);
      break;
    case 'run.completed':
      write(`${pc.green('✔ completed')} ${pc.dim(event.runId)}\n`);
      break;
    case 'run.failed':
      write(`${pc.red('✖ failed')}: ${event.reason}\n`);
      break;
    default:
      break;
  }
}

function badge(authority: string): string {
  if (authority === 'autonomous') return pc.green('● autonomous      ');
  if (authority === 'notify_human') return pc.yellow('● notify_human    ');
  if (authority === 'require_approval') return pc.magenta('● require_approval');
  return pc.red('● deny            ');
}

/** The exit code of a run: 1 when it failed, else 0 (completed or held). */
export function exitCodeOf(result: RunResult): number {
  return result.status === 'failed' ? ExitCode.CheckFailed : ExitCode.Ok;
}

/** Resumes the run an approval belongs to, printing what happens; used by `approvals approve|reject`. */
export async function resumeHeldRun(
  store: Store,
  runId: string,
  approvalId: string,
  options: CommonOptions & { agents?: string },
): Promise<number> {
  const workspace = await openCliWorkspace(store, options.agents);
  try {
    const events: RunEvent[] = [];
    const render = createRunRenderer();
    const result = await workspace.runtime.resume(runId, {
      approvalId,
      onEvent: (event) => (options.json ? events.push(event) : render(event)),
    });
    if (options.json) emit(options, { ...result, events }, () => '');
    return exitCodeOf(result);
  } finally {
    await workspace.close();
  }
}

/** ` --role <role>` for the first role an approvers obligation names (none when any principal may vote). */
function hintRole(approvers: unknown): string {
  const roles = (approvers as { roles?: unknown } | null)?.roles;
  return Array.isArray(roles) && typeof roles[0] === 'string' ? ` --role ${roles[0]}` : '';
}

/** Registers `factory run`. */
export function registerRunCommand(program: Command): void {
  withJson(
    program
      .command('run')
      .description('Run an agent under its policies: streams the answer and every governed action; held actions wait for approval.')
      .argument(
        '<agent>',
        'agent name (looked up in --agents) or, run locally, the path of an agent YAML file (the server, MCP and the SDK take names only)',
      )
      .requiredOption('-i, --input <text>', 'the task for the agent')
      .option(
        '--as <principal>',
        'who starts the run (the principal policies see)',
        process.env.USER ? `${process.env.USER}@local` : 'cli@local',
      )
      .option('--role <role...>', 'roles of the principal', [])
      .option('--agents <dir>', 'folder of agent definitions', 'agents')
      .option('--feature <name>', "product feature the run's cost is attributed to (default the agent's metadata.feature)")
      .addHelpText(
        'after',
        '\nExit codes: 0 completed or held, 1 the run failed, 2 bad input, 3 store or system failure.\nThe store is PGlite under AIFACTORY_HOME (default ./.factory) or Postgres when DATABASE_URL is set.',
      ),
  ).action(
    action(async (agent: string, options: RunOptions, command: Command) => {
      if (!options.input.trim()) throw new UserError(ErrorCode.InputInvalid, '--input is empty; give the agent a task.');
      return viaServerOrStore({
        server: (connection) => runThroughServer(connection, agent, options, command.getOptionValueSource('as') === 'cli'),
        store: () => runOnStore(agent, options),
      });
    }),
  );
}

/** Streams a run the server drives: its events print as they come, as they would locally. */
async function runThroughServer(connection: ServerConnection, agent: string, options: RunOptions, explicitAs: boolean): Promise<number> {
  if (options.agents !== 'agents')
    throw new UserError(
      ErrorCode.InputInvalid,
      `--agents does not apply through ${connection.url}: the server runs the agents of its own folder; name the agent only.`,
      { location: { path: '--agents' } },
    );
  if (options.feature)
    throw new UserError(
      ErrorCode.InputInvalid,
      `--feature does not apply through ${connection.url}: the server attributes the run's cost to the agent's metadata.feature.`,
      { location: { path: '--feature' } },
    );
  const client = new ServerClient(connection, actingAs(connection, options.as, options.role, explicitAs));
  const events: RunEvent[] = [];
  const render = createRunRenderer();
  await client.stream('/v1/runs', { agent, input: options.input }, (event) =>
    options.json ? events.push(event as unknown as RunEvent) : render(event as unknown as RunEvent),
  );
  const last = events.at(-1) as (RunEvent & Record<string, unknown>) | undefined;
  const status =
    last?.type === 'run.completed' ? 'completed' : last?.type === 'run.failed' ? 'failed' : last?.type === 'run.held' ? 'held' : 'unknown';
  if (options.json) {
    const answer = [...events].reverse().find((event) => event.type === 'answer') as { text?: string } | undefined;
    emit(
      options,
      {
        runId: events[0]?.runId,
        status,
        ...(answer?.text !== undefined ? { answer: answer.text } : {}),
        ...(last?.type === 'run.failed' ? { error: last.reason } : {}),
        events,
        server: connection.url,
      },
      () => '',
    );
  }
  return status === 'failed' ? ExitCode.CheckFailed : ExitCode.Ok;
}

/** `factory run` on the store: this process drives the run. */
async function runOnStore(agent: string, options: RunOptions): Promise<number> {
  const store = await openCliStore();
  try {
    const workspace = await openCliWorkspace(store, options.agents);
    try {
      const events: RunEvent[] = [];
      const render = createRunRenderer();
      const result = await workspace.startRun({
        agent,
        input: options.input,
        principal: { id: options.as, roles: options.role },
        ...(options.feature ? { feature: options.feature } : {}),
        onEvent: (event) => (options.json ? events.push(event) : render(event)),
      });
      if (options.json) emit(options, { ...result, events }, () => '');
      return exitCodeOf(result);
    } finally {
      await workspace.close();
    }
  } finally {
    await store.close();
  }
}

/** Adds `resume` to the `runs` command. */
export function registerResumeCommand(runs: Command): void {
  withJson(
    runs
      .command('resume')
      .description('Resume a held run whose approval was decided (approve/reject usually resumes it for you).')
      .argument('<run>', 'run id')
      .option('--approval <id>', 'the approval the run waits for (default: the one recorded for it)')
      .option('--agents <dir>', 'folder of agent definitions', 'agents'),
  ).action(
    action(async (runId: string, options: ResumeOptions) =>
      viaServerOrStore({
        server: (connection) => resumeThroughServer(connection, runId, options),
        store: () => resumeOnStore(runId, options),
      }),
    ),
  );
}

/** `runs resume` through a server: POST /v1/runs/:id/resume; the server (or its workers) drives the run. */
async function resumeThroughServer(connection: ServerConnection, runId: string, options: ResumeOptions): Promise<number> {
  if (options.agents !== 'agents')
    throw new UserError(
      ErrorCode.InputInvalid,
      `--agents does not apply through ${connection.url}: the server resumes runs with the agents of its own folder.`,
      { location: { path: '--agents' } },
    );
  const result = await new ServerClient(connection).request<{
    runId: string;
    status: RunResult['status'];
    answer?: string;
    error?: string;
    held?: { approvalId: string; name: string };
  }>('POST', `/v1/runs/${encodeURIComponent(runId)}/resume`, options.approval ? { approvalId: options.approval } : {});
  emit(options, { ...result, server: connection.url }, (value) =>
    value.status === 'completed'
      ? `${pc.green('✔ completed')} ${pc.dim(value.runId)}${value.answer ? `\n${value.answer}` : ''}`
      : value.status === 'held'
        ? `${pc.magenta('⏸ held again')} ${pc.dim(value.runId)}: ${value.held?.name ?? 'an action'} waits for approval ${value.held?.approvalId ?? ''}`
        : `${pc.red('✖ failed')}: ${value.error ?? ''}`,
  );
  return result.status === 'failed' ? ExitCode.CheckFailed : ExitCode.Ok;
}

/** `runs resume` on the store: this process drives the run on. */
async function resumeOnStore(runId: string, options: ResumeOptions): Promise<number> {
  const store = await openCliStore();
  try {
    let approvalId = options.approval;
    if (!approvalId) {
      const { findDecidedApprovalOfRun } = await import('@aifactory/execution/approvals');
      const row = await findDecidedApprovalOfRun(store, runId);
      if (!row)
        throw new UserError(
          ErrorCode.NotFound,
          `Run '${runId}' has no decided approval waiting to be applied; list them with 'factory approvals list --run ${runId} --status all'.`,
        );
      approvalId = row.id;
    }
    // Awaited here: returning the bare promise would run `finally` (closing the store) while
    // the resume still needs it.
    return await resumeHeldRun(store, runId, approvalId, options);
  } finally {
    await store.close();
  }
}
