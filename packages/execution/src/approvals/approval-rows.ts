// The execution plane owns the approvals tables (approvals, approval_votes). Readers outside the
// approval service (metrics, the runtime's recovery, `factory runs resume`) go through these
// functions instead of querying the tables themselves.
import { and, count, eq, inArray, min, ne, sql } from 'drizzle-orm';
import type { Store } from '@aifactory/store';
import { approvalVotes, approvals } from '@aifactory/store/schema';

/** An approval's row as stored (the service's `Approval` is its read model). */
export type ApprovalRecord = typeof approvals.$inferSelect;

/** One vote's row as stored. */
export type ApprovalVoteRecord = typeof approvalVotes.$inferSelect;

/** How many approvals are pending and when the oldest of them was requested (for metrics). */
export async function pendingApprovalStats(store: Store): Promise<{ pending: number; oldestRequestedAt?: Date }> {
  const [row] = await store.db
    .select({ pending: count(), oldest: min(approvals.requestedAt) })
    .from(approvals)
    .where(eq(approvals.status, 'pending'));
  // min() over a timestamp comes back as text on some drivers.
  const oldest = row?.oldest ? new Date(row.oldest as unknown as string) : undefined;
  return { pending: Number(row?.pending ?? 0), ...(oldest ? { oldestRequestedAt: oldest } : {}) };
}

/** The approval `approvalId` as stored, or undefined. */
export async function findApprovalRecord(store: Store, approvalId: string): Promise<ApprovalRecord | undefined> {
  const [row] = await store.db.select().from(approvals).where(eq(approvals.id, approvalId));
  return row;
}

/** The votes cast on `approvalId`, as stored. */
export function findApprovalVoteRecords(store: Store, approvalId: string): Promise<ApprovalVoteRecord[]> {
  return store.db.select().from(approvalVotes).where(eq(approvalVotes.approvalId, approvalId));
}

/** An approval of `runId` that is decided (approved, rejected or expired) but not yet applied to the run, if any. */
export async function findDecidedApprovalOfRun(store: Store, runId: string): Promise<ApprovalRecord | undefined> {
  const [row] = await store.db
    .select()
    .from(approvals)
    .where(and(eq(approvals.runId, runId), ne(approvals.status, 'pending'), ne(approvals.status, 'consumed')));
  return row;
}

/**
 * Approvals of `runIds` that nobody will use any more: rejected, consumed, or decided at or
 * before `decidedBy` (an approval left unclaimed past its window), at most `limit`.
 */
export async function findSettledApprovalsOfRuns(
  store: Store,
  runIds: readonly string[],
  decidedBy: Date,
  limit = 100,
): Promise<ApprovalRecord[]> {
  if (runIds.length === 0) return [];
  return store.db
    .select()
    .from(approvals)
    .where(
      and(
        inArray(approvals.runId, [...runIds]),
        sql`${approvals.status} <> 'pending'`,
        sql`(${approvals.outcome} = 'rejected' OR ${approvals.status} = 'consumed' OR ${approvals.decidedAt} <= ${decidedBy.toISOString()}::timestamptz)`,
      ),
    )
    .limit(limit);
}
