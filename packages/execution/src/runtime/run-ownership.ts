// The runs this process drives, each under a lease with a fencing epoch (see @aifactory/verification
// run-lease.ts). A heartbeat renews them all in one statement every third of the lease; a run
// whose lease another process took over is marked lost here, and from then on every fenced append
// is refused by the store and every tool execution by ensureCanAct(), so a process that was paused
// past its lease and woke up can neither record nor act.
//
// A lease is only ever taken over once it has lapsed (or its holder handed it back), so a renewal
// the store confirmed bounds it from below: the lease holds at least until ttl after the renewal
// was asked for. ensureCanAct() goes to the store only when that bound is getting short (half the
// lease gone, on both the monotonic clock — which runs on while the process is paused — and the
// wall clock); the heartbeat renews every third of a lease, so a live owner's tool calls
// normally cost no round trip, while a process that was paused, or whose heartbeats failed,
// checks with the store before it acts.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import {
  acquireRunLease,
  leaseLostError,
  markRunLeaseDriving,
  releaseRunLease,
  renewRunLease,
  renewRunLeases,
  type LeaseState,
  type RunFence,
} from '@aifactory/verification/internal';

/** Default lease: a run whose owner died is taken over about this long after its last heartbeat. */
export const defaultLeaseMs = 30_000;

/** Options of RunOwnership. */
export interface RunOwnershipOptions {
  store: Store;
  /** This process's owner id (default `host:pid:random`). */
  owner?: string;
  /** Lease length in milliseconds (default 30 s, or AIFACTORY_LEASE_MS). */
  ttlMs?: number;
}

interface Held {
  epoch: number;
  /** Another process took the lease over: nothing more may be done for the run here. */
  lost: boolean;
  /** When the last renewal the store confirmed was asked for: the lease holds at least ttl from then. */
  renewedAt?: LeaseStamp;
}

/** A moment on both clocks: monotonic (runs on while the process is paused) and wall (runs on while the machine sleeps). */
export interface LeaseStamp {
  monotonicMs: number;
  wallMs: number;
}

/** The leases of the runs this process drives. */
export class RunOwnership {
  /** This process's owner id, as stored in run_leases.owner. */
  readonly owner: string;
  /** Lease length in milliseconds. */
  readonly ttlMs: number;
  readonly #store: Store;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;

  constructor(options: RunOwnershipOptions) {
    this.#store = options.store;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.ttlMs = options.ttlMs ?? leaseMsFromEnv();
  }

  /** The fence this process's appends to the run carry (undefined when it does not own the run). */
  fence(runId: string): RunFence | undefined {
    const held = this.#held.get(runId);
    return held ? { epoch: held.epoch } : undefined;
  }

  /** Whether this process drives the run now. */
  owns(runId: string): boolean {
    const held = this.#held.get(runId);
    return held !== undefined && !held.lost;
  }

  /** The runs this process drives. */
  runs(): string[] {
    return [...this.#held].filter(([, held]) => !held.lost).map(([runId]) => runId);
  }

  /** Now, on both clocks: take it before asking the store for a lease, and pass it to adopt(). */
  stamp(): LeaseStamp {
    return { monotonicMs: performance.now(), wallMs: Date.now() };
  }

  /**
   * Records that this process took the first lease of a run it started (epoch 1, in startRun's
   * commit). `askedAt`: a stamp taken before that commit was asked for (the lease then holds at
   * least ttl from it); without it the next ensureCanAct() checks with the store.
   */
  adopt(runId: string, epoch = 1, askedAt?: LeaseStamp): void {
    this.#held.set(runId, { epoch, lost: false, ...(askedAt ? { renewedAt: askedAt } : {}) });
    this.#startHeartbeat();
  }

  /** Takes over a lapsed or released lease; resolves the new epoch, or undefined while another owner holds it. */
  async takeOver(runId: string, state: LeaseState = 'driving'): Promise<number | undefined> {
    const askedAt = this.stamp();
    const grant = await acquireRunLease(this.#store, runId, this.owner, { ttlMs: this.ttlMs, state, acquisition: 'take-over' });
    if (!grant) return undefined;
    this.adopt(runId, grant.epoch, askedAt);
    return grant.epoch;
  }

  /** A run taken over for recovery goes on: its lease reads driving again. */
  async driving(runId: string): Promise<void> {
    const fence = this.fence(runId);
    if (fence && !(await markRunLeaseDriving(this.#store, runId, fence))) this.#lose(runId);
  }

  /**
   * Checks, right before the run acts on the world (a tool call), that this process still holds
   * the lease with at least half of it left to run the action in: at once when a renewal the store
   * confirmed is that recent, else by renewing it in the store. Throws LEASE_LOST when another
   * process took it over (this process was paused past its lease).
   */
  async ensureCanAct(runId: string, doing: string): Promise<void> {
    const held = this.#held.get(runId);
    // Not (or no longer) driven here — it ended, was handed back, or was let go when the store went
    // away: nothing may be done for it.
    if (!held) throw notOwnedError(runId, doing);
    if (!held.lost && held.renewedAt && this.#fresh(held.renewedAt)) return;
    const askedAt = this.stamp();
    if (!held.lost && (await renewRunLease(this.#store, runId, { epoch: held.epoch }, this.ttlMs))) {
      this.#confirm(runId, held.epoch, askedAt);
      return;
    }
    this.#lose(runId);
    throw leaseLostError(runId, held.epoch, doing);
  }

  /** Whether a lease renewed at `renewedAt` still has more than half of its length left, by both clocks. */
  #fresh(renewedAt: LeaseStamp): boolean {
    const half = this.ttlMs / 2;
    const monotonic = performance.now() - renewedAt.monotonicMs;
    const wall = Date.now() - renewedAt.wallMs;
    // A wall clock set back makes `wall` negative: then only the monotonic clock is trusted.
    return monotonic >= 0 && monotonic < half && wall < half;
  }

  /** Notes a renewal of the epoch the store confirmed, asked for at `askedAt`. */
  #confirm(runId: string, epoch: number, askedAt: LeaseStamp): void {
    const held = this.#held.get(runId);
    if (!held || held.lost || held.epoch !== epoch) return;
    if (!held.renewedAt || held.renewedAt.monotonicMs < askedAt.monotonicMs) held.renewedAt = askedAt;
  }

  /** Hands a run's lease back (held for a human, or a graceful shutdown) and forgets it. */
  async release(runId: string): Promise<void> {
    const held = this.#held.get(runId);
    this.#held.delete(runId);
    if (held && !held.lost) await releaseRunLease(this.#store, runId, { epoch: held.epoch });
  }

  /** Forgets a run that ended (finishRun released its lease). */
  forget(runId: string): void {
    this.#held.delete(runId);
  }

  /** Hands back every lease this process holds but those in `keep` (graceful shutdown); resolves the runs handed back. */
  async releaseAll(options: { keep?: ReadonlySet<string> } = {}): Promise<string[]> {
    const runs = this.runs().filter((runId) => !options.keep?.has(runId));
    await Promise.allSettled(runs.map((runId) => this.release(runId)));
    return runs;
  }

  /** Stops the heartbeat (leases then lapse unless released). */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #lose(runId: string): void {
    const held = this.#held.get(runId);
    if (held) held.lost = true;
  }

  #startHeartbeat(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.heartbeat(), Math.max(50, Math.floor(this.ttlMs / 3)));
    this.#timer.unref();
  }

  /** Renews every lease this process holds in one statement; runs taken over meanwhile are marked lost. */
  heartbeat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  async #beat(): Promise<void> {
    const runs = this.runs();
    if (runs.length === 0) return;
    const askedAt = this.stamp();
    let kept: Map<string, { epoch: number }>;
    try {
      kept = await renewRunLeases(this.#store, this.owner, runs, this.ttlMs);
    } catch {
      // The store is unreachable: the leases may lapse; fenced appends decide what happens then.
      return;
    }
    for (const runId of runs) {
      const renewed = kept.get(runId);
      const held = this.#held.get(runId);
      if (held && (!renewed || renewed.epoch !== held.epoch)) this.#lose(runId);
      else if (held) this.#confirm(runId, held.epoch, askedAt);
    }
  }
}

/** The error a process gets for a run whose lease it does not hold (it never took it, or let it go). */
export function notOwnedError(runId: string, doing: string): UserError {
  return new UserError(
    ErrorCode.LeaseLost,
    `This process does not hold the lease of run '${runId}', so it may not ${doing}; the process that holds it, or the next to recover the run, goes on with it.`,
    { details: { runId } },
  );
}

/** AIFACTORY_LEASE_MS, or the default lease. */
export function leaseMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.AIFACTORY_LEASE_MS);
  return Number.isFinite(value) && value >= 100 ? value : defaultLeaseMs;
}
