// `runs erase` across everything the runtime wrote, not only the trace: the events (tombstones,
// the chain still verifies), the encrypted checkpoints (opened, the subject replaced, sealed
// again), the approvals approvers read, and the notification outbox.
import type { Store } from '@aifactory/store';
import { erasePayloads, type AtRestCipher, type ErasureRequest, type ErasureResult } from '@aifactory/verification';
import { findRun, rewriteRunInputsContaining } from '@aifactory/verification/internal';
import {
  eraseRunApprovals,
  eraseSubjectInVoteComments,
  findApprovalsContaining,
  rewriteApprovalContent,
} from '../approvals/approval-rows.ts';
import { eraseSubjectFromCheckpoints, eraseSubjectInValue, erasedMarker } from '../checkpoint/checkpoint-erasure.ts';
import { deleteThreadCheckpoints } from '../checkpoint/checkpoint-rows.ts';
import { eraseRunNotifications, rewriteNotification, selectNotificationsContaining } from '../notifications/notification-rows.ts';

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
    const approvalRows = await findApprovalsContaining(store, needle, runIds);
    for (const row of approvalRows) {
      await rewriteApprovalContent(store, row.id, {
        action: eraseSubjectInValue(row.action, subject),
        context: eraseSubjectInValue(row.context, subject),
      });
    }
    const comments = await eraseSubjectInVoteComments(store, subject, erasedMarker, runIds);
    result.approvals = new Set([...approvalRows.map((row) => row.id), ...comments]).size;
    const notificationRows = await selectNotificationsContaining(store, needle, runIds);
    for (const row of notificationRows) {
      await rewriteNotification(store, row.id, {
        payload: eraseSubjectInValue(row.payload, subject),
        lastError: row.lastError === null ? null : row.lastError.replaceAll(subject, erasedMarker),
      });
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
    result.approvals = await eraseRunApprovals(store, runId, erasedMarker);
    result.notifications = await eraseRunNotifications(store, runId);
    const run = await findRun(store, runId);
    if (run && (run.status === 'held' || run.status === 'running')) {
      result.checkpointsKept.push(runId);
    } else {
      await deleteThreadCheckpoints(store, runId);
      result.checkpointsDeleted.push(runId);
    }
  }
  return result;
}
