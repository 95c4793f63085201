// Runs an API server hands to workers (`factory serve --queue`): the server records a run's start
// itself (so its first event is durable and streamed at once), queues the run for `factory worker`
// processes, and follows the run's trace in the store to stream what the worker records. Resumes
// after an approval go through the queue the same way. Nothing of an agent runs in the server.
import type { Principal } from '@aifactory/core';
import type { CallerTrace, InDoubtResolution, RunEvent, RunEventListener, RunResult } from '@aifactory/execution';
import type { DriveRunJob, Workspace } from '@aifactory/workspace';
import { findEventsAfter, findLastEvent } from '@aifactory/verification/internal';

/** What a QueuedRuns needs. */
export interface QueuedRunsOptions {
  workspace: Pick<Workspace, 'runtime' | 'store'>;
  /** Queues a drive of a run (the RunQueue's enqueueDrive). */
  enqueue(job: DriveRunJob): Promise<void>;
  /** A drive job as rows committed with the run's start (the RunQueue's driveJobRows): a start is never recorded without its job. */
  startJob(job: DriveRunJob): { text: string; row: unknown };
  /** How often the trace of followed runs is read (default 25 ms). */
  pollMs?: number;
}

interface Follower {
  runId: string;
  afterSeq: number;
  onEvent?: RunEventListener;
  /** The run's events after afterSeq end the follow when this says so. */
  settle(result: RunResult): void;
  fail(error: Error): void;
}

/** Starts and resumes runs through the job queue and follows them in the store. */
export class QueuedRuns {
  readonly #options: QueuedRunsOptions;
  /** Followed runs by follow id (one run may be followed twice: a start and a resume racing it). */
  readonly #followers = new Map<number, Follower>();
  #nextFollow = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(options: QueuedRunsOptions) {
    this.#options = options;
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
    const done = this.#follow(opened.runId, 1, request.onEvent);
    request.onEvent?.({ type: 'run.started', runId: opened.runId, agent: opened.agent, principal: request.principal.id });
    return done;
  }

  /** Queues the resume of a held run whose approval was decided; resolves once it completed, failed or is held again. */
  async resume(runId: string, options: { approvalId: string; onEvent?: RunEventListener }): Promise<RunResult> {
    const done = this.#follow(runId, (await findLastEvent(this.#options.workspace.store, runId))?.seq ?? 0, options.onEvent);
    await this.#options.enqueue({ runId, reason: 'resume', approvalId: options.approvalId });
    return done;
  }

  /**
   * Records a human's decision on a run held with reason outcome_unknown (the runtime's
   * settleInDoubt) and queues the run for a worker; resolves once it completed, failed or is held
   * again. A run the decision failed is settled at once.
   */
  async resolve(
    runId: string,
    decision: { resolution: InDoubtResolution; by: string; result?: string; reason?: string; onEvent?: RunEventListener },
  ): Promise<RunResult> {
    const { onEvent, ...settle } = decision;
    const settled = await this.#options.workspace.runtime.settleInDoubt(runId, settle);
    if (settled.status !== 'running') return settled;
    const done = this.#follow(runId, (await findLastEvent(this.#options.workspace.store, runId))?.seq ?? 0, onEvent);
    // Should the queue be unreachable now, the run is still running without an owner: a supervisor queues it.
    await this.#options.enqueue({ runId, reason: 'resolve' }).catch(() => undefined);
    return done;
  }

  /** Stops following (shutdown); pending follows are left unsettled. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#followers.clear();
  }

  #follow(runId: string, afterSeq: number, onEvent: RunEventListener | undefined): Promise<RunResult> {
    const id = this.#nextFollow++;
    return new Promise<RunResult>((resolve, reject) => {
      const follower: Follower = {
        runId,
        afterSeq,
        ...(onEvent ? { onEvent } : {}),
        settle: (result) => {
          this.#followers.delete(id);
          resolve(result);
        },
        fail: (error) => {
          this.#followers.delete(id);
          reject(error);
        },
      };
      this.#followers.set(id, follower);
      this.#timer ??= setInterval(() => void this.#poll(), this.#options.pollMs ?? 25);
    });
  }

  /** One read of every followed run's new events, in one statement. */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    if (this.#followers.size === 0) {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    this.#polling = true;
    try {
      // One cursor per run: the lowest position any of its followers is at.
      const lowest = new Map<string, number>();
      for (const follower of this.#followers.values())
        lowest.set(follower.runId, Math.min(lowest.get(follower.runId) ?? Infinity, follower.afterSeq));
      const rows = await findEventsAfter(
        this.#options.workspace.store,
        [...lowest].map(([runId, seq]) => ({ runId, seq })),
        { payloadsOf: streamedTypes },
      );
      const byRun = new Map<string, Follower[]>();
      for (const follower of this.#followers.values()) byRun.set(follower.runId, [...(byRun.get(follower.runId) ?? []), follower]);
      for (const row of rows) {
        for (const follower of byRun.get(row.runId) ?? []) this.#deliver(follower, row);
      }
    } catch {
      // The store is unreachable for a moment: read again next time.
    } finally {
      this.#polling = false;
    }
  }

  /** Hands one recorded event to a follower that has not seen it. */
  #deliver(follower: Follower, row: { runId: string; seq: number; type: string; payload: string | null }): void {
    if (Number(row.seq) <= follower.afterSeq) return;
    follower.afterSeq = Number(row.seq);
    if (!streamedTypes.includes(row.type)) return;
    const payload = parsePayload(row.payload);
    const event = runEventOf(row.runId, row.type, payload);
    if (event) {
      try {
        follower.onEvent?.(event);
      } catch {
        // A listener's failure must not stop the follow.
      }
    }
    const result = resultOf(row.runId, row.type, payload);
    if (result) follower.settle(result);
  }
}

/** The recorded event types a follow streams or ends on (runEventOf, resultOf): only their payloads are read. */
const streamedTypes = [
  'policy.decided',
  'tool.returned',
  'tool.failed',
  'notification.queued',
  'run.held',
  'run.resumed',
  'run.completed',
  'run.failed',
];

/** A recorded payload as an object. */
function parsePayload(text: string | null): Record<string, unknown> {
  if (text === null) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** What a streamed run event is for a recorded trace event (undefined: nothing to stream). */
function runEventOf(runId: string, type: string, payload: Record<string, unknown>): RunEvent | undefined {
  const step = Number(payload.step ?? 0);
  switch (type) {
    case 'policy.decided': {
      const action = (payload.action ?? {}) as { kind?: string; name?: string; args?: Record<string, unknown> };
      const decision = (payload.decision ?? {}) as { authority?: string; rules?: unknown[]; reason?: string };
      return {
        type: 'action.decided',
        runId,
        step,
        kind: String(action.kind ?? ''),
        name: String(action.name ?? ''),
        args: action.args ?? {},
        authority: decision.authority as never,
        rules: (decision.rules ?? []).map((rule) => (typeof rule === 'string' ? rule : String((rule as { id?: string }).id ?? ''))),
        reason: String(decision.reason ?? ''),
      };
    }
    case 'tool.returned':
    case 'tool.failed':
      return {
        type: 'tool.returned',
        runId,
        step,
        name: String(payload.name ?? ''),
        ok: type === 'tool.returned',
        summary: summary(type === 'tool.returned' ? payload.content : payload.error),
      };
    case 'notification.queued':
      return { type: 'notification.queued', runId, step, targets: Array.isArray(payload.targets) ? payload.targets.map(String) : [] };
    case 'run.held':
      return {
        type: 'run.held',
        runId,
        step,
        approvalId: String(payload.approval_id ?? ''),
        kind: String(payload.kind ?? ''),
        name: String(payload.name ?? ''),
        args: {},
        approvers: null,
        ...(typeof payload.child_run === 'string' ? { childRunId: payload.child_run } : {}),
      };
    case 'run.resumed':
      return typeof payload.approval_id === 'string' && (payload.outcome === 'approved' || payload.outcome === 'rejected')
        ? { type: 'approval.applied', runId, step, approvalId: payload.approval_id, outcome: payload.outcome }
        : undefined;
    case 'run.completed':
      return { type: 'run.completed', runId, answer: String(payload.answer ?? '') };
    case 'run.failed':
      return { type: 'run.failed', runId, reason: failure(payload) };
    default:
      return undefined;
  }
}

/** The run's result when the event ends a drive: completed, failed, or held. */
function resultOf(runId: string, type: string, payload: Record<string, unknown>): RunResult | undefined {
  if (type === 'run.completed') return { runId, status: 'completed', answer: String(payload.answer ?? '') };
  if (type === 'run.failed') return { runId, status: 'failed', error: failure(payload) };
  if (type === 'run.held') {
    const held = {
      step: Number(payload.step ?? 0),
      approvalId: String(payload.approval_id ?? ''),
      kind: String(payload.kind ?? ''),
      name: String(payload.name ?? ''),
      args: {},
    };
    return { runId, status: 'held', held: held as never };
  }
  return undefined;
}

function failure(payload: Record<string, unknown>): string {
  const error = payload.error as { message?: string } | string | undefined;
  return typeof error === 'string' ? error : (error?.message ?? 'failed');
}

function summary(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
