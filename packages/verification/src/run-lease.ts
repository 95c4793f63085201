// Run ownership: one process drives a running run at a time, holding a lease in run_leases. The
// lease's epoch is a fencing token: it grows at every take-over and is never reused (a released
// lease keeps its row), and every fenced append (the recorder) and tool execution checks it, so
// a process that lost its lease — paused past it, then woken — can neither record nor act.
//
// All times are the database's clock (now()), so processes with skewed clocks agree on expiry.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { queryRows, storeFailure, toDate } from './store-access.ts';

/** The fencing token an owner passes with its appends. */
export interface RunFence {
  /** The lease epoch this process holds. */
  epoch: number;
}

/** A lease held by this process. */
export interface LeaseGrant {
  runId: string;
  owner: string;
  epoch: number;
  /** When it lapses unless renewed (database clock). */
  expiresAt: Date;
}

/** How a lease is taken: a new run's first lease, or a take-over of a lapsed (or released) one. */
export type LeaseAcquisition = 'new' | 'take-over';

/** What an owner does with a lease it takes over: recover a dead owner's run, or drive a resumed one. */
export type LeaseState = 'driving' | 'recovering';

/** The error every fenced operation of a process that lost its lease throws. */
export function leaseLostError(runId: string, epoch: number, doing: string): UserError {
  return new UserError(
    ErrorCode.LeaseLost,
    `This process no longer owns run '${runId}' (its lease epoch ${epoch} was taken over), so it may not ${doing}; the run goes on in its new owner.`,
    {
      details: { runId, epoch },
    },
  );
}

/**
 * Takes the lease of a run. `new` inserts epoch 1 (a run's first owner); `take-over` succeeds only
 * when the lease has lapsed or was released, and moves the epoch on by one. Resolves undefined when
 * another owner still holds it.
 */
export async function acquireRunLease(
  store: Store,
  runId: string,
  owner: string,
  options: { ttlMs: number; state?: LeaseState; acquisition?: LeaseAcquisition },
): Promise<LeaseGrant | undefined> {
  const state = options.state ?? 'driving';
  let rows: Array<{ epoch: number; expires_at: string | Date }>;
  try {
    rows = await queryRows(
      store,
      options.acquisition === 'new'
        ? `INSERT INTO run_leases (run_id, owner, epoch, state, acquired_at, expires_at) VALUES ($1, $2, 1, $3, now(), now() + $4 * interval '1 millisecond')
           ON CONFLICT (run_id) DO NOTHING RETURNING epoch, expires_at`
        : `INSERT INTO run_leases (run_id, owner, epoch, state, acquired_at, expires_at) VALUES ($1, $2, 1, $3, now(), now() + $4 * interval '1 millisecond')
           ON CONFLICT (run_id) DO UPDATE SET owner = EXCLUDED.owner, epoch = run_leases.epoch + 1, state = EXCLUDED.state, acquired_at = now(), expires_at = EXCLUDED.expires_at
           WHERE run_leases.expires_at <= now() OR run_leases.state = 'released'
           RETURNING epoch, expires_at`,
      [runId, owner, state, options.ttlMs],
    );
  } catch (error) {
    throw storeFailure(`take the lease of run '${runId}'`, error);
  }
  const [row] = rows;
  return row ? { runId, owner, epoch: Number(row.epoch), expiresAt: toDate(row.expires_at) } : undefined;
}

/** Extends one lease if this epoch still holds it; resolves its new expiry, or undefined when it was lost. */
export async function renewRunLease(store: Store, runId: string, fence: RunFence, ttlMs: number): Promise<Date | undefined> {
  const rows = await queryRows<{ expires_at: string | Date }>(
    store,
    `UPDATE run_leases SET expires_at = now() + $3 * interval '1 millisecond' WHERE run_id = $1 AND epoch = $2 AND state <> 'released' RETURNING expires_at`,
    [runId, fence.epoch, ttlMs],
  ).catch((error: unknown) => {
    throw storeFailure(`renew the lease of run '${runId}'`, error);
  });
  return rows[0] ? toDate(rows[0].expires_at) : undefined;
}

/** Extends every lease `owner` still holds among `runIds` in one statement; resolves the ones it kept. */
export async function renewRunLeases(
  store: Store,
  owner: string,
  runIds: readonly string[],
  ttlMs: number,
): Promise<Map<string, { epoch: number; expiresAt: Date }>> {
  if (runIds.length === 0) return new Map();
  const rows = await queryRows<{ run_id: string; epoch: number; expires_at: string | Date }>(
    store,
    `UPDATE run_leases SET expires_at = now() + $3 * interval '1 millisecond'
     WHERE owner = $1 AND state <> 'released' AND run_id IN (SELECT json_array_elements_text($2::json))
     RETURNING run_id, epoch, expires_at`,
    [owner, JSON.stringify(runIds), ttlMs],
  ).catch((error: unknown) => {
    throw storeFailure('renew run leases', error);
  });
  return new Map(rows.map((row) => [row.run_id, { epoch: Number(row.epoch), expiresAt: toDate(row.expires_at) }]));
}

/** Marks a lease taken over for recovery as driving again (the run goes on). */
export async function markRunLeaseDriving(store: Store, runId: string, fence: RunFence): Promise<boolean> {
  const rows = await queryRows(
    store,
    `UPDATE run_leases SET state = 'driving' WHERE run_id = $1 AND epoch = $2 AND state <> 'released' RETURNING run_id`,
    [runId, fence.epoch],
  );
  return rows.length > 0;
}

/** Hands a lease back (held, ended, or a graceful shutdown): any process may take it over at once. */
export async function releaseRunLease(store: Store, runId: string, fence: RunFence): Promise<boolean> {
  const rows = await queryRows(
    store,
    `UPDATE run_leases SET state = 'released', expires_at = now() WHERE run_id = $1 AND epoch = $2 AND state <> 'released' RETURNING run_id`,
    [runId, fence.epoch],
  ).catch((error: unknown) => {
    throw storeFailure(`release the lease of run '${runId}'`, error);
  });
  return rows.length > 0;
}

/** A running run whose owner is gone: its lease lapsed or was handed back, or it never had one. */
export interface OrphanedRun {
  runId: string;
  /** The owner that lapsed (null when the run never had a lease). */
  lastOwner: string | null;
  /** The epoch that lapsed (0 when none). */
  epoch: number;
  /** When the lease lapsed. */
  expiredAt: Date | null;
}

/**
 * Running runs whose lease lapsed (or was released, or never existed), oldest lapse first; runs that
 * never had a lease (queued for a worker) come last, so a backlog of them never hides a dead owner's run.
 */
export async function findOrphanedRuns(store: Store, limit = 100): Promise<OrphanedRun[]> {
  const rows = await queryRows<{ id: string; owner: string | null; epoch: number | null; expires_at: string | Date | null }>(
    store,
    `SELECT r.id, l.owner, l.epoch, l.expires_at FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id
     WHERE r.status = 'running' AND (l.run_id IS NULL OR l.expires_at <= now() OR l.state = 'released')
     ORDER BY l.expires_at NULLS LAST LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({
    runId: row.id,
    lastOwner: row.owner,
    epoch: Number(row.epoch ?? 0),
    expiredAt: row.expires_at === null ? null : toDate(row.expires_at),
  }));
}

/**
 * Milliseconds until the soonest lease of a running run lapses, or null when no held lease is still
 * to lapse: a supervisor looks again right then instead of up to a whole interval later, so an
 * owner's death is noticed when its lease ends, not a polling period after. Leases that already
 * lapsed are not counted: the scan before this just saw them (and recovered or queued their runs),
 * and counting them (as 0 ms) woke the supervisor every 15 ms for as long as one stayed lapsed —
 * an idle worker or server, with no lease at all, ran its four queries ~50 times a second.
 */
export async function msUntilNextLeaseLapse(store: Store): Promise<number | null> {
  const [row] = await queryRows<{ ms: string | number | null }>(
    store,
    `SELECT EXTRACT(EPOCH FROM (min(l.expires_at) - now())) * 1000 AS ms FROM run_leases l JOIN runs r ON r.id = l.run_id
     WHERE r.status = 'running' AND l.state <> 'released' AND l.expires_at > now()`,
  );
  return row?.ms === null || row?.ms === undefined ? null : Math.max(0, Number(row.ms));
}

/** How a run's ownership reads in `runs list`: a live owner, none yet, a dead one, or a new owner picking it up. */
export type Liveness = 'running' | 'queued' | 'orphaned' | 'recovering';

/**
 * The SQL expression (over `runs r` left-joined to `run_leases l`) that shows a running run as
 * running only while a live owner holds it: queued while no process has taken it yet (an API
 * server recorded it for the workers: no lease until one takes it) or since its owner handed it
 * back (a graceful shutdown released the lease), orphaned only when its owner's lease lapsed (the
 * owner died or stalled), recovering while a new owner picks it up. Other statuses read as they are.
 */
export const livenessSql = `CASE WHEN r.status <> 'running' THEN r.status
  WHEN l.run_id IS NULL OR l.state = 'released' THEN 'queued'
  WHEN l.expires_at <= now() THEN 'orphaned'
  WHEN l.state = 'recovering' THEN 'recovering' ELSE 'running' END`;

/**
 * When a held run should go on with its approval, judged by facts, never by its last event: the
 * run is held; the approval its last hold (run.held) names is the run's own and is decided
 * (approved, rejected, expired) or consumed; and no run.resumed after that hold names it. A later
 * hold for actions in doubt names no approval, so such a run is left to a human.
 *
 * Why facts: using an approval is four commits (the approval's row moves to consumed, then
 * approval.consumed, the run's status, run.resumed) and a resumer can die between any two; before
 * the status reads running (after that the run is an orphan like any other), each of those states
 * reads held, approval decided or consumed, no run.resumed naming it, whatever came last: a vote, a
 * refused late resume, or the decisions a recovered run recorded on its way back to the same hold
 * (it records no second run.held). run.resumed is recorded only once the run reads running, so
 * the rule never sees a run that went on.
 *
 * One rule, two readers: findStalledHeldRuns (the supervisors' scan, below) and AgentRuntime.recover
 * through findApprovalToApply (packages/execution/src/runtime/agent-runtime.ts). Keep them in step.
 * Over `runs r`, it yields the approval `a` and the hold `hold` (its seq).
 */
const heldOnDecidedApprovalSql = `FROM runs r
     JOIN LATERAL (SELECT e.seq, e.payload::jsonb->>'approval_id' AS approval_id FROM events e
       WHERE e.run_id = r.id AND e.type = 'run.held' ORDER BY e.seq DESC LIMIT 1) hold ON true
     JOIN approvals a ON a.id = hold.approval_id AND a.run_id = r.id
     WHERE r.status = 'held' AND a.status IN ('approved', 'rejected', 'expired', 'consumed')
       AND NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.id AND e.seq > hold.seq AND e.type = 'run.resumed'
         AND e.payload::jsonb->>'approval_id' = a.id)`;

/** Run `r` has no live lease (none, lapsed or released): nobody drives it. The held-run scans below share it. */
const noLiveLeaseSql = `NOT EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = r.id AND l.expires_at > now() AND l.state <> 'released')`;

/** A held run whose approval was decided (or consumed) while nobody went on with it. */
export interface StalledHeldRun {
  runId: string;
  /** The approval it waits on: decided but not applied, or consumed by a process that died before going on. */
  approvalId: string;
  approvalStatus: string;
}

/**
 * Held runs nobody drives (no live lease) that should go on with their approval by the rule above
 * (heldOnDecidedApprovalSql), decided or consumed at least `graceMs` ago. The voter resumes a run
 * itself within milliseconds; these are the ones whose resumer died, or that were decided while no
 * process could resume them. Approvals their caller uses by asking again (resumed_by = caller: the
 * LLM gateway's held requests) have no run to resume and are never stalled.
 */
export async function findStalledHeldRuns(store: Store, options: { graceMs?: number; limit?: number } = {}): Promise<StalledHeldRun[]> {
  const rows = await queryRows<{ id: string; approval_id: string; approval_status: string }>(
    store,
    `SELECT r.id, a.id AS approval_id, a.status AS approval_status ${heldOnDecidedApprovalSql}
       AND coalesce(a.context->>'resumed_by', '') <> 'caller'
       AND coalesce(a.consumed_at, a.decided_at) <= now() - $1 * interval '1 millisecond'
       AND ${noLiveLeaseSql}
     LIMIT $2`,
    [options.graceMs ?? 2_000, options.limit ?? 100],
  );
  return rows.map((row) => ({ runId: row.id, approvalId: row.approval_id, approvalStatus: row.approval_status }));
}

/** The approval a held run should go on with (see heldOnDecidedApprovalSql), and whether its use is in the trace. */
export interface ApprovalToApply {
  approvalId: string;
  /** approved, rejected or expired (decided, not used yet), or consumed (used by a resumer that died before the run went on). */
  approvalStatus: string;
  /** Whether approval.consumed naming it follows the hold (its resumer died after recording that). */
  consumptionRecorded: boolean;
}

/**
 * The approval held run `runId` should go on with, by the same rule as findStalledHeldRuns (whoever
 * holds its lease, with no grace): what a process that took the run's lease to go on with it checks.
 */
export async function findApprovalToApply(store: Store, runId: string): Promise<ApprovalToApply | undefined> {
  const rows = await queryRows<{ approval_id: string; approval_status: string; consumption_recorded: boolean }>(
    store,
    `SELECT a.id AS approval_id, a.status AS approval_status,
       EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.id AND e.seq > hold.seq AND e.type = 'approval.consumed'
         AND e.payload::jsonb->>'approval_id' = a.id) AS consumption_recorded
     ${heldOnDecidedApprovalSql} AND r.id = $1`,
    [runId],
  ).catch((error: unknown) => {
    throw storeFailure(`read the approval run '${runId}' is held on`, error);
  });
  const [row] = rows;
  return row
    ? { approvalId: row.approval_id, approvalStatus: row.approval_status, consumptionRecorded: row.consumption_recorded === true }
    : undefined;
}

/**
 * Held runs nobody drives whose actions in doubt a human decided on at least `graceMs` ago, and
 * whose decision was never applied: an action.resolved recorded after the run's last hold while it
 * still reads held. Told by what the trace holds, not by its last event (anything may follow the
 * decision: a refused resume, another note). The decision is recorded without the run's lease and
 * applied by a job right after; these are the runs whose job was lost (the process that recorded
 * it died before queuing it, the queue was away) or could not take the lease yet.
 */
export async function findDecidedInDoubtRuns(store: Store, options: { graceMs?: number; limit?: number } = {}): Promise<string[]> {
  const rows = await queryRows<{ id: string }>(
    store,
    `SELECT r.id FROM runs r
     WHERE r.status = 'held' AND ${noLiveLeaseSql}
       AND EXISTS (SELECT 1 FROM events d WHERE d.run_id = r.id AND d.type = 'action.resolved'
         AND d.ts <= now() - $1 * interval '1 millisecond'
         AND d.seq > (SELECT max(h.seq) FROM events h WHERE h.run_id = r.id AND h.type = 'run.held'))
     LIMIT $2`,
    [options.graceMs ?? 2_000, options.limit ?? 100],
  );
  return rows.map((row) => row.id);
}
