// Opening an approval for a held action: bound to its run, step, the hash of its canonical
// arguments and the policy; the open one for the same call is given back (a graph node re-run
// after a crash asks again). Records approval.requested, or undoes the insert.
import { randomBytes } from 'node:crypto';
import { contentHash } from '@aifactory/core';
import { validateRequest } from './approval-checks.ts';
import { toApproval, type ApprovalContext } from './approval-context.ts';
import { normalizeRequirement } from './approval-requirement.ts';
import { deleteApproval, findOpenApproval, insertApproval } from './approval-rows.ts';
import type { Approval, ApprovalRequest } from './approval-types.ts';

/** Opens an approval for a held action (or returns the open one for the same call); records approval.requested. */
export async function requestApproval(context: ApprovalContext, request: ApprovalRequest): Promise<Approval> {
  validateRequest(request);
  const requirement = normalizeRequirement(request.requirement);
  const argsHash = contentHash(request.action.args ?? {});
  // A graph node re-run after a crash asks again for the same call: give it the open approval.
  const open = await findOpenApproval(context.store, {
    runId: request.runId,
    step: request.step,
    argsHash,
    policyHash: request.policyHash,
  });
  if (open) return (await context.load([open]))[0]!;
  const requestedAt = context.now();
  const expiresAt = requirement.expires_in_ms === undefined ? null : new Date(requestedAt.getTime() + requirement.expires_in_ms);
  const row = await insertApproval(context.store, {
    id: `apr_${randomBytes(8).toString('hex')}`,
    runId: request.runId,
    step: request.step,
    action: { kind: request.action.kind, name: request.action.name, args: context.redact(request.action.args ?? {}) },
    argsHash,
    policyHash: request.policyHash,
    requirement,
    requestedBy: request.requestedBy,
    context: context.redact(request.context ?? {}),
    status: 'pending',
    requestedAt,
    expiresAt,
  });
  const approval = context.masked(toApproval(row, []));
  await context.recordOrUndo(
    approval.runId,
    'approval.requested',
    approval.requestedBy,
    {
      approval_id: approval.id,
      step: approval.step,
      action: { kind: approval.action.kind, name: approval.action.name },
      args_hash: argsHash,
      policy_hash: approval.policyHash,
      requirement,
      expires_at: expiresAt?.toISOString() ?? null,
    },
    () => deleteApproval(context.store, approval.id),
  );
  return approval;
}
