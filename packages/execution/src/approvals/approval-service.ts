// Approvals: a human's yes or no to one held action, bound to its run, step, the hash of its
// canonical arguments and the policy version, with an expiry, and usable once.
//
// Exactly once: votes on one approval are serialised by a row lock (SELECT ... FOR UPDATE), and
// every state change is a conditional UPDATE ... WHERE status = <expected> RETURNING, so however
// many approvers, processes or resumers race, one transition wins and only the winner records it.
//
// Recording: the verification plane's recorder writes through its own connection, and PGlite has
// only one, so events cannot be recorded inside our transaction. Each change is committed first
// and recorded right after; when recording fails the change is undone and the caller gets the
// error, so no decided, consumed or refused state stands unrecorded (a process crash in that
// window is the one gap, and it leaves the action held, never executed).
//
// The parts: approval-context.ts (what they share: recording, loading, expiring, refusing),
// approval-request.ts, approval-vote.ts, approval-consume.ts; the rules that need no store in
// approval-checks.ts; every query in approval-rows.ts.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { ApprovalContext } from './approval-context.ts';
import { consumeApproval } from './approval-consume.ts';
import { requestApproval } from './approval-request.ts';
import { listApprovalRecords } from './approval-rows.ts';
import { approvalStatuses, type ApprovalService, type ApprovalServiceOptions } from './approval-types.ts';
import { castVote } from './approval-vote.ts';

/** Creates the approval service over a store. */
export function createApprovalService(store: Store, options: ApprovalServiceOptions): ApprovalService {
  const context = new ApprovalContext(store, options);
  return {
    request: (request) => requestApproval(context, request),

    async get(approvalId) {
      await context.expire(approvalId);
      return context.mustFind(approvalId);
    },

    async list(filter = {}) {
      if (filter.status !== undefined && !approvalStatuses.includes(filter.status)) {
        throw new UserError(
          ErrorCode.InputInvalid,
          `Approval status '${String(filter.status)}' is unknown; use one of ${approvalStatuses.join(', ')}.`,
        );
      }
      await context.expire();
      return context.load(await listApprovalRecords(store, filter));
    },

    vote: (approvalId, ballot) => castVote(context, approvalId, ballot),

    consume: (approvalId, binding) => consumeApproval(context, approvalId, binding),

    expireDue() {
      return context.expire();
    },
  };
}
