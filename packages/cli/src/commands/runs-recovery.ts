// `factory runs resolve` and `factory runs recover`: what an operator does about runs whose
// process died. `recover` continues orphaned runs (their lease lapsed) in this process, as a
// running server or worker does by itself; `resolve` settles a run held with reason
// outcome_unknown — a tool call whose outcome a crash left unknown — by confirming it happened,
// running it again, or failing the run.
import { ErrorCode, UserError } from '@aifactory/core';
import type { InDoubtResolution, RunEvent } from '@aifactory/execution';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, ExitCode, withJson, type CommonOptions } from '../command-kit.ts';
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
        'who resolves (a local administrator acting directly on the store)',
        process.env.USER ? `${process.env.USER}@local` : 'cli@local',
      )
      .option('--agents <dir>', 'folder of agent definitions', 'agents')
      .addHelpText(
        'after',
        '\nA crash between a tool call and the record of its outcome leaves the call in doubt: it may or may not have happened.\nIt is never run again silently; tools declared idempotent in the agent definition are retried by themselves.\nExit codes: 0 resolved (the run completed or is held again), 1 the run failed, 2 nothing to resolve or bad input, 3 store failure.',
      ),
  ).action(
    action(async (runId: string, options: ResolveOptions) => {
      const chosen = (['confirm', 'retry', 'fail'] as const).filter((flag) => options[flag]);
      if (chosen.length !== 1)
        throw new UserError(
          ErrorCode.InputInvalid,
          `Choose exactly one of --confirm, --retry or --fail (got ${chosen.length === 0 ? 'none' : chosen.map((flag) => `--${flag}`).join(' and ')}).`,
        );
      if (options.result !== undefined && !options.confirm)
        throw new UserError(ErrorCode.InputInvalid, '--result goes with --confirm only.');
      const resolution: InDoubtResolution = options.confirm ? 'confirmed' : options.retry ? 'retried' : 'failed';
      const store = await openWorkspaceStore();
      try {
        const workspace = await openCliWorkspace(store, options.agents);
        try {
          const events: RunEvent[] = [];
          const render = createRunRenderer();
          const result = await workspace.runtime.resolveInDoubt(runId, {
            resolution,
            by: options.as,
            ...(options.result !== undefined ? { result: options.result } : {}),
            ...(options.reason ? { reason: options.reason } : {}),
            onEvent: (event: RunEvent) => (options.json ? events.push(event) : render(event)),
          });
          emit(
            options,
            { ...result, resolution, by: options.as, events },
            () => `${pc.dim(`resolved as ${resolution} by ${options.as}; run ${runId} is ${result.status}`)}\n`,
          );
          return result.status === 'failed' ? ExitCode.CheckFailed : ExitCode.Ok;
        } finally {
          await workspace.close();
        }
      } finally {
        await store.close();
      }
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
        const { findOrphanedRuns } = await import('@aifactory/verification');
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
