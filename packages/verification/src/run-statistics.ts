// Figures the console charts, read from the trace itself: policy decisions by authority over time,
// boundary violations over time (denied actions, budgets breached, held actions rejected or left
// to expire), how long held actions waited for a human, and runs by status. Each is one grouped scan; erased payloads drop out, like usage.
import type { Store } from '@aifactory/store';
import { livenessSql } from './run-lease.ts';
import { queryRows, toDate } from './store-access.ts';

/** The window and its buckets. */
export interface RunStatisticsQuery {
  /** Events at or after (default: 7 days ago). */
  since?: Date;
  /** Events before (default: now). */
  until?: Date;
  /** Bucket width (default: hour for windows up to two days, day beyond). */
  bucket?: 'hour' | 'day';
}

/** Decisions of one authority in one bucket. */
export interface DecisionBucket {
  /** Start of the bucket (ISO). */
  at: string;
  authority: string;
  count: number;
}

/** One decided approval and how long it waited. */
export interface ApprovalLatency {
  approvalId: string;
  runId: string;
  outcome: 'granted' | 'rejected' | 'expired';
  /** Requested at (ISO). */
  requestedAt: string;
  /** Seconds from request to decision. */
  seconds: number;
}

/** The boundaries agents run into: a denied action, a budget breached, a held action rejected or left to expire. */
export type ViolationKind = 'deny' | 'budget' | 'rejection' | 'expiry';

/** Boundary violations of one kind in one bucket. */
export interface ViolationBucket {
  /** Start of the bucket (ISO). */
  at: string;
  kind: ViolationKind;
  count: number;
}

/** What the console charts. */
export interface RunStatistics {
  since: string;
  until: string;
  bucket: 'hour' | 'day';
  decisions: DecisionBucket[];
  /** Boundary violations by kind over time: deny decisions, budget.exceeded, approval.rejected, approval.expired. */
  violations: ViolationBucket[];
  /** The latest decided approvals in the window (at most 1000), oldest first. */
  approvalLatencies: ApprovalLatency[];
  /** Runs started in the window, by status (running, queued, orphaned, recovering, held, completed, failed). */
  runsByStatus: Record<string, number>;
}

/** Reads the figures of a window. */
export async function runStatistics(store: Store, query: RunStatisticsQuery = {}): Promise<RunStatistics> {
  const until = query.until ?? new Date();
  const since = query.since ?? new Date(until.getTime() - 7 * 86_400_000);
  const bucket = query.bucket ?? (until.getTime() - since.getTime() <= 2 * 86_400_000 ? 'hour' : 'day');
  const window = [since.toISOString(), until.toISOString()];
  const decisions = await queryRows(
    store,
    `SELECT date_trunc('${bucket}', e.ts) AS at, e.payload::jsonb #>> '{decision,authority}' AS authority, count(*) AS count
       FROM events e
      WHERE e.type = 'policy.decided' AND e.payload IS NOT NULL AND e.ts >= $1::timestamptz AND e.ts < $2::timestamptz
      GROUP BY 1, 2 ORDER BY 1, 2`,
    window,
  );
  const violations = await queryRows(
    store,
    `SELECT date_trunc('${bucket}', e.ts) AS at,
            CASE e.type WHEN 'policy.decided' THEN 'deny' WHEN 'budget.exceeded' THEN 'budget' WHEN 'approval.rejected' THEN 'rejection' ELSE 'expiry' END AS kind,
            count(*) AS count
       FROM events e
      WHERE e.ts >= $1::timestamptz AND e.ts < $2::timestamptz
        AND (e.type IN ('budget.exceeded', 'approval.rejected', 'approval.expired')
             OR (e.type = 'policy.decided' AND e.payload IS NOT NULL AND e.payload::jsonb #>> '{decision,authority}' = 'deny'))
      GROUP BY 1, 2 ORDER BY 1, 2`,
    window,
  );
  const latencies = await queryRows(
    store,
    `SELECT * FROM (
       SELECT d.payload::jsonb ->> 'approval_id' AS approval_id, d.run_id, d.type, q.ts AS requested_at, d.ts AS decided_at
         FROM events d
         JOIN events q ON q.run_id = d.run_id AND q.type = 'approval.requested' AND q.payload IS NOT NULL
                      AND q.payload::jsonb ->> 'approval_id' = d.payload::jsonb ->> 'approval_id'
        WHERE d.type IN ('approval.granted', 'approval.rejected', 'approval.expired') AND d.payload IS NOT NULL
          AND d.ts >= $1::timestamptz AND d.ts < $2::timestamptz
        ORDER BY d.ts DESC LIMIT 1000) latest
     ORDER BY decided_at`,
    window,
  );
  const statuses = await queryRows(
    store,
    `SELECT ${livenessSql} AS status, count(*) AS count FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id
      WHERE r.started_at >= $1::timestamptz AND r.started_at < $2::timestamptz GROUP BY 1`,
    window,
  );
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    bucket,
    decisions: decisions.map((row) => ({ at: toDate(row.at).toISOString(), authority: String(row.authority), count: Number(row.count) })),
    violations: violations.map((row) => ({
      at: toDate(row.at).toISOString(),
      kind: String(row.kind) as ViolationKind,
      count: Number(row.count),
    })),
    approvalLatencies: latencies.map((row) => {
      const requestedAt = toDate(row.requested_at);
      return {
        approvalId: String(row.approval_id),
        runId: String(row.run_id),
        outcome: String(row.type).slice('approval.'.length) as ApprovalLatency['outcome'],
        requestedAt: requestedAt.toISOString(),
        seconds: Math.max(0, (toDate(row.decided_at).getTime() - requestedAt.getTime()) / 1000),
      };
    }),
    runsByStatus: Object.fromEntries(statuses.map((row) => [String(row.status), Number(row.count)])),
  };
}
