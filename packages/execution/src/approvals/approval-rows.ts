// The execution plane owns the approvals tables (approvals, approval_votes): every query on them
// lives here. The approval service's parts and the readers outside it (metrics, the runtime's
// recovery, `factory runs resume`) go through these functions.
import { UserError, ErrorCode } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { approvalVotes, approvals } from '@aifactory/store/schema';
import { and, asc, count, eq, inArray, isNull, lte, min, ne, sql } from 'drizzle-orm';
import { checkEligibility, notPending } from './approval-checks.ts';
import type { ApprovalRequirement } from './approval-requirement.ts';
import type { ApprovalBinding, ApprovalOutcome, ApprovalStatus, Ballot } from './approval-types.ts';

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

/** The votes cast on `approvalIds`, in the order they were cast. */
export function findVotesOfApprovals(store: Store, approvalIds: readonly string[]): Promise<ApprovalVoteRecord[]> {
  return store.db
    .select()
    .from(approvalVotes)
    .where(inArray(approvalVotes.approvalId, [...approvalIds]))
    .orderBy(asc(approvalVotes.ts), asc(approvalVotes.approver));
}

/** The approval still open (not consumed) for exactly this call, if any. */
export async function findOpenApproval(store: Store, call: ApprovalBinding): Promise<ApprovalRecord | undefined> {
  const [open] = await store.db
    .select()
    .from(approvals)
    .where(
      and(
        eq(approvals.runId, call.runId),
        eq(approvals.step, call.step),
        eq(approvals.argsHash, call.argsHash),
        eq(approvals.policyHash, call.policyHash),
        isNull(approvals.consumedAt),
        inArray(approvals.status, ['pending', 'approved', 'rejected', 'expired']),
      ),
    )
    .limit(1);
  return open;
}

/** Stores a new approval and returns its row. */
export async function insertApproval(store: Store, values: typeof approvals.$inferInsert): Promise<ApprovalRecord> {
  const [row] = await store.db.insert(approvals).values(values).returning();
  return row!;
}

/** Deletes the approval `approvalId` (undoing its request). */
export function deleteApproval(store: Store, approvalId: string): Promise<unknown> {
  return store.db.delete(approvals).where(eq(approvals.id, approvalId));
}

/** Approvals, oldest first, optionally by status and run. */
export function listApprovalRecords(store: Store, filter: { status?: ApprovalStatus; runId?: string }): Promise<ApprovalRecord[]> {
  const conditions = [];
  if (filter.status) conditions.push(eq(approvals.status, filter.status));
  if (filter.runId) conditions.push(eq(approvals.runId, filter.runId));
  return store.db
    .select()
    .from(approvals)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(asc(approvals.requestedAt), asc(approvals.id));
}

/** Marks overdue pending approvals (one, or all) expired at `at`, each exactly once, and returns them. */
export function expireApprovalRecords(store: Store, at: Date, approvalId?: string): Promise<ApprovalRecord[]> {
  const conditions = [eq(approvals.status, 'pending'), lte(approvals.expiresAt, at)];
  if (approvalId !== undefined) conditions.push(eq(approvals.id, approvalId));
  return store.db
    .update(approvals)
    .set({
      status: 'expired',
      outcome: sql`case when ${approvals.requirement}->>'on_expiry' = 'approve' then 'approved' else 'rejected' end`,
      decidedAt: at,
    })
    .where(and(...conditions))
    .returning();
}

/** Reopens an approval decided as `decidedAs` (undoing its decision). */
export function reopenApproval(store: Store, approvalId: string, decidedAs: string): Promise<unknown> {
  return store.db
    .update(approvals)
    .set({ status: 'pending', outcome: null, decidedAt: null })
    .where(and(eq(approvals.id, approvalId), eq(approvals.status, decidedAs)));
}

/** Takes back `approver`'s vote on `approvalId`. */
export function deleteVote(store: Store, approvalId: string, approver: string): Promise<unknown> {
  return store.db.delete(approvalVotes).where(and(eq(approvalVotes.approvalId, approvalId), eq(approvalVotes.approver, approver)));
}

/** What casting a vote under the row lock did. */
export type LockedVote =
  | { kind: 'missing' }
  | { kind: 'refused'; row: ApprovalRecord; error: UserError }
  | { kind: 'voted'; row: ApprovalRecord; outcome: ApprovalOutcome | null; remaining: number };

/**
 * Casts a vote under the approval's row lock and decides the approval when the vote completes or
 * rejects it. Votes on one approval are serialised by the row lock: the second of two simultaneous
 * approvers sees the first one's vote, so the count is right and one of them decides.
 */
export function castVoteLocked(
  store: Store,
  approvalId: string,
  vote: { approverId: string; roles: string[]; vote: Ballot['vote']; comment: string | null; at: Date },
): Promise<LockedVote> {
  const { approverId, roles, at } = vote;
  const ballot = vote;
  return store.db.transaction(async (transaction): Promise<LockedVote> => {
    const [row] = await transaction.select().from(approvals).where(eq(approvals.id, approvalId)).for('update');
    if (!row) return { kind: 'missing' as const };
    const requirement = row.requirement as ApprovalRequirement;
    if (row.status !== 'pending') return { kind: 'refused' as const, row, error: notPending(row) };
    const eligibility = checkEligibility(row, requirement, approverId, roles, ballot.vote);
    if (eligibility) return { kind: 'refused' as const, row, error: eligibility };
    const previous = await transaction.select().from(approvalVotes).where(eq(approvalVotes.approvalId, approvalId));
    const earlier = previous.find((vote) => vote.approver === approverId);
    if (earlier) {
      return {
        kind: 'refused' as const,
        row,
        error: new UserError(
          ErrorCode.Conflict,
          `${approverId} already voted ${earlier.vote} on approval '${approvalId}'; each approver votes once.`,
        ),
      };
    }
    await transaction.insert(approvalVotes).values({
      approvalId,
      approver: approverId,
      roles,
      vote: ballot.vote,
      comment: ballot.comment,
      ts: at,
    });
    const approvers = new Set(previous.filter((vote) => vote.vote === 'approve').map((vote) => vote.approver));
    if (ballot.vote === 'approve') approvers.add(approverId);
    const outcome: ApprovalOutcome | null = ballot.vote === 'reject' ? 'rejected' : approvers.size >= requirement.count ? 'approved' : null;
    if (outcome) {
      await transaction
        .update(approvals)
        .set({ status: outcome, outcome, decidedAt: at })
        .where(and(eq(approvals.id, approvalId), eq(approvals.status, 'pending')));
    }
    return { kind: 'voted' as const, row, outcome, remaining: Math.max(0, requirement.count - approvers.size) };
  });
}

/**
 * Moves a decided approval to consumed, only if it is still `decidedAs` and bound to exactly this
 * call: of any number of racing resumers, exactly one gets the row back.
 */
export async function markApprovalConsumed(
  store: Store,
  approvalId: string,
  decidedAs: string,
  binding: ApprovalBinding,
  at: Date,
): Promise<ApprovalRecord | undefined> {
  const [row] = await store.db
    .update(approvals)
    .set({ status: 'consumed', consumedAt: at })
    .where(
      and(
        eq(approvals.id, approvalId),
        eq(approvals.status, decidedAs),
        eq(approvals.runId, binding.runId),
        eq(approvals.step, binding.step),
        eq(approvals.argsHash, binding.argsHash),
        eq(approvals.policyHash, binding.policyHash),
      ),
    )
    .returning();
  return row;
}

/** Puts an approval consumed at `at` back to `decidedAs` (undoing its consumption). */
export function unmarkApprovalConsumed(store: Store, approvalId: string, decidedAs: string, at: Date): Promise<unknown> {
  return store.db
    .update(approvals)
    .set({ status: decidedAs, consumedAt: null })
    .where(and(eq(approvals.id, approvalId), eq(approvals.status, 'consumed'), eq(approvals.consumedAt, at)));
}

/** Approvals (of `runIds`, or all) whose action or context contains `needle` as jsonb text writes it (for erasure). */
export async function findApprovalsContaining(store: Store, needle: string, runIds?: string[]): Promise<ApprovalRecord[]> {
  return store.db
    .select()
    .from(approvals)
    .where(
      and(
        runIds ? inArray(approvals.runId, runIds) : undefined,
        sql`strpos(${approvals.action}::text || ${approvals.context}::text, ${needle}) > 0`,
      ),
    );
}

/** Replaces one approval's action and context (for erasure). */
export async function rewriteApprovalContent(store: Store, id: string, values: { action: unknown; context: unknown }): Promise<void> {
  await store.db.update(approvals).set(values).where(eq(approvals.id, id));
}

/** Replaces `subject` by `marker` in every vote comment (of `runIds`' approvals, or all); the approval ids of the comments changed. */
export async function eraseSubjectInVoteComments(store: Store, subject: string, marker: string, runIds?: string[]): Promise<string[]> {
  const db = store.db;
  const runApprovals = runIds ? db.select({ id: approvals.id }).from(approvals).where(inArray(approvals.runId, runIds)) : undefined;
  const comments = await db
    .update(approvalVotes)
    .set({ comment: sql`replace(${approvalVotes.comment}, ${subject}, ${marker})` })
    .where(
      and(
        sql`strpos(${approvalVotes.comment}, ${subject}) > 0`,
        runApprovals ? inArray(approvalVotes.approvalId, runApprovals) : undefined,
      ),
    )
    .returning({ id: approvalVotes.approvalId });
  return comments.map((row) => row.id);
}

/** Erases a whole run's approvals: their arguments and context, and their votes' comments, set to `marker`; how many approvals. */
export async function eraseRunApprovals(store: Store, runId: string, marker: string): Promise<number> {
  const db = store.db;
  const erasedApprovals = await db
    .update(approvals)
    .set({ action: sql`jsonb_set(${approvals.action}, '{args}', to_jsonb(${marker}::text))`, context: {} })
    .where(eq(approvals.runId, runId))
    .returning({ id: approvals.id });
  if (erasedApprovals.length > 0) {
    await db
      .update(approvalVotes)
      .set({ comment: marker })
      .where(
        and(
          inArray(
            approvalVotes.approvalId,
            erasedApprovals.map((row) => row.id),
          ),
          sql`${approvalVotes.comment} is not null`,
        ),
      );
  }
  return erasedApprovals.length;
}
