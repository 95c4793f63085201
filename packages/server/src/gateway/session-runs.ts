// The runs gateway requests are recorded in. One run per (principal, team, feature) session, each
// request a step of it: the chat protocols are stateless (no conversation id), and a run per
// request would put three more durable commits (the run, its start seal, its end seal) on every
// call's path. A session run is held by this process's lease like any run, checkpoint-sealed as
// it grows, and sealed when it retires (after `maxRequests` requests, `maxAgeMs`, or shutdown).
// Concurrent requests of one session take different runs of its pool, so they never wait on one
// another's commits.
import type { RunOwnership } from '@aifactory/execution';
import type { Recorder } from '@aifactory/verification';

/** The agent name gateway runs are recorded under. */
export const gatewayAgent = 'gateway';

/** One open session run. */
export interface SessionRun {
  readonly runId: string;
  readonly key: string;
  readonly startedAtMs: number;
  /** Steps recorded so far (one per request, fallbacks share their request's step). */
  step: number;
  requests: number;
  tokens: number;
  costUsd: number;
}

/** Who a session is for. */
export interface SessionOwner {
  principal: string;
  team: string | null;
  feature: string | null;
}

/** Pools of session runs by (principal, team, feature). */
export class SessionRuns {
  readonly #recorder: Recorder;
  readonly #ownership: RunOwnership;
  readonly #limits: { maxRequests: number; maxAgeMs: number };
  readonly #idle = new Map<string, SessionRun[]>();
  readonly #busy = new Set<SessionRun>();
  readonly #retiring = new Set<Promise<unknown>>();
  readonly #onRetire: (run: SessionRun) => Promise<void>;

  constructor(options: {
    recorder: Recorder;
    ownership: RunOwnership;
    limits: { maxRequests: number; maxAgeMs: number };
    onRetire: (run: SessionRun) => Promise<void>;
  }) {
    this.#recorder = options.recorder;
    this.#ownership = options.ownership;
    this.#limits = options.limits;
    this.#onRetire = options.onRetire;
  }

  /** Takes an idle run of the session, or starts one (its first lease in the same commit). */
  async acquire(owner: SessionOwner): Promise<SessionRun> {
    const key = JSON.stringify([owner.principal, owner.team, owner.feature]);
    const pool = this.#idle.get(key);
    const now = Date.now();
    while (pool && pool.length > 0) {
      const run = pool.pop()!;
      if (this.#expired(run, now)) {
        this.#retire(run);
        continue;
      }
      this.#busy.add(run);
      return run;
    }
    const started = await this.#recorder.startRun(
      {
        agent: gatewayAgent,
        ...(owner.team ? { team: owner.team } : {}),
        principal: owner.principal,
        metadata: { ...(owner.feature ? { feature: owner.feature } : {}), session: 'gateway' },
      },
      { lease: { owner: this.#ownership.owner, ttlMs: this.#ownership.ttlMs } },
    );
    this.#ownership.adopt(started.runId);
    const run: SessionRun = { runId: started.runId, key, startedAtMs: now, step: 0, requests: 0, tokens: 0, costUsd: 0 };
    this.#busy.add(run);
    return run;
  }

  /** Gives a run back after its request; it retires when it has served enough or lived long enough. */
  release(run: SessionRun): void {
    this.#busy.delete(run);
    run.requests += 1;
    if (this.#expired(run, Date.now())) return this.#retire(run);
    const pool = this.#idle.get(run.key);
    if (pool) pool.push(run);
    else this.#idle.set(run.key, [run]);
  }

  /** Takes a run out of its session for good (it holds a request for approval and ends with it). */
  detach(run: SessionRun): void {
    this.#busy.delete(run);
    run.requests += 1;
  }

  /** Retires idle runs past their age (called now and then). */
  sweep(now = Date.now()): void {
    for (const [key, pool] of this.#idle) {
      const keep = pool.filter((run) => !this.#expired(run, now));
      for (const run of pool) if (!keep.includes(run)) this.#retire(run);
      if (keep.length > 0) this.#idle.set(key, keep);
      else this.#idle.delete(key);
    }
  }

  /** Runs with a request in flight. */
  get busy(): number {
    return this.#busy.size;
  }

  /** Retires every idle run and waits for every retirement (shutdown, once no request is in flight). */
  async closeAll(): Promise<void> {
    for (const pool of this.#idle.values()) for (const run of pool) this.#retire(run);
    this.#idle.clear();
    await Promise.allSettled([...this.#retiring]);
  }

  /** The recorder's head of a run (tests). */
  head(runId: string): Promise<{ seq: number }> {
    return this.#recorder.head(runId);
  }

  #expired(run: SessionRun, now: number): boolean {
    return run.requests >= this.#limits.maxRequests || now - run.startedAtMs >= this.#limits.maxAgeMs;
  }

  #retire(run: SessionRun): void {
    const retiring = this.#onRetire(run).finally(() => this.#retiring.delete(retiring));
    this.#retiring.add(retiring);
  }
}
