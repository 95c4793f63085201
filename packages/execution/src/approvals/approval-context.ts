// What the approval service's parts share: the store, the clock, masking, recording (and undoing a
// change whose recording failed), loading approvals with their votes, expiring overdue ones, and
// refusing a vote or a use (recorded). approval-request.ts, approval-vote.ts and approval-consume.ts
// are the parts; approval-service.ts wires them.
import { ErrorCode, SystemError, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import type { EventType } from '@aifactory/verification';
import type { ApprovalRequirement } from './approval-requirement.ts';
import {
  expireApprovalRecords,
  findApprovalRecord,
  findVotesOfApprovals,
  reopenApproval,
  type ApprovalRecord,
  type ApprovalVoteRecord,
} from './approval-rows.ts';
import type { Approval, ApprovalAction, ApprovalOutcome, ApprovalServiceOptions, ApprovalStatus, ApprovalVote } from './approval-types.ts';

type ApprovalRow = ApprovalRecord;
type VoteRow = ApprovalVoteRecord;

/** The store and options every part of the approval service works with. */
export class ApprovalContext {
  readonly store: Store;
  private readonly options: ApprovalServiceOptions;

  constructor(store: Store, options: ApprovalServiceOptions) {
    this.store = store;
    this.options = options;
  }

  now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  redact<T>(value: T): T {
    return this.options.redact ? (this.options.redact(value) as T) : value;
  }

  /** Masks what approvers read (arguments, context, comments); ids, principals and hashes stay as they are. */
  masked(approval: Approval): Approval {
    return this.options.redact
      ? {
          ...approval,
          action: { ...approval.action, args: this.redact(approval.action.args) },
          context: this.redact(approval.context),
          votes: approval.votes.map((vote) => (vote.comment === undefined ? vote : { ...vote, comment: this.redact(vote.comment) })),
        }
      : approval;
  }

  async record(runId: string, type: EventType, actor: string, payload: Record<string, unknown>): Promise<void> {
    await this.options.record(runId, { type, actor, payload });
  }

  /** Records an event; when that fails, undoes the change it describes and throws. */
  async recordOrUndo(
    runId: string,
    type: EventType,
    actor: string,
    payload: Record<string, unknown>,
    undo: () => Promise<unknown>,
  ): Promise<void> {
    try {
      await this.record(runId, type, actor, payload);
    } catch (error) {
      await undo().catch(() => undefined);
      throw new SystemError(
        ErrorCode.StoreUnavailable,
        `Could not record ${type} for run '${runId}', so the change was undone: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async load(rows: ApprovalRow[]): Promise<Approval[]> {
    if (rows.length === 0) return [];
    const votes = await findVotesOfApprovals(
      this.store,
      rows.map((row) => row.id),
    );
    // Masked again on the way out, so rows written before masking existed show no secret either.
    return rows.map((row) =>
      this.masked(
        toApproval(
          row,
          votes.filter((vote) => vote.approvalId === row.id),
        ),
      ),
    );
  }

  async find(approvalId: string): Promise<Approval | undefined> {
    const row = await findApprovalRecord(this.store, approvalId);
    return row ? (await this.load([row]))[0] : undefined;
  }

  async mustFind(approvalId: string): Promise<Approval> {
    const approval = await this.find(approvalId);
    if (!approval)
      throw new UserError(
        ErrorCode.NotFound,
        `Approval '${approvalId}' does not exist; run 'factory approvals list' to see the open ones.`,
      );
    return approval;
  }

  /** Expires overdue pending approvals (one, or all), each exactly once, and records it. */
  async expire(approvalId?: string): Promise<Approval[]> {
    const at = this.now();
    const expired = await expireApprovalRecords(this.store, at, approvalId);
    expired.sort((left, right) => left.requestedAt.getTime() - right.requestedAt.getTime() || left.id.localeCompare(right.id));
    const loaded = await this.load(expired);
    for (const approval of loaded) {
      await this.recordOrUndo(
        approval.runId,
        'approval.expired',
        'system',
        {
          approval_id: approval.id,
          step: approval.step,
          on_expiry: approval.requirement.on_expiry,
          outcome: approval.outcome,
          expired_at: at.toISOString(),
        },
        () => reopenApproval(this.store, approval.id, 'expired'),
      );
    }
    return loaded;
  }

  async refuse(
    approval: Pick<Approval, 'id' | 'runId' | 'step'>,
    stage: 'vote' | 'consume',
    actor: string,
    error: UserError,
    extra: Record<string, unknown> = {},
  ): Promise<never> {
    try {
      await this.record(approval.runId, 'approval.refused', actor, {
        approval_id: approval.id,
        step: approval.step,
        stage,
        code: error.code,
        reason: error.message,
        ...extra,
      });
    } catch (recordError) {
      // The run has ended (a vote that came after the run it decided went on and finished): nothing
      // can be appended after its last event, and a refusal changes nothing, so the refusal itself
      // is the answer — not a server error.
      if (recordError instanceof UserError && recordError.code === ErrorCode.Conflict && recordError.details?.['headSeq'] !== undefined)
        throw new UserError(error.code, `${error.message} (Run '${approval.runId}' has ended, so the refusal is not added to its trace.)`, {
          ...(error.details ? { details: error.details } : {}),
          cause: error,
        });
      throw new SystemError(
        ErrorCode.StoreUnavailable,
        `${error.message} (and the refusal could not be recorded: ${(recordError as Error).message})`,
        { cause: recordError },
      );
    }
    throw error;
  }
}

export function toApproval(row: ApprovalRow, votes: VoteRow[]): Approval {
  return {
    id: row.id,
    runId: row.runId,
    step: row.step,
    action: row.action as ApprovalAction,
    argsHash: row.argsHash,
    policyHash: row.policyHash,
    requirement: row.requirement as ApprovalRequirement,
    requestedBy: row.requestedBy,
    context: (row.context ?? {}) as Record<string, unknown>,
    status: row.status as ApprovalStatus,
    outcome: (row.outcome as ApprovalOutcome | null) ?? null,
    requestedAt: row.requestedAt,
    expiresAt: row.expiresAt,
    decidedAt: row.decidedAt,
    consumedAt: row.consumedAt,
    votes: votes.map((vote) => ({
      approver: vote.approver,
      roles: (vote.roles ?? []) as string[],
      vote: vote.vote as ApprovalVote['vote'],
      ...(vote.comment ? { comment: vote.comment } : {}),
      at: vote.ts,
    })),
  };
}

export function toVoteRow(approvalId: string) {
  return (vote: ApprovalVote): VoteRow => ({
    approvalId,
    approver: vote.approver,
    roles: vote.roles,
    vote: vote.vote,
    comment: vote.comment ?? null,
    ts: vote.at,
  });
}

export function rowSummary(row: ApprovalRow): Pick<Approval, 'id' | 'runId' | 'step'> {
  return { id: row.id, runId: row.runId, step: row.step };
}
