// `runs erase` across everything the runtime wrote, not only the trace: the events (tombstones,
// the chain still verifies), the encrypted checkpoints (opened, the subject replaced, sealed
// again), the approvals approvers read, and the notification outbox.
import type { Store } from '@aifactory/store';
import { approvalVotes, approvals, checkpointBlobs, checkpointWrites, checkpoints, notifications } from '@aifactory/store/schema';
import {
  erasePayloads,
  findRun,
  rewriteRunInputsContaining,
  type AtRestCipher,
  type ErasureRequest,
  type ErasureResult,
} from '@aifactory/verification';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { eraseSubjectFromCheckpoints, eraseSubjectInValue, erasedMarker } from '../checkpoint/checkpoint-erasure.ts';

/** What erasing a run's or a subject's data changed, beyond the trace. */
export interface RunDataErasureResult extends ErasureResult {
  /** Checkpoint values rewritten without the subject (or 0). */
  checkpointValuesRewritten: number;
  /** Runs whose checkpoints were deleted (a whole finished run erased). */
  checkpointsDeleted: string[];
  /** Runs erased whole whose checkpoints were kept because the run can still resume (held or running). */
  checkpointsKept: string[];
  /** Approvals whose arguments, context or comments were erased. */
  approvals: number;
  /** Notifications whose payload was erased. */
  notifications: number;
}

/**
 * Erases a subject (optionally within one run), a run's chosen events, or a whole run: the trace
 * payloads through erasePayloads, then the same subject or run in checkpoints, approvals and
 * notifications. Validation is erasePayloads's, before anything changes.
 */
export async function eraseRunData(
  store: Store,
  request: ErasureRequest,
  options: { cipher: AtRestCipher },
): Promise<RunDataErasureResult> {
  const trace = await erasePayloads(store, request);
  const db = store.db;
  const result: RunDataErasureResult = {
    ...trace,
    checkpointValuesRewritten: 0,
    checkpointsDeleted: [],
    checkpointsKept: [],
    approvals: 0,
    notifications: 0,
  };
  const runIds = request.runId !== undefined ? [request.runId] : undefined;
  const subject = request.subject;
  if (subject !== undefined) {
    result.checkpointValuesRewritten = (await eraseSubjectFromCheckpoints(store, options.cipher, subject, runIds)).valuesRewritten;
    // jsonb text escapes quotes and backslashes; look for the subject as it is written there.
    const needle = JSON.stringify(subject).slice(1, -1);
    const approvalRows = await db
      .select()
      .from(approvals)
      .where(
        and(
          runIds ? inArray(approvals.runId, runIds) : undefined,
          sql`strpos(${approvals.action}::text || ${approvals.context}::text, ${needle}) > 0`,
        ),
      );
    for (const row of approvalRows) {
      await db
        .update(approvals)
        .set({ action: eraseSubjectInValue(row.action, subject), context: eraseSubjectInValue(row.context, subject) })
        .where(eq(approvals.id, row.id));
    }
    const runApprovals = runIds ? db.select({ id: approvals.id }).from(approvals).where(inArray(approvals.runId, runIds)) : undefined;
    const comments = await db
      .update(approvalVotes)
      .set({ comment: sql`replace(${approvalVotes.comment}, ${subject}, ${erasedMarker})` })
      .where(
        and(
          sql`strpos(${approvalVotes.comment}, ${subject}) > 0`,
          runApprovals ? inArray(approvalVotes.approvalId, runApprovals) : undefined,
        ),
      )
      .returning({ id: approvalVotes.approvalId });
    result.approvals = new Set([...approvalRows.map((row) => row.id), ...comments.map((row) => row.id)]).size;
    const notificationRows = await db
      .select()
      .from(notifications)
      .where(
        and(
          runIds ? inArray(notifications.runId, runIds) : undefined,
          sql`strpos(${notifications.payload}::text || coalesce(${notifications.lastError}, ''), ${needle}) > 0`,
        ),
      );
    for (const row of notificationRows) {
      await db
        .update(notifications)
        .set({
          payload: eraseSubjectInValue(row.payload, subject),
          lastError: row.lastError === null ? null : row.lastError.replaceAll(subject, erasedMarker),
        })
        .where(eq(notifications.id, row.id));
    }
    result.notifications = notificationRows.length;
    // The runs row's input copy, for runs whose run.started payload was not erased (erased from a run's later events only).
    await rewriteRunInputsContaining(store, needle, runIds, (input) => eraseSubjectInValue(input, subject));
    return result;
  }
  if (request.runId !== undefined && (request.seqs ?? []).length === 0) {
    // The whole run: its approvals' arguments and context, its notifications, and its checkpoints
    // unless the run can still resume from them.
    const runId = request.runId;
    const erasedApprovals = await db
      .update(approvals)
      .set({ action: sql`jsonb_set(${approvals.action}, '{args}', to_jsonb(${erasedMarker}::text))`, context: {} })
      .where(eq(approvals.runId, runId))
      .returning({ id: approvals.id });
    if (erasedApprovals.length > 0) {
      await db
        .update(approvalVotes)
        .set({ comment: erasedMarker })
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
    result.approvals = erasedApprovals.length;
    result.notifications = (
      await db
        .update(notifications)
        .set({ payload: { erased: true }, lastError: null })
        .where(eq(notifications.runId, runId))
        .returning({ id: notifications.id })
    ).length;
    const run = await findRun(store, runId);
    if (run && (run.status === 'held' || run.status === 'running')) {
      result.checkpointsKept.push(runId);
    } else {
      await db.transaction(async (transaction) => {
        await transaction.delete(checkpoints).where(eq(checkpoints.threadId, runId));
        await transaction.delete(checkpointWrites).where(eq(checkpointWrites.threadId, runId));
        await transaction.delete(checkpointBlobs).where(eq(checkpointBlobs.threadId, runId));
      });
      result.checkpointsDeleted.push(runId);
    }
  }
  return result;
}
