// Requests the policy holds for approval. A chat request cannot wait hours for a human, so the
// gateway answers a hold at once — 403 `approval_required`, carrying the approval id, who may decide
// and by when — and the app sends the same request again with `x-aifactory-approval: <id>` once it
// is decided (the pattern of the governing MCP proxy: ask again, with the approval).
//
// The session run that held the request leaves its pool and becomes that request's run: it is
// marked held (its chain checkpoint-sealed, as every held run), its lease handed back, and the
// approval's life (requested, voted, granted or rejected) is recorded in it. Whichever gateway
// process receives the retry takes the run over — the lease decides between racing retries — and
// consumes the approval, which is bound to that run, the held step, the hash of the request's
// arguments and the policy set in force, and usable once. Approved, the request goes out
// (model.requested with the approval id, committed first, then model.responded); rejected or
// expired, it is refused. Either way the run then ends. Held runs nobody came back for are ended
// by the gateway's sweep once their approval is settled or their claim window has passed.
import type { Decision } from '@aifactory/control';
import { ErrorCode, UserError, contentHash } from '@aifactory/core';
import type { Approval, ApprovalService, GovernanceGate, ProposedAction, RunOwnership } from '@aifactory/execution';
import { findSettledApprovalsOfRuns } from '@aifactory/execution/approvals';
import type { Store } from '@aifactory/store';
import { type Recorder } from '@aifactory/verification';
import { findRun, findRunsWhere } from '@aifactory/verification/internal';
import { maskPii } from '@aifactory/knowledge/pii-masking';
import { approveHint, whoMayApprove } from '../approval-hints.ts';
import { gatewayAgent, type SessionRun, type SessionRuns } from './session-runs.ts';
import type { GatewayErrorKind } from './wire-protocols.ts';

/** Header carrying the approval a request was held for, on the retry that should use it. */
export const approvalHeader = 'x-aifactory-approval';

/** What the gateway uses of the approval service. */
export type GatewayApprovals = Pick<ApprovalService, 'request' | 'get' | 'consume'>;

/** A refusal in the protocol-neutral form the gateway turns into the protocol's error. */
export interface HeldRefusal {
  kind: 'refused';
  errorKind: GatewayErrorKind;
  code: string;
  message: string;
  status?: number;
  approval?: Approval;
  headers?: Record<string, string>;
}

/** A retry whose approval is approved and whose held run this process now drives. */
export interface HeldClaim {
  kind: 'claimed';
  run: SessionRun;
  approval: Approval;
}

const approvalIdPattern = /^apr_[0-9a-f]{16}$/;

/** What HeldRequests is built from. */
export interface HeldRequestsOptions {
  store: Store;
  recorder: Recorder;
  approvals: GatewayApprovals;
  ownership: RunOwnership;
  gate: GovernanceGate;
  sessions: SessionRuns;
  /** Expiry of an approval whose policy names none (ms). */
  expiresInMs: number;
  /** How long an approved request may wait for its retry before its run is ended (ms). */
  claimWithinMs: number;
}

/** Holds, claims and ends held gateway requests (see the file header). */
export class HeldRequests {
  readonly #options: HeldRequestsOptions;

  constructor(options: HeldRequestsOptions) {
    this.#options = options;
  }

  /**
   * Parks the request's session run for approval: asks for the approval (recorded in the run),
   * marks the run held and hands its lease back. The run leaves its session's pool for good.
   */
  async hold(
    run: SessionRun,
    step: number,
    principal: string,
    proposed: ProposedAction,
    decision: Decision,
    mask: boolean,
    context: Record<string, unknown>,
  ): Promise<Approval> {
    const { gate, approvals: service, recorder, ownership, sessions } = this.#options;
    const approvers = decision.obligations.approvers ?? { roles: [], count: 1, separation_of_duties: true, on_expiry: 'deny' as const };
    // Outcomes of the session's earlier requests go into the chain before it is sealed for the wait.
    await gate.flush(run.runId);
    const approval = await service.request({
      runId: run.runId,
      step,
      action: { kind: proposed.kind, name: proposed.name, args: approvalArgs(proposed.args, mask) },
      policyHash: gate.policySet.hash,
      requirement: { ...approvers, ...(approvers.expires_in_ms === undefined ? { expires_in_ms: this.#options.expiresInMs } : {}) },
      requestedBy: principal,
      // resumed_by: the app asks again once it is decided; no agent run waits to be resumed.
      context: {
        agent: gatewayAgent,
        via: 'gateway',
        resumed_by: 'caller',
        rules: decision.rules.map((rule) => `${rule.policy}/${rule.ruleId}`),
        reason: decision.reason,
        mask,
        ...context,
      },
    });
    const fence = ownership.fence(run.runId);
    await recorder.setStatus(run.runId, 'held', fence ? { fence } : {});
    sessions.detach(run);
    await ownership.release(run.runId);
    return approval;
  }

  /**
   * Looks at the approval a retry names and, when it is decided (and unused) for exactly this
   * request, takes the held run over for it; consume() then uses the approval. Anything else is a
   * refusal the app can act on: still pending, used, or given for another request.
   */
  async claim(approvalId: string, principal: string, proposed: ProposedAction): Promise<HeldClaim | HeldRefusal> {
    if (!approvalIdPattern.test(approvalId))
      return refusal(
        'invalid_request',
        'approval_invalid',
        `The ${approvalHeader} header '${approvalId.slice(0, 40)}' is not an approval id; send the id the held request was answered with (apr_ and 16 hex digits).`,
      );
    let approval: Approval;
    try {
      approval = await this.#options.approvals.get(approvalId);
    } catch (error) {
      if (error instanceof UserError && error.code === ErrorCode.NotFound)
        return refusal(
          'not_found',
          'approval_unknown',
          `Approval '${approvalId}' does not exist; send the request without the ${approvalHeader} header to have it decided.`,
        );
      throw error;
    }
    if (approval.context['via'] !== 'gateway' || approval.action.kind !== 'model') {
      return refusal(
        'invalid_request',
        'approval_invalid',
        `Approval '${approvalId}' was not given for a gateway request; send the request without the ${approvalHeader} header to have it decided.`,
      );
    }
    if (approval.requestedBy !== principal) {
      return refusal(
        'permission',
        'approval_invalid',
        `Approval '${approvalId}' was given for a request of another principal; it lets only that principal's request through.`,
      );
    }
    if (
      approval.action.name !== proposed.name ||
      approval.argsHash !== contentHash(approvalArgs(proposed.args, approval.context['mask'] === true))
    ) {
      return refusal(
        'invalid_request',
        'approval_mismatch',
        `Approval '${approvalId}' was given for another request (${approval.action.name}, arguments hash ${approval.argsHash.slice(0, 12)}…); send exactly the held request again — same model, messages, tools, feature and classification — or drop the ${approvalHeader} header to have this one decided.`,
      );
    }
    const outcome = approval.status === 'pending' ? undefined : (approval.outcome ?? 'rejected');
    if (outcome === undefined) {
      return refusal(
        'permission',
        'approval_pending',
        `Approval '${approvalId}' is still pending${deadline(approval)}. ${whoMayApprove(approval)} decides with \`${approveHint(approvalId, approval)}\`; send this request again once it is approved.`,
        approval,
      );
    }
    if (approval.status === 'consumed') {
      if (outcome === 'rejected') return refusal('permission', 'approval_rejected', rejection(approval), approval);
      return refusal(
        'permission',
        'approval_used',
        `Approval '${approvalId}' was used already; an approval lets one request through. Send the request without the ${approvalHeader} header to have it decided again.`,
        approval,
      );
    }
    // Decided and unused, approved or not: the run is taken over so consume() records the outcome in it and ends it.
    const { ownership, store } = this.#options;
    const epoch = await ownership.takeOver(approval.runId);
    if (epoch === undefined) {
      return refusal(
        'invalid_request',
        'approval_in_use',
        `Another request is using approval '${approvalId}' right now; retry in a moment.`,
        approval,
        409,
        { 'retry-after': '1' },
      );
    }
    const row = await findRun(store, approval.runId);
    if (row?.status !== 'held') {
      await ownership.release(approval.runId);
      return refusal(
        'permission',
        'approval_invalid',
        `The request held for approval '${approvalId}' was closed (${row?.status ?? 'its run is gone'}) before it was sent again; send it without the ${approvalHeader} header to have it decided again.`,
        approval,
      );
    }
    const run: SessionRun = {
      runId: approval.runId,
      key: '',
      startedAtMs: row.startedAt.getTime(),
      step: approval.step,
      requests: 0,
      tokens: 0,
      costUsd: 0,
    };
    return { kind: 'claimed', run, approval };
  }

  /** Puts a claimed run back to wait (the retry was refused before the approval was used, e.g. a spent budget). */
  async putBack(run: SessionRun): Promise<void> {
    await this.#options.gate.flush(run.runId);
    await this.#options.ownership.release(run.runId);
  }

  /**
   * Uses the approval for the claimed run: approved, the run is running again and the request may
   * go out (the caller commits model.requested first); otherwise the run ends and the refusal says why.
   */
  async consume(claim: HeldClaim): Promise<{ kind: 'approved' } | HeldRefusal> {
    const { run, approval } = claim;
    const { approvals: service, gate, recorder, ownership } = this.#options;
    let consumed;
    try {
      consumed = await service.consume(approval.id, {
        runId: run.runId,
        step: approval.step,
        argsHash: approval.argsHash,
        policyHash: gate.policySet.hash,
      });
    } catch (error) {
      if (!(error instanceof UserError) || error.code !== ErrorCode.ApprovalInvalid) {
        await ownership.release(run.runId).catch(() => undefined);
        throw error;
      }
      await this.end(run, { held_request: 'approval could not be used', reason: error.message });
      return refusal(
        'permission',
        'approval_invalid',
        `Approval '${approval.id}' cannot be used: ${error.message} Send the request without the ${approvalHeader} header to have it decided under the policies in force.`,
        approval,
      );
    }
    if (consumed.outcome !== 'approved') {
      await this.end(run, { held_request: 'rejected', approval_id: approval.id });
      return refusal('permission', 'approval_rejected', rejection(consumed.approval), consumed.approval);
    }
    const fence = ownership.fence(run.runId);
    await recorder.setStatus(run.runId, 'running', fence ? { fence } : {});
    return { kind: 'approved' };
  }

  /** Ends a held request's run (its outcome flushed first) and forgets its lease. */
  async end(run: SessionRun, payload: Record<string, unknown>): Promise<void> {
    const { gate, recorder, ownership } = this.#options;
    const fence = ownership.fence(run.runId);
    try {
      await gate.flush(run.runId);
      await recorder.finishRun(run.runId, { status: 'completed', payload }, fence ? { fence } : {});
    } finally {
      ownership.forget(run.runId);
    }
  }

  /**
   * Ends held gateway runs nobody will come back for: their approval was rejected, expired, used,
   * or approved longer ago than the claim window. Runs another process holds are left alone.
   */
  async sweep(now = new Date()): Promise<number> {
    const { store, ownership } = this.#options;
    const cutoff = new Date(now.getTime() - this.#options.claimWithinMs);
    const held = await findRunsWhere(store, { agent: gatewayAgent, status: 'held' });
    const due = (
      await findSettledApprovalsOfRuns(
        store,
        held.map((run) => run.id),
        cutoff,
      )
    ).map((approval) => ({ runId: approval.runId, approvalId: approval.id, status: approval.status, outcome: approval.outcome }));
    let ended = 0;
    for (const row of due) {
      const epoch = await ownership.takeOver(row.runId).catch(() => undefined);
      if (epoch === undefined) continue;
      const run: SessionRun = { runId: row.runId, key: '', startedAtMs: now.getTime(), step: 0, requests: 0, tokens: 0, costUsd: 0 };
      await this.end(run, {
        held_request: row.outcome === 'approved' && row.status !== 'consumed' ? 'approved, never sent again' : (row.outcome ?? row.status),
        approval_id: row.approvalId,
      }).then(
        () => (ended += 1),
        () => ownership.release(row.runId).catch(() => undefined),
      );
    }
    return ended;
  }
}

/**
 * The arguments an approval binds. When the decision obliges masking the content, approvers read it
 * with personal data masked, and the hash of the real content keeps the binding exact (so the
 * approval's args_hash is over these, not the policy.decided ones).
 */
function approvalArgs(args: Record<string, unknown>, mask: boolean): Record<string, unknown> {
  if (!mask || typeof args['content'] !== 'string') return args;
  return { ...args, content: maskPii(args['content']).text, content_hash: contentHash(args['content']) };
}

/** The approval as an app reads it in the error body (`error.approval`). */
export function approvalDetails(approval: Approval): Record<string, unknown> {
  const { roles, count, separation_of_duties: separation } = approval.requirement;
  return {
    approval: {
      id: approval.id,
      status: approval.status,
      expires_at: approval.expiresAt?.toISOString() ?? null,
      approvers: { roles, count, separation_of_duties: separation },
      approve: approveHint(approval.id, approval),
      retry_header: approvalHeader,
    },
  };
}

/** The answer to a request held now. */
export function heldMessage(name: string, decision: Decision, approval: Approval): string {
  const rule = decision.rules.find((candidate) => candidate.authority === 'require_approval');
  const why = rule ? `rule '${rule.ruleId}' of policy '${rule.policy}'${rule.reason ? `: ${rule.reason}` : ''}` : decision.reason;
  return (
    `The model call '${name}' is held for approval ${approval.id} (${why}). ${whoMayApprove(approval)} decides with \`${approveHint(approval.id, approval)}\` or POST /v1/approvals/${approval.id}/approve${deadline(approval)}; ` +
    `then send the same request again with the header ${approvalHeader}: ${approval.id}.`
  );
}

function deadline(approval: Approval): string {
  return approval.expiresAt
    ? ` before ${approval.expiresAt.toISOString()} (then it ${approval.requirement.on_expiry === 'approve' ? 'is approved' : 'is refused'})`
    : '';
}

function rejection(approval: Approval): string {
  if (approval.votes.every((vote) => vote.vote !== 'reject')) {
    return `Approval '${approval.id}' expired undecided, which refuses the request; send it again without the ${approvalHeader} header to ask anew.`;
  }
  const against = approval.votes.filter((vote) => vote.vote === 'reject');
  const comments = against.filter((vote) => vote.comment).map((vote) => `${vote.approver}: ${vote.comment}`);
  return `Approval '${approval.id}' was rejected by ${against.map((vote) => vote.approver).join(', ') || 'an approver'}${comments.length > 0 ? ` (${comments.join('; ')})` : ''}; the request is refused.`;
}

function refusal(
  errorKind: GatewayErrorKind,
  code: string,
  message: string,
  approval?: Approval,
  status?: number,
  headers?: Record<string, string>,
): HeldRefusal {
  return {
    kind: 'refused',
    errorKind,
    code,
    message,
    ...(approval ? { approval } : {}),
    ...(status ? { status } : {}),
    ...(headers ? { headers } : {}),
  };
}
