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
import { randomBytes } from 'node:crypto';
import { ErrorCode, SystemError, UserError, contentHash } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { approvalVotes, approvals } from '@aifactory/store/schema';
import { and, asc, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import { normalizeRequirement, type ApprovalRequirement, type ApprovalRequirementInput } from './approval-requirement.ts';

/** Where an approval is in its life: pending, then decided (approved, rejected, expired), then consumed. */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'consumed';

/** Every status, for validating filters. */
export const approvalStatuses: readonly ApprovalStatus[] = ['pending', 'approved', 'rejected', 'expired', 'consumed'];

/** What a decided approval lets the run do. */
export type ApprovalOutcome = 'approved' | 'rejected';

/** The held action, as the governance gate saw it. */
export interface ApprovalAction {
  /** Action kind: tool, model, retrieval, handoff, answer. */
  kind: string;
  /** Tool, model or agent name. */
  name: string;
  /** The call's arguments; their canonical hash binds the approval. */
  args: unknown;
}

/** One approver's vote. */
export interface ApprovalVote {
  /** The approver's principal id. */
  approver: string;
  /** Roles the approver acted with. */
  roles: string[];
  /** Yes or no. */
  vote: 'approve' | 'reject';
  /** Why, in the approver's words. */
  comment?: string;
  /** When the vote was cast. */
  at: Date;
}

/** An approval and its votes. */
export interface Approval {
  /** Stable id, e.g. apr_3f9c2a1b7d4e5f60. */
  id: string;
  /** The held run. */
  runId: string;
  /** The step of the run the held action belongs to. */
  step: number;
  /** The held action. */
  action: ApprovalAction;
  /** sha256 of the canonical JSON of the action's arguments. */
  argsHash: string;
  /** Content hash of the policy (set) that required the approval. */
  policyHash: string;
  /** Who may approve, how many, and what expiry does. */
  requirement: ApprovalRequirement;
  /** The run's principal (the one who cannot approve under separation of duties). */
  requestedBy: string;
  /** What approvers see besides the action (agent, rules, reason). */
  context: Record<string, unknown>;
  /** Where the approval is in its life. */
  status: ApprovalStatus;
  /** The decision once made; kept after consumption. */
  outcome: ApprovalOutcome | null;
  /** When it was requested. */
  requestedAt: Date;
  /** When it expires, if ever. */
  expiresAt: Date | null;
  /** When it was decided (approved, rejected or expired). */
  decidedAt: Date | null;
  /** When the run used it. */
  consumedAt: Date | null;
  /** Votes in the order they were cast. */
  votes: ApprovalVote[];
}

/** What the runtime asks for when a decision requires approval. */
export interface ApprovalRequest {
  /** The held run. */
  runId: string;
  /** The step the held action belongs to. */
  step: number;
  /** The held action with its exact arguments. */
  action: ApprovalAction;
  /** Content hash of the policy in force. */
  policyHash: string;
  /** The decision's approvers obligation (roles, count, separation_of_duties, expiry, on_expiry). */
  requirement: ApprovalRequirementInput | Record<string, unknown>;
  /** The run's principal. */
  requestedBy: string;
  /** Shown to approvers: agent, matching rules, the decision's reason. */
  context?: Record<string, unknown>;
}

/** An approver's ballot. */
export interface Ballot {
  /** Who votes, and the roles they act with. */
  approver: { id: string; roles: readonly string[] };
  /** Yes or no. */
  vote: 'approve' | 'reject';
  /** Why. */
  comment?: string;
}

/** What a vote did. */
export type VoteResult =
  /** The vote counts, more approvals are needed. */
  | { kind: 'counted'; approval: Approval; remaining: number }
  /** This vote completed the approval. */
  | { kind: 'approved'; approval: Approval }
  /** This vote rejected the action. */
  | { kind: 'rejected'; approval: Approval };

/** The exact call an approval is used for; all four must match what was approved. */
export interface ApprovalBinding {
  runId: string;
  step: number;
  argsHash: string;
  policyHash: string;
}

/** A consumed approval: what the run may do, and who said so. */
export interface ConsumedApproval {
  /** Approved: run the held action; rejected: do not. */
  outcome: ApprovalOutcome;
  /** Who decided (approvers, or the one who rejected); empty when the approval expired. */
  approvers: string[];
  /** The deciding votes' comments. */
  comment?: string;
  /** The approval, now consumed. */
  approval: Approval;
}

/** The verification plane's recorder, as approvals use it. */
export type ApprovalRecorder = (runId: string, event: { type: string; actor: string; payload: unknown }) => Promise<unknown>;

/** What an approval service is made of. */
export interface ApprovalServiceOptions {
  /** Records approval events in the run's trace (the verification plane's recorder). */
  record: ApprovalRecorder;
  /** Current time (tests); default the system clock. */
  clock?: () => Date;
  /**
   * Masks secrets and PII (the workspace redactor) in what is stored and shown: the action's
   * arguments, the context and vote comments. The argument hash is taken over the real arguments
   * first, so approvers see masked values and the exact hash of the call they approve.
   */
  redact?: (value: unknown) => unknown;
}

/** Approvals over the store. */
export interface ApprovalService {
  /** Opens an approval for a held action (or returns the open one for the same call); records approval.requested. */
  request(request: ApprovalRequest): Promise<Approval>;
  /** One approval with its votes; expires it first when its time is up. */
  get(approvalId: string): Promise<Approval>;
  /** Approvals, oldest first, optionally by status and run; overdue ones are expired first. */
  list(filter?: { status?: ApprovalStatus; runId?: string }): Promise<Approval[]>;
  /** Casts a vote, enforcing roles, separation of duties, one vote per approver and expiry. */
  vote(approvalId: string, ballot: Ballot): Promise<VoteResult>;
  /** Uses a decided approval for exactly the call it was asked for, once; anything else throws APPROVAL_INVALID. */
  consume(approvalId: string, binding: ApprovalBinding): Promise<ConsumedApproval>;
  /** Expires every overdue pending approval now and returns them. */
  expireDue(): Promise<Approval[]>;
}

type ApprovalRow = typeof approvals.$inferSelect;
type VoteRow = typeof approvalVotes.$inferSelect;

/** Creates the approval service over a store. */
export function createApprovalService(store: Store, options: ApprovalServiceOptions): ApprovalService {
  const db = store.db;
  const now = () => options.clock?.() ?? new Date();
  const redact = <T>(value: T): T => (options.redact ? (options.redact(value) as T) : value);
  /** Masks what approvers read (arguments, context, comments); ids, principals and hashes stay as they are. */
  const masked = (approval: Approval): Approval =>
    options.redact
      ? {
          ...approval,
          action: { ...approval.action, args: redact(approval.action.args) },
          context: redact(approval.context),
          votes: approval.votes.map((vote) => (vote.comment === undefined ? vote : { ...vote, comment: redact(vote.comment) })),
        }
      : approval;

  async function record(runId: string, type: string, actor: string, payload: Record<string, unknown>): Promise<void> {
    await options.record(runId, { type, actor, payload });
  }

  /** Records an event; when that fails, undoes the change it describes and throws. */
  async function recordOrUndo(
    runId: string,
    type: string,
    actor: string,
    payload: Record<string, unknown>,
    undo: () => Promise<unknown>,
  ): Promise<void> {
    try {
      await record(runId, type, actor, payload);
    } catch (error) {
      await undo().catch(() => undefined);
      throw new SystemError(
        ErrorCode.StoreUnavailable,
        `Could not record ${type} for run '${runId}', so the change was undone: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async function load(rows: ApprovalRow[]): Promise<Approval[]> {
    if (rows.length === 0) return [];
    const votes = await db
      .select()
      .from(approvalVotes)
      .where(
        inArray(
          approvalVotes.approvalId,
          rows.map((row) => row.id),
        ),
      )
      .orderBy(asc(approvalVotes.ts), asc(approvalVotes.approver));
    // Masked again on the way out, so rows written before masking existed show no secret either.
    return rows.map((row) =>
      masked(
        toApproval(
          row,
          votes.filter((vote) => vote.approvalId === row.id),
        ),
      ),
    );
  }

  async function find(approvalId: string): Promise<Approval | undefined> {
    const [row] = await db.select().from(approvals).where(eq(approvals.id, approvalId));
    return row ? (await load([row]))[0] : undefined;
  }

  async function mustFind(approvalId: string): Promise<Approval> {
    const approval = await find(approvalId);
    if (!approval)
      throw new UserError(
        ErrorCode.NotFound,
        `Approval '${approvalId}' does not exist; run 'factory approvals list' to see the open ones.`,
      );
    return approval;
  }

  /** Expires overdue pending approvals (one, or all), each exactly once, and records it. */
  async function expire(approvalId?: string): Promise<Approval[]> {
    const at = now();
    const conditions = [eq(approvals.status, 'pending'), lte(approvals.expiresAt, at)];
    if (approvalId !== undefined) conditions.push(eq(approvals.id, approvalId));
    const expired = await db
      .update(approvals)
      .set({
        status: 'expired',
        outcome: sql`case when ${approvals.requirement}->>'on_expiry' = 'approve' then 'approved' else 'rejected' end`,
        decidedAt: at,
      })
      .where(and(...conditions))
      .returning();
    expired.sort((left, right) => left.requestedAt.getTime() - right.requestedAt.getTime() || left.id.localeCompare(right.id));
    const loaded = await load(expired);
    for (const approval of loaded) {
      await recordOrUndo(
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
        () =>
          db
            .update(approvals)
            .set({ status: 'pending', outcome: null, decidedAt: null })
            .where(and(eq(approvals.id, approval.id), eq(approvals.status, 'expired'))),
      );
    }
    return loaded;
  }

  async function refuse(
    approval: Pick<Approval, 'id' | 'runId' | 'step'>,
    stage: 'vote' | 'consume',
    actor: string,
    error: UserError,
    extra: Record<string, unknown> = {},
  ): Promise<never> {
    try {
      await record(approval.runId, 'approval.refused', actor, {
        approval_id: approval.id,
        step: approval.step,
        stage,
        code: error.code,
        reason: error.message,
        ...extra,
      });
    } catch (recordError) {
      throw new SystemError(
        ErrorCode.StoreUnavailable,
        `${error.message} (and the refusal could not be recorded: ${(recordError as Error).message})`,
        { cause: recordError },
      );
    }
    throw error;
  }

  return {
    async request(request) {
      validateRequest(request);
      const requirement = normalizeRequirement(request.requirement);
      const argsHash = contentHash(request.action.args ?? {});
      // A graph node re-run after a crash asks again for the same call: give it the open approval.
      const [open] = await db
        .select()
        .from(approvals)
        .where(
          and(
            eq(approvals.runId, request.runId),
            eq(approvals.step, request.step),
            eq(approvals.argsHash, argsHash),
            eq(approvals.policyHash, request.policyHash),
            isNull(approvals.consumedAt),
            inArray(approvals.status, ['pending', 'approved', 'rejected', 'expired']),
          ),
        )
        .limit(1);
      if (open) return (await load([open]))[0]!;
      const requestedAt = now();
      const expiresAt = requirement.expires_in_ms === undefined ? null : new Date(requestedAt.getTime() + requirement.expires_in_ms);
      const [row] = await db
        .insert(approvals)
        .values({
          id: `apr_${randomBytes(8).toString('hex')}`,
          runId: request.runId,
          step: request.step,
          action: { kind: request.action.kind, name: request.action.name, args: redact(request.action.args ?? {}) },
          argsHash,
          policyHash: request.policyHash,
          requirement,
          requestedBy: request.requestedBy,
          context: redact(request.context ?? {}),
          status: 'pending',
          requestedAt,
          expiresAt,
        })
        .returning();
      const approval = masked(toApproval(row!, []));
      await recordOrUndo(
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
        () => db.delete(approvals).where(eq(approvals.id, approval.id)),
      );
      return approval;
    },

    async get(approvalId) {
      await expire(approvalId);
      return mustFind(approvalId);
    },

    async list(filter = {}) {
      if (filter.status !== undefined && !approvalStatuses.includes(filter.status)) {
        throw new UserError(
          ErrorCode.InputInvalid,
          `Approval status '${String(filter.status)}' is unknown; use one of ${approvalStatuses.join(', ')}.`,
        );
      }
      await expire();
      const conditions = [];
      if (filter.status) conditions.push(eq(approvals.status, filter.status));
      if (filter.runId) conditions.push(eq(approvals.runId, filter.runId));
      const rows = await db
        .select()
        .from(approvals)
        .where(conditions.length > 0 ? and(...conditions) : undefined)
        .orderBy(asc(approvals.requestedAt), asc(approvals.id));
      return load(rows);
    },

    async vote(approvalId, ballot) {
      validateBallot(ballot);
      await expire(approvalId);
      const approverId = ballot.approver.id.trim();
      const roles = [...new Set(ballot.approver.roles)];
      const at = now();
      // Votes on one approval are serialised by the row lock: the second of two simultaneous
      // approvers sees the first one's vote, so the count is right and one of them decides.
      const settled = await db.transaction(async (transaction) => {
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
          comment: ballot.comment === undefined ? null : redact(ballot.comment),
          ts: at,
        });
        const approvers = new Set(previous.filter((vote) => vote.vote === 'approve').map((vote) => vote.approver));
        if (ballot.vote === 'approve') approvers.add(approverId);
        const outcome: ApprovalOutcome | null =
          ballot.vote === 'reject' ? 'rejected' : approvers.size >= requirement.count ? 'approved' : null;
        if (outcome) {
          await transaction
            .update(approvals)
            .set({ status: outcome, outcome, decidedAt: at })
            .where(and(eq(approvals.id, approvalId), eq(approvals.status, 'pending')));
        }
        return { kind: 'voted' as const, row, outcome, remaining: Math.max(0, requirement.count - approvers.size) };
      });
      if (settled.kind === 'missing')
        throw new UserError(
          ErrorCode.NotFound,
          `Approval '${approvalId}' does not exist; run 'factory approvals list' to see the open ones.`,
        );
      if (settled.kind === 'refused')
        return refuse(rowSummary(settled.row), 'vote', approverId, settled.error, { approver: approverId, roles });
      const approval = await mustFind(approvalId);
      const votes = approval.votes.map((vote) => ({
        approver: vote.approver,
        roles: vote.roles,
        vote: vote.vote,
        ...(vote.comment ? { comment: vote.comment } : {}),
      }));
      // Undo: take the vote back and, if it decided, reopen the approval (unless already consumed).
      const undo = async () => {
        await db.delete(approvalVotes).where(and(eq(approvalVotes.approvalId, approvalId), eq(approvalVotes.approver, approverId)));
        if (settled.outcome)
          await db
            .update(approvals)
            .set({ status: 'pending', outcome: null, decidedAt: null })
            .where(and(eq(approvals.id, approvalId), eq(approvals.status, settled.outcome)));
      };
      const base = { approval_id: approvalId, step: approval.step };
      if (settled.outcome === 'approved') {
        await recordOrUndo(
          approval.runId,
          'approval.granted',
          approverId,
          { ...base, approvers: votes.filter((vote) => vote.vote === 'approve').map((vote) => vote.approver), votes },
          undo,
        );
        return { kind: 'approved', approval };
      }
      if (settled.outcome === 'rejected') {
        await recordOrUndo(
          approval.runId,
          'approval.rejected',
          approverId,
          { ...base, rejected_by: approverId, ...(ballot.comment ? { comment: ballot.comment } : {}), votes },
          undo,
        );
        return { kind: 'rejected', approval };
      }
      await recordOrUndo(
        approval.runId,
        'approval.voted',
        approverId,
        {
          ...base,
          approver: approverId,
          roles,
          vote: ballot.vote,
          ...(ballot.comment ? { comment: ballot.comment } : {}),
          remaining: settled.remaining,
        },
        undo,
      );
      return { kind: 'counted', approval, remaining: settled.remaining };
    },

    async consume(approvalId, binding) {
      validateBinding(binding);
      await expire(approvalId);
      const approval = await find(approvalId);
      const offered = { run_id: binding.runId, step: binding.step, args_hash: binding.argsHash, policy_hash: binding.policyHash };
      if (!approval) {
        return refuse(
          { id: approvalId, runId: binding.runId, step: binding.step },
          'consume',
          'runtime',
          new UserError(ErrorCode.ApprovalInvalid, `Approval '${approvalId}' does not exist.`),
          { offered },
        );
      }
      const problem = bindingProblem(approval, binding);
      if (problem) return refuse(approval, 'consume', 'runtime', problem, { offered });
      const at = now();
      const previous = approval.status;
      // The conditional update is the single-use guarantee: of any number of racing resumers,
      // exactly one moves the approval from its decided state to consumed.
      const [row] = await db
        .update(approvals)
        .set({ status: 'consumed', consumedAt: at })
        .where(
          and(
            eq(approvals.id, approvalId),
            eq(approvals.status, previous),
            eq(approvals.runId, binding.runId),
            eq(approvals.step, binding.step),
            eq(approvals.argsHash, binding.argsHash),
            eq(approvals.policyHash, binding.policyHash),
          ),
        )
        .returning();
      if (!row) {
        const current = await find(approvalId);
        const error = current
          ? (bindingProblem(current, binding) ?? notPending(current))
          : new UserError(ErrorCode.ApprovalInvalid, `Approval '${approvalId}' does not exist.`);
        return refuse(approval, 'consume', 'runtime', toApprovalInvalid(error), { offered });
      }
      const outcome = (row.outcome as ApprovalOutcome | null) ?? 'rejected';
      const deciders = approval.votes.filter((vote) => (outcome === 'approved' ? vote.vote === 'approve' : vote.vote === 'reject'));
      await recordOrUndo(
        approval.runId,
        'approval.consumed',
        'runtime',
        {
          approval_id: approvalId,
          step: approval.step,
          args_hash: binding.argsHash,
          policy_hash: binding.policyHash,
          outcome,
          decided_as: previous,
        },
        () =>
          db
            .update(approvals)
            .set({ status: previous, consumedAt: null })
            .where(and(eq(approvals.id, approvalId), eq(approvals.status, 'consumed'), eq(approvals.consumedAt, at))),
      );
      const comments = deciders.filter((vote) => vote.comment).map((vote) => `${vote.approver}: ${vote.comment}`);
      return {
        outcome,
        approvers: deciders.map((vote) => vote.approver),
        ...(comments.length > 0 ? { comment: comments.join('; ') } : {}),
        approval: masked(toApproval(row, approval.votes.map(toVoteRow(approvalId)))),
      };
    },

    expireDue() {
      return expire();
    },
  };
}

function toApproval(row: ApprovalRow, votes: VoteRow[]): Approval {
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

function toVoteRow(approvalId: string) {
  return (vote: ApprovalVote): VoteRow => ({
    approvalId,
    approver: vote.approver,
    roles: vote.roles,
    vote: vote.vote,
    comment: vote.comment ?? null,
    ts: vote.at,
  });
}

function rowSummary(row: ApprovalRow): Pick<Approval, 'id' | 'runId' | 'step'> {
  return { id: row.id, runId: row.runId, step: row.step };
}

/** Why `approver` may not cast `vote` on `approval` (separation of duties, roles), or undefined when they may. */
export function voteIneligibility(
  approval: Pick<Approval, 'id' | 'runId' | 'requestedBy' | 'requirement'>,
  approver: { id: string; roles: readonly string[] },
  vote: Ballot['vote'] = 'approve',
): UserError | undefined {
  return checkEligibility(approval, approval.requirement, approver.id, [...approver.roles], vote);
}

/** Why a principal may not cast this vote, or undefined when they may. */
function checkEligibility(
  row: Pick<ApprovalRow, 'id' | 'runId' | 'requestedBy'>,
  requirement: ApprovalRequirement,
  approver: string,
  roles: string[],
  vote: Ballot['vote'],
): UserError | undefined {
  const isRequester = approver === row.requestedBy;
  // Withdrawing one's own request is always allowed: a rejection never widens what the agent may do.
  if (vote === 'reject' && isRequester) return undefined;
  if (vote === 'approve' && isRequester && requirement.separation_of_duties) {
    return new UserError(
      ErrorCode.Forbidden,
      `${approver} started run '${row.runId}' and cannot approve its actions (separation of duties); ask another approver.`,
    );
  }
  if (requirement.roles.length > 0 && !roles.some((role) => requirement.roles.includes(role))) {
    const held = roles.length > 0 ? `holds ${roles.join(', ')}` : 'holds no role';
    return new UserError(
      ErrorCode.Forbidden,
      `${approver} ${held} and cannot vote on approval '${row.id}'; it needs one of: ${requirement.roles.join(', ')}.`,
    );
  }
  return undefined;
}

function notPending(row: Pick<ApprovalRow, 'id' | 'status' | 'outcome'>): UserError {
  if (row.status === 'consumed')
    return new UserError(
      ErrorCode.ApprovalInvalid,
      `Approval '${row.id}' was already used (${row.outcome ?? 'decided'}); an approval works once.`,
    );
  if (row.status === 'expired')
    return new UserError(
      ErrorCode.Conflict,
      `Approval '${row.id}' expired (resolved as ${row.outcome ?? 'rejected'}); it can no longer be voted on.`,
    );
  if (row.status === 'pending')
    return new UserError(ErrorCode.ApprovalInvalid, `Approval '${row.id}' is still pending; it cannot be used before it is decided.`);
  return new UserError(ErrorCode.Conflict, `Approval '${row.id}' is already ${row.status}; it can no longer be voted on.`);
}

/** The first way a binding differs from what was approved, or why the approval cannot be used now. */
function bindingProblem(approval: Approval, binding: ApprovalBinding): UserError | undefined {
  const mismatches: string[] = [];
  if (approval.runId !== binding.runId) mismatches.push(`run '${binding.runId}' (approved for '${approval.runId}')`);
  if (approval.step !== binding.step) mismatches.push(`step ${binding.step} (approved for step ${approval.step})`);
  if (approval.argsHash !== binding.argsHash)
    mismatches.push(`arguments hashing to ${binding.argsHash.slice(0, 12)}… (approved ${approval.argsHash.slice(0, 12)}…)`);
  if (approval.policyHash !== binding.policyHash)
    mismatches.push(`policy ${binding.policyHash.slice(0, 12)}… (approved under ${approval.policyHash.slice(0, 12)}…)`);
  if (mismatches.length > 0) {
    return new UserError(
      ErrorCode.ApprovalInvalid,
      `Approval '${approval.id}' is bound to another call: this one has ${mismatches.join(', ')}.`,
      {
        details: { mismatches },
      },
    );
  }
  if (approval.status === 'pending' || approval.status === 'consumed') return toApprovalInvalid(notPending(approval));
  return undefined;
}

function toApprovalInvalid(error: UserError): UserError {
  return error.code === ErrorCode.ApprovalInvalid
    ? error
    : new UserError(ErrorCode.ApprovalInvalid, error.message, { ...(error.details ? { details: error.details } : {}) });
}

function validateRequest(request: ApprovalRequest): void {
  const problems: string[] = [];
  if (!isText(request?.runId)) problems.push('runId must be a non-empty string');
  if (!Number.isInteger(request?.step) || request.step < 0) problems.push('step must be a whole number of at least 0');
  if (!request?.action || !isText(request.action.kind) || !isText(request.action.name)) problems.push('action needs a kind and a name');
  if (!isText(request?.policyHash)) problems.push('policyHash must be a non-empty string');
  if (!isText(request?.requestedBy)) problems.push("requestedBy must name the run's principal");
  if (problems.length > 0) throw new UserError(ErrorCode.InputInvalid, `Approval request is invalid: ${problems.join('; ')}.`);
}

function validateBallot(ballot: Ballot): void {
  if (!ballot?.approver || !isText(ballot.approver.id))
    throw new UserError(ErrorCode.InputInvalid, "A vote needs the approver's identity (approver.id).");
  if (!Array.isArray(ballot.approver.roles) || ballot.approver.roles.some((role) => !isText(role))) {
    throw new UserError(ErrorCode.InputInvalid, 'approver.roles must be a list of role names.');
  }
  if (ballot.vote !== 'approve' && ballot.vote !== 'reject')
    throw new UserError(ErrorCode.InputInvalid, `Vote '${String(ballot.vote)}' is invalid; use approve or reject.`);
  if (ballot.comment !== undefined && typeof ballot.comment !== 'string')
    throw new UserError(ErrorCode.InputInvalid, 'A vote comment must be text.');
}

function validateBinding(binding: ApprovalBinding): void {
  if (!binding || !isText(binding.runId) || !Number.isInteger(binding.step) || !isText(binding.argsHash) || !isText(binding.policyHash)) {
    throw new UserError(ErrorCode.ApprovalInvalid, 'An approval is used with its binding: runId, step, argsHash and policyHash.');
  }
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}
