// `factory runs resolve` and `factory runs recover`: what an operator does about runs whose
// process died. `recover` continues orphaned runs (their lease lapsed) in this process, as a
// running server or worker does by itself; `resolve` settles a run held with reason
// outcome_unknown — a tool call whose outcome a crash left unknown — by confirming it happened,
// running it again, or failing the run.
import { ErrorCode, UserError } from '@aifactory/core';
import type { InDoubtResolution, RunEvent, RunResult } from '@aifactory/execution';
import type { Store } from '@aifactory/store';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, ExitCode, withJson, type CommonOptions } from '../command-kit.ts';
import { actingAs, describeServer, ServerClient, viaServerOrStore, type ServerConnection } from '../connection.ts';
import { createRunRenderer, openCliWorkspace } from './run.ts';

/** Opens the workspace's store as configured by the environment. */
async function openWorkspaceStore() {
  const { openWorkspaceStore: open } = await import('@aifactory/workspace/config');
  return open();
}

interface ResolveOptions extends CommonOptions {
  confirm?: boolean;
  retry?: boolean;
  fail?: boolean;
  result?: string;
  reason?: string;
  as: string;
  agents: string;
}

interface RecoverOptions extends CommonOptions {
  agents: string;
}

/** Registers `runs resolve` and `runs recover` under `factory runs`. */
export function registerRunsRecoveryCommands(runs: Command): void {
  withJson(
    runs
      .command('resolve')
      .description(
        'Settle a run held with reason outcome_unknown: the in-doubt tool call happened (--confirm), run it again (--retry), or fail the run (--fail).',
      )
      .argument('<run>', 'run id')
      .option('--confirm', 'the call happened; the run goes on without running it again')
      .option('--retry', 'run the call again, then go on')
      .option('--fail', 'fail the run')
      .option('--result <text>', 'with --confirm: what the call returned, as the agent will read it')
      .option('--reason <text>', 'why, recorded with the resolution')
      .option(
        '--as <principal>',
        "who resolves: a local administrator on the store or through this home's server (through a remote server the token says who you are)",
        process.env.USER ? `${process.env.USER}@local` : 'cli@local',
      )
      .option('--agents <dir>', 'folder of agent definitions', 'agents')
      .addHelpText(
        'after',
        "\nA crash between a tool call and the record of its outcome leaves the call in doubt: it may or may not have happened.\nIt is never run again silently; tools declared idempotent in the agent definition are retried by themselves.\nThrough a server (--server / AIFACTORY_URL, or this home's factory serve) the server goes on with the run; on a Postgres store with workers\n(its job queue exists) the decision is recorded here and the run queued for a worker, and this command waits for it.\nExit codes: 0 resolved (the run completed or is held again), 1 the run failed, 2 nothing to resolve or bad input, 3 store failure.",
      ),
  ).action(
    action(async (runId: string, options: ResolveOptions, command: Command) => {
      const chosen = (['confirm', 'retry', 'fail'] as const).filter((flag) => options[flag]);
      if (chosen.length !== 1)
        throw new UserError(
          ErrorCode.InputInvalid,
          `Choose exactly one of --confirm, --retry or --fail (got ${chosen.length === 0 ? 'none' : chosen.map((flag) => `--${flag}`).join(' and ')}).`,
        );
      if (options.result !== undefined && !options.confirm)
        throw new UserError(ErrorCode.InputInvalid, '--result goes with --confirm only.');
      const resolution: InDoubtResolution = options.confirm ? 'confirmed' : options.retry ? 'retried' : 'failed';
      const explicitAs = command.getOptionValueSource('as') === 'cli';
      return viaServerOrStore({
        server: (connection) => resolveThroughServer(connection, runId, resolution, options, explicitAs),
        store: () => resolveOnStore(runId, resolution, options),
      });
    }),
  );

  withJson(
    runs
      .command('recover')
      .description('Continue, in this process, every running run whose owner is gone (its lease lapsed), from its last checkpoint.')
      .option('--agents <dir>', 'folder of agent definitions', 'agents')
      .addHelpText(
        'after',
        '\nA running `factory serve` does this by itself within about a lease (AIFACTORY_LEASE_MS, default 30 s).\nRuns whose in-doubt tool call is not idempotent are held with reason outcome_unknown; settle them with `factory runs resolve`.',
      ),
  ).action(
    action(async (options: RecoverOptions) => {
      const store = await openWorkspaceStore();
      try {
        const { findOrphanedRuns } = await import('@aifactory/verification/internal');
        const workspace = await openCliWorkspace(store, options.agents);
        try {
          const outcomes: Array<{ runId: string; outcome: string; status?: string; reason?: string }> = [];
          for (const orphan of await findOrphanedRuns(store, 1_000)) {
            try {
              const recovery = await workspace.runtime.recover(orphan.runId);
              outcomes.push({
                runId: orphan.runId,
                outcome: recovery.outcome,
                ...(recovery.outcome === 'continued' ? { status: recovery.result.status } : { reason: recovery.reason }),
              });
            } catch (error) {
              outcomes.push({ runId: orphan.runId, outcome: 'error', reason: (error as Error).message });
            }
          }
          emit(options, { recovered: outcomes }, () =>
            outcomes.length === 0
              ? `${pc.dim('No orphaned runs.')}\n`
              : outcomes
                  .map(
                    (entry) =>
                      `${pc.bold(entry.runId)}  ${entry.outcome}${entry.status ? ` (${entry.status})` : ` (${entry.reason ?? ''})`}\n`,
                  )
                  .join(''),
          );
          return outcomes.some((entry) => entry.outcome === 'error') ? ExitCode.SystemError : ExitCode.Ok;
        } finally {
          await workspace.close();
        }
      } finally {
        await store.close();
      }
    }),
  );
}

/** What a resolution asks for, as the HTTP API takes it. */
function decisionOf(
  resolution: InDoubtResolution,
  options: ResolveOptions,
): { resolution: InDoubtResolution; result?: string; reason?: string } {
  return {
    resolution,
    ...(options.result !== undefined ? { result: options.result } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
  };
}

/** Prints a resolution's outcome; exit 1 when the run failed. */
function reportResolution(
  options: ResolveOptions,
  runId: string,
  resolution: InDoubtResolution,
  by: string,
  result: RunResult | { runId: string; status: 'running' },
  extra: Record<string, unknown> = {},
  note = '',
): number {
  emit(
    options,
    { ...result, resolution, by, ...extra },
    () => `${pc.dim(`resolved as ${resolution} by ${by}; run ${runId} is ${result.status}`)}${note ? `\n${note}` : ''}\n`,
  );
  return result.status === 'failed' ? ExitCode.CheckFailed : ExitCode.Ok;
}

/**
 * `runs resolve` through a server (--server / AIFACTORY_URL, or the `factory serve` owning this
 * home's embedded store): POST /v1/runs/:id/resolve. The server records the decision and goes on
 * with the run — itself, or through its job queue for a worker (`serve --queue`).
 */
async function resolveThroughServer(
  connection: ServerConnection,
  runId: string,
  resolution: InDoubtResolution,
  options: ResolveOptions,
  explicitAs: boolean,
): Promise<number> {
  if (options.agents !== 'agents')
    throw new UserError(
      ErrorCode.InputInvalid,
      `--agents does not apply through ${connection.url}: the server goes on with runs using the agents of its own folder.`,
      { location: { path: '--agents' } },
    );
  const client = new ServerClient(connection, actingAs(connection, options.as, ['admin'], explicitAs));
  const answer = await client.request<{ runId: string; by: string; status?: 'running'; result?: RunResult }>(
    'POST',
    `/v1/runs/${encodeURIComponent(runId)}/resolve`,
    decisionOf(resolution, options),
  );
  const result = answer.result ?? { runId, status: 'running' as const };
  return reportResolution(
    options,
    runId,
    resolution,
    answer.by,
    result,
    { server: connection.url },
    result.status === 'running' ? `${describeServer(connection)} goes on with it; follow it with 'factory runs show ${runId}'.` : '',
  );
}

/**
 * `runs resolve` on the store. Where workers were deployed (the store's job queue exists), the
 * decision is recorded here and the run handed to the queue like any resume — a worker goes on
 * with it, and this command waits until the run completes, fails or is held again. Otherwise
 * (the embedded store, or Postgres without workers) this process goes on with the run itself.
 */
async function resolveOnStore(runId: string, resolution: InDoubtResolution, options: ResolveOptions): Promise<number> {
  const store = await openWorkspaceStore();
  try {
    const workspace = await openCliWorkspace(store, options.agents);
    try {
      const { RunQueue } = await import('@aifactory/workspace');
      const queue = await RunQueue.ifPresent(store, workspace.config.store);
      if (queue) {
        try {
          // Recorded without the run's lease (any process may record it), then applied by a worker.
          const recorded = await workspace.runtime.settleInDoubt(runId, { ...decisionOf(resolution, options), by: options.as });
          await queue.enqueueDrive({ runId, reason: 'resolve' });
          if (!options.json) process.stderr.write(pc.dim(`queued for a worker (${queue.schema}); waiting for run ${runId}…\n`));
          const result = await awaitRunEnd(store, runId, recorded.seq);
          return reportResolution(options, runId, resolution, options.as, result, { queue: queue.schema });
        } finally {
          await queue.close();
        }
      }
      const events: RunEvent[] = [];
      const render = createRunRenderer();
      const result = await workspace.runtime.resolveInDoubt(runId, {
        ...decisionOf(resolution, options),
        by: options.as,
        onEvent: (event: RunEvent) => (options.json ? events.push(event) : render(event)),
      });
      return reportResolution(options, runId, resolution, options.as, result, { events });
    } finally {
      await workspace.close();
    }
  } finally {
    await store.close();
  }
}

/**
 * Waits until a run a worker drives completes, fails or is held again (held after `afterSeq`: the
 * hold a recorded decision settles does not count), reading its row and last event.
 */
async function awaitRunEnd(store: Store, runId: string, afterSeq: number): Promise<RunResult> {
  const { findEventsOfType, findLastEvent, findRun } = await import('@aifactory/verification/internal');
  for (;;) {
    const row = await findRun(store, runId);
    const heldAgain = row?.status === 'held' && ((await findEventsOfType(store, runId, 'run.held'))[0]?.seq ?? 0) > afterSeq;
    if (row && row.status !== 'running' && (row.status !== 'held' || heldAgain)) {
      const last = await findLastEvent(store, runId);
      const payload = (last?.payload ? JSON.parse(last.payload) : {}) as { answer?: string; error?: string | { message?: string } };
      if (row.status === 'completed') return { runId, status: 'completed', answer: String(payload.answer ?? '') };
      if (row.status === 'failed')
        return { runId, status: 'failed', error: typeof payload.error === 'string' ? payload.error : (payload.error?.message ?? 'failed') };
      return { runId, status: 'held', held: payload as never };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
