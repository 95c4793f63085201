// Recovery of orphaned runs: every few moments a supervisor looks for running runs whose lease
// lapsed (their owner died or was paused past it), and for held runs whose approval was decided,
// or whose actions in doubt a human resolved, but that nobody went on with (the process that
// should have resumed them died, or could not take the lease yet), and recovers
// them — in this process, or, with `dispatch`, by handing each to the job queue so whichever
// worker is free drives it. Several processes may supervise one store: taking the lease over is
// the arbiter, so each run is driven by exactly one of them.
import type { Store } from '@aifactory/store';
import { findDecidedInDoubtRuns, findOrphanedRuns, findStalledHeldRuns, msUntilNextLeaseLapse } from '@aifactory/verification/internal';
import type { AgentRuntime, RecoveryResult } from './agent-runtime.ts';

/** Options of a RunSupervisor. */
export interface RunSupervisorOptions {
  store: Store;
  runtime: AgentRuntime;
  /** How often to look for orphaned runs (default 1 s). */
  intervalMs?: number;
  /** Runs recovered at once by this process (default 8). */
  concurrency?: number;
  /**
   * Hand each run found to a job queue instead of recovering it here (`factory worker` and a
   * `factory serve --queue`): the queue's job key keeps one job per run however many supervisors look.
   */
  dispatch?: (runId: string, reason: 'orphaned' | 'stalled') => Promise<void>;
  /**
   * With dispatch: of the runs found, those whose job already waits in the queue for a free worker
   * (a run a server queued that no worker has taken yet has no lease, so it reads as orphaned);
   * they are not dispatched again.
   */
  waiting?: (runIds: readonly string[]) => Promise<ReadonlySet<string>>;
  /** How long a decided approval may wait for its voter to resume the run before the supervisor does (default 2 s). */
  stalledGraceMs?: number;
  /** Told what became of each recovery (logs, tests). */
  onRecovery?: (result: RecoveryResult | { runId: string; outcome: 'error'; error: Error }) => void;
}

/** Looks for orphaned runs and recovers them. */
export class RunSupervisor {
  readonly #options: RunSupervisorOptions;
  readonly #inFlight = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  /** A look scheduled for the moment the soonest lease lapses (sooner than the next interval). */
  #wake: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;

  constructor(options: RunSupervisorOptions) {
    this.#options = options;
  }

  /** Starts looking, now and every intervalMs. */
  start(): void {
    if (this.#timer) return;
    void this.scan();
    this.#timer = setInterval(() => void this.scan(), this.#options.intervalMs ?? 1_000);
    this.#timer.unref();
  }

  /** Stops looking; recoveries under way go on (close the runtime to stop them). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#wake) clearTimeout(this.#wake);
    this.#timer = undefined;
    this.#wake = undefined;
  }

  /** One look: starts recovering orphaned runs, up to the concurrency. */
  scan(): Promise<void> {
    this.#scanning ??= this.#scan()
      .then(() => this.#wakeAtNextLapse())
      .finally(() => (this.#scanning = undefined));
    return this.#scanning;
  }

  /** Waits for the recoveries under way. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  /**
   * Schedules a look for when the soonest lease lapses, when that comes before the next interval:
   * a dead owner's run is picked up a few milliseconds after its lease ends (recovery within
   * lease + a little), while the interval stays a slow, cheap poll.
   */
  async #wakeAtNextLapse(): Promise<void> {
    if (!this.#timer || this.#wake) return;
    const interval = this.#options.intervalMs ?? 1_000;
    const ms = await msUntilNextLeaseLapse(this.#options.store).catch(() => null);
    if (ms === null || ms >= interval || !this.#timer || this.#wake) return;
    // A few ms past the lapse: the store's clock decides, and it must see the lease as ended.
    this.#wake = setTimeout(
      () => {
        this.#wake = undefined;
        void this.scan();
      },
      Math.ceil(ms) + 15,
    );
    this.#wake.unref();
  }

  async #scan(): Promise<void> {
    const dispatch = this.#options.dispatch;
    if (dispatch) {
      try {
        const orphans = await findOrphanedRuns(this.#options.store, 200);
        const stalled = await findStalledHeldRuns(this.#options.store, { graceMs: this.#options.stalledGraceMs ?? 2_000, limit: 200 });
        const decided = await findDecidedInDoubtRuns(this.#options.store, { graceMs: this.#options.stalledGraceMs ?? 2_000, limit: 200 });
        const found = [
          ...orphans.map((orphan) => ({ runId: orphan.runId, reason: 'orphaned' as const })),
          ...stalled.map((run) => ({ runId: run.runId, reason: 'stalled' as const })),
          ...decided.map((runId) => ({ runId, reason: 'stalled' as const })),
        ];
        const waiting = found.length > 0 && this.#options.waiting ? await this.#options.waiting(found.map((run) => run.runId)) : new Set();
        await Promise.all(found.filter((run) => !waiting.has(run.runId)).map((run) => dispatch(run.runId, run.reason)));
      } catch {
        // The store or the queue is unreachable; look again next time.
      }
      return;
    }
    const room = (this.#options.concurrency ?? 8) - this.#inFlight.size;
    if (room <= 0) return;
    let orphans: Awaited<ReturnType<typeof findOrphanedRuns>>;
    try {
      orphans = await findOrphanedRuns(this.#options.store, room + this.#inFlight.size);
    } catch {
      return; // the store is unreachable; look again next time
    }
    const stalled = await findStalledHeldRuns(this.#options.store, { graceMs: this.#options.stalledGraceMs ?? 2_000, limit: room }).catch(
      () => [],
    );
    const decided = await findDecidedInDoubtRuns(this.#options.store, {
      graceMs: this.#options.stalledGraceMs ?? 2_000,
      limit: room,
    }).catch(() => []);
    const found = [...orphans.map((orphan) => orphan.runId), ...stalled.map((run) => run.runId), ...decided];
    for (const runId of [...new Set(found)].filter((candidate) => !this.#inFlight.has(candidate)).slice(0, room)) {
      const orphan = { runId };
      const recovery = this.#options.runtime
        .drive(orphan.runId)
        .then(
          (result) => this.#options.onRecovery?.(result),
          (error: unknown) =>
            this.#options.onRecovery?.({
              runId: orphan.runId,
              outcome: 'error',
              error: error instanceof Error ? error : new Error(String(error)),
            }),
        )
        .finally(() => this.#inFlight.delete(orphan.runId));
      this.#inFlight.set(orphan.runId, recovery);
    }
  }
}
