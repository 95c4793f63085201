// Runs an API server hands to workers (`factory serve --queue`): the server records a run's start
// itself (so its first event is durable and streamed at once), queues the run for `factory worker`
// processes, and follows the run's trace in the store to stream what the worker records. Resumes
// after an approval go through the queue the same way. Nothing of an agent runs in the server.
import type { Principal } from '@aifactory/core';
import type { CallerTrace, InDoubtSettlement, RunEventListener, RunResult } from '@aifactory/execution';
import type { DriveRunJob, Workspace } from '@aifactory/workspace';
import { findLastEvent } from '@aifactory/verification/internal';
import { RunFollower } from './run-follower.ts';

/** What a QueuedRuns needs. */
export interface QueuedRunsOptions {
  workspace: Pick<Workspace, 'runtime' | 'store'>;
  /** Queues a drive of a run (the RunQueue's enqueueDrive). */
  enqueue(job: DriveRunJob): Promise<void>;
  /** A drive job as rows committed with the run's start (the RunQueue's driveJobRows): a start is never recorded without its job. */
  startJob(job: DriveRunJob): { text: string; row: unknown };
  /** How often the trace of followed runs is read (default 25 ms), when no follower is given. */
  pollMs?: number;
  /** The server's one follower of runs in the store (one read a poll for all its streams); default a follower of its own. */
  follower?: RunFollower;
}

/** Starts and resumes runs through the job queue and follows them in the store. */
export class QueuedRuns {
  readonly #options: QueuedRunsOptions;
  readonly #follower: RunFollower;

  constructor(options: QueuedRunsOptions) {
    this.#options = options;
    this.#follower =
      options.follower ?? new RunFollower({ store: options.workspace.store, ...(options.pollMs ? { pollMs: options.pollMs } : {}) });
  }

  /** Records the run as started and queued in one commit, and resolves once a worker completed, failed or held it. */
  async start(request: {
    agent: string;
    input: string;
    principal: Principal;
    runId?: string;
    onEvent?: RunEventListener;
    feature?: string;
    trace?: CallerTrace;
  }): Promise<RunResult> {
    const opened = await this.#options.workspace.runtime.open(request.agent, request.input, {
      principal: request.principal,
      ...(request.runId ? { runId: request.runId } : {}),
      ...(request.feature ? { feature: request.feature } : {}),
      ...(request.trace ? { trace: request.trace } : {}),
      commitWith: (runId) => [this.#options.startJob({ runId, reason: 'start' })],
    });
    const done = this.#follower.follow(opened.runId, 1, request.onEvent);
    request.onEvent?.({ type: 'run.started', runId: opened.runId, agent: opened.agent, principal: request.principal.id });
    return done;
  }

  /** Queues the resume of a held run whose approval was decided; resolves once it completed, failed or is held again. */
  async resume(runId: string, options: { approvalId: string; onEvent?: RunEventListener }): Promise<RunResult> {
    const done = this.#follower.follow(runId, (await findLastEvent(this.#options.workspace.store, runId))?.seq ?? 0, options.onEvent);
    await this.#options.enqueue({ runId, reason: 'resume', approvalId: options.approvalId });
    return done;
  }

  /**
   * Records a human's decision on a run held with reason outcome_unknown (the runtime's
   * settleInDoubt: no lease needed, nothing of the agent started here) and queues the run for a
   * worker, which applies it; resolves once it completed, failed or is held again. Should the job
   * be lost (this process dies, the queue is away), a supervisor finds the decision not applied.
   */
  async resolve(runId: string, decision: InDoubtSettlement): Promise<RunResult> {
    const { onEvent, onRecorded, ...settle } = decision;
    const recorded = await this.#options.workspace.runtime.settleInDoubt(runId, settle);
    onRecorded?.();
    const done = this.#follower.follow(runId, recorded.seq, onEvent);
    await this.#options.enqueue({ runId, reason: 'resolve' }).catch(() => undefined);
    return done;
  }

  /** Stops following (shutdown); pending follows are left unsettled. */
  close(): void {
    this.#follower.close();
  }
}
