// Follows runs in the store: one read of every followed run's new events each poll, mapped to the
// run events a stream carries, until each run completes, fails or is held. Serves `factory serve
// --queue` (a worker drives the run, the server streams what it records) and any stream whose run
// went on in another process (this one lost the run's lease: the new owner records, the stream
// keeps following the store).
import type { RunEvent, RunEventListener, RunResult } from '@aifactory/execution';
import type { Store } from '@aifactory/store';
import { findEventsAfter, payloadObject } from '@aifactory/verification/internal';

/** Options of RunFollower. */
export interface RunFollowerOptions {
  store: Store;
  /** How often the trace of followed runs is read (default 25 ms). */
  pollMs?: number;
}

/** Where a follow starts streaming. */
export interface FollowOptions {
  /** Stream events from the first one this accepts on (it included); earlier ones are passed over. */
  from?: (type: string, payload: Record<string, unknown>) => boolean;
  /** Go on across holds: settle only when the run completes or fails (a reader following a run to its end). */
  acrossHolds?: boolean;
  /** Stop following when this aborts: the follow rejects with its reason. */
  signal?: AbortSignal;
}

interface Follower {
  runId: string;
  afterSeq: number;
  onEvent?: RunEventListener;
  /** Still passing over events until this accepts one. */
  from?: FollowOptions['from'];
  acrossHolds?: boolean;
  /** The run's events after afterSeq end the follow when this says so. */
  settle(result: RunResult): void;
  fail(error: Error): void;
}

/** Follows runs' traces in the store. */
export class RunFollower {
  readonly #options: RunFollowerOptions;
  /** Followed runs by follow id (one run may be followed twice: a start and a resume racing it). */
  readonly #followers = new Map<number, Follower>();
  #nextFollow = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(options: RunFollowerOptions) {
    this.#options = options;
  }

  /**
   * Streams the run's events recorded after `afterSeq` to `onEvent`; resolves once it completed,
   * failed or (unless `acrossHolds`) is held.
   */
  follow(runId: string, afterSeq: number, onEvent: RunEventListener | undefined, options: FollowOptions = {}): Promise<RunResult> {
    const id = this.#nextFollow++;
    return new Promise<RunResult>((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) return reject(signal.reason as Error);
      const stop = () => follower.fail(signal?.reason as Error);
      const follower: Follower = {
        runId,
        afterSeq,
        ...(onEvent ? { onEvent } : {}),
        ...(options.from ? { from: options.from } : {}),
        ...(options.acrossHolds ? { acrossHolds: true } : {}),
        settle: (result) => {
          this.#followers.delete(id);
          signal?.removeEventListener('abort', stop);
          resolve(result);
        },
        fail: (error) => {
          this.#followers.delete(id);
          signal?.removeEventListener('abort', stop);
          reject(error);
        },
      };
      signal?.addEventListener('abort', stop, { once: true });
      this.#followers.set(id, follower);
      this.#timer ??= setInterval(() => void this.#poll(), this.#options.pollMs ?? 25);
    });
  }

  /** Stops following (shutdown); pending follows are left unsettled. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#followers.clear();
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
        this.#options.store,
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
    const payload = payloadObject(row.payload);
    if (follower.from) {
      if (!follower.from(row.type, payload)) return;
      delete follower.from;
    }
    const event = runEventOf(row.runId, row.type, payload);
    if (event) {
      try {
        follower.onEvent?.(event);
      } catch {
        // A listener's failure must not stop the follow.
      }
    }
    const result = resultOf(row.runId, row.type, payload);
    if (result && !(follower.acrossHolds && result.status === 'held')) follower.settle(result);
  }
}

/** The recorded event types a follow streams, ends on, or starts from (runEventOf, resultOf, run.recovered): only their payloads are read. */
const streamedTypes = [
  'run.recovered',
  'policy.decided',
  'tool.returned',
  'tool.failed',
  'notification.queued',
  'run.held',
  'run.resumed',
  'run.completed',
  'run.failed',
];

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
