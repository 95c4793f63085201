// The runtime: starts governed runs of agents, parks them when an action needs approval, and
// resumes them — in this process or another one — once the approval is granted or rejected.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AsyncLocalStorageProviderSingleton } from '@langchain/core/singletons';
import { Command, RunControl, isGraphDrained, type BaseCheckpointSaver } from '@langchain/langgraph';
import { compilePolicies, loadPolicyFiles, type PolicySet } from '@aifactory/control';
import { AiFactoryError, ErrorCode, SystemError, UserError, contentHash, type Principal } from '@aifactory/core';
import { errorText, isConnectionLoss, storeUnavailable, type Store } from '@aifactory/store';
import { findApprovalToApply, findLastEvent, findRun, findRunLease, type RunRecord } from '@aifactory/verification/internal';
import { rememberArtifacts, rememberPolicies } from '../agents/definition-rows.ts';
import { findApprovalRecord, findApprovalVoteRecords } from '../approvals/approval-rows.ts';
import type { AgentDefinition } from '../agents/index.ts';
import type { ModelGateway, ModelRegistry, ModelResponse } from '../models/index.ts';
import { notifyObligation, type RuntimeNotifier } from '../governance/notify-obligation.ts';
import { ToolHost } from '../tools/index.ts';
import { createAgentGraph } from '../graph/agent-graph.ts';
import { policySetHash, type AgentStateValue, type ApprovalResume, type ChildOutcome, type HeldAction } from '../graph/agent-state.ts';
import type { AgentGraphDependencies } from '../graph/graph-context.ts';
import { requestHash } from '../graph/request-hash.ts';
import { GovernanceGate, type EventDraft, type GateApprovalRequest } from '../governance/gate.ts';
import type { RunEvent, RunEventListener } from '../graph/run-events.ts';
import { RunOwnership, notOwnedError } from './run-ownership.ts';
import {
  callKey,
  confirmedToolOutcome,
  isIdempotent,
  readRecoveryLedger,
  recordedToolOutcome,
  type InDoubtAction,
  type InDoubtDecision,
  type InDoubtResolution,
  type InDoubtSettlement,
  type RecoveryLedger,
} from './run-recovery.ts';
import type { StoreCheckpointSaver } from '../checkpoint/store-checkpoint-saver.ts';
import type { KnowledgeAccess } from '../toolbox/knowledge-search.ts';
import { createToolbox } from '../toolbox/toolbox.ts';

/** How the runtime's writes to a run are fenced: by the lease epoch of the process that owns the run. */
export interface RuntimeAppendOptions {
  fence?: { epoch: number };
  /** Append right after this seq or not at all (CONFLICT): a writer without the lease whose events follow from what it read. */
  after?: number;
}

/** The verification plane, as the runtime uses it. */
export interface RuntimeRecorder {
  startRun(
    run: {
      id?: string;
      agent: string;
      team?: string;
      principal: string;
      input?: unknown;
      metadata?: Record<string, unknown>;
      replayOf?: string;
      parentRunId?: string;
    },
    options?: {
      lease?: { owner: string; ttlMs: number };
      /** Rows committed with the start (the job that drives it): one statement per text for a whole batch of starts, reading them as $1::json. */
      commitWith?: readonly { text: string; row: unknown }[];
    },
  ): Promise<unknown>;
  recordBatch(runId: string, events: EventDraft[], options?: RuntimeAppendOptions): Promise<unknown>;
  setStatus(runId: string, status: 'running' | 'held', options?: RuntimeAppendOptions): Promise<void>;
  finishRun(
    runId: string,
    outcome: { status: 'completed' | 'failed'; payload?: unknown },
    options?: RuntimeAppendOptions,
  ): Promise<unknown>;
  /** Seals a run whose last event already ends it (its owner died between the end and the seal). */
  sealRun(runId: string, options?: RuntimeAppendOptions): Promise<unknown>;
}

/** Approvals, as the runtime uses them. */
export interface RuntimeApprovals {
  request(input: {
    runId: string;
    step: number;
    action: { kind: string; name: string; args: Record<string, unknown> };
    policyHash: string;
    requirement: Record<string, unknown>;
    requestedBy: string;
  }): Promise<{ id: string; expiresAt?: Date | null }>;
  consume(
    approvalId: string,
    binding: { runId: string; step: number; argsHash: string; policyHash: string },
  ): Promise<{ outcome: 'approved' | 'rejected'; approvers: string[]; comment?: string }>;
  /** Reads an approval (who may approve it); used to say who may approve a hand-off's held child. */
  get?(approvalId: string): Promise<{ requirement: unknown }>;
}

/** Everything a runtime is made of. */
export interface AgentRuntimeOptions {
  store: Store;
  recorder: RuntimeRecorder;
  approvals: RuntimeApprovals;
  notify: RuntimeNotifier;
  models: ModelGateway;
  checkpointer: BaseCheckpointSaver;
  /** Resolves an agent by name (hand-offs, resumes); the runtime caches what it loads. */
  loadAgent(reference: string): Promise<AgentDefinition>;
  /** Policies applied to every agent in addition to its own (organisation-wide). */
  basePolicyFiles?: string[];
  /** Knowledge access for agents with collections. */
  knowledge?: (agent: AgentDefinition) => Promise<KnowledgeAccess | undefined>;
  /** Checkpoint durability: 'exit' writes at holds and hand-backs (fast; not at a run's end), 'sync' after every node. */
  durability?: 'exit' | 'sync' | 'async';
  /** The leases of the runs this process drives (default: a lease of AIFACTORY_LEASE_MS or 30 s). */
  ownership?: RunOwnership;
  clock?: () => Date;
  /** The model registry (`models/*.yaml`): policies read a model call's entry as CEL `model`. */
  modelRegistry?: Pick<ModelRegistry, 'entry'>;
}

/** The graph's view of an agent definition: identity, model, prompt and its own limits. Replay builds the same. */
export function graphAgentSpec(definition: AgentDefinition): AgentGraphDependencies['agent'] {
  const limits = definition.limits;
  return {
    id: definition.name,
    ...(definition.team ? { team: definition.team } : {}),
    ...(definition.tags ? { tags: definition.tags } : {}),
    model: definition.model.id,
    ...(definition.model.fallback ? { fallback: definition.model.fallback } : {}),
    ...(definition.model.parameters ? { parameters: definition.model.parameters } : {}),
    systemPrompt: definition.systemPrompt,
    limits: {
      ...(limits.max_steps !== undefined ? { max_steps: limits.max_steps } : {}),
      ...(limits.max_tool_calls !== undefined ? { max_tool_calls: limits.max_tool_calls } : {}),
      ...(limits.max_tokens !== undefined ? { max_tokens: limits.max_tokens } : {}),
      ...(limits.max_cost_usd !== undefined ? { max_cost_usd: limits.max_cost_usd } : {}),
      ...(definition.maxDurationMs !== undefined ? { max_duration_ms: definition.maxDurationMs } : {}),
      ...(limits.on_exceeded ? { on_exceeded: limits.on_exceeded } : {}),
    },
  };
}

/** Who starts or resumes a run. */
/** A caller's W3C trace context a run is started in (the trace id, and the caller's span the run hangs under). */
export interface CallerTrace {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
}

/** How a run call ended. */
export type RunResult =
  | { runId: string; status: 'completed'; answer: string }
  | { runId: string; status: 'held'; held: HeldAction }
  | { runId: string; status: 'failed'; error: string };

/** What became of a run this process tried to recover. */
export type RecoveryResult =
  | { runId: string; outcome: 'continued'; result: RunResult }
  /** Held until a human settles actions a crash left in doubt (reason outcome_unknown). */
  | { runId: string; outcome: 'held'; reason: 'outcome_unknown'; actions: InDoubtAction[] }
  /** Another process owns it, or it is no longer running. */
  | { runId: string; outcome: 'skipped'; reason: string }
  /** A session another program drove (MCP proxy, LLM gateway, LangChain middleware) whose process died: ended as failed, its actions in doubt listed. */
  | { runId: string; outcome: 'closed'; reason: string; inDoubt: InDoubtAction[] };

/**
 * Whether a run records a session another program drove through us — the MCP proxy's and the
 * LangChain middleware's GovernedSession (metadata.governed = external), the LLM gateway's session
 * runs — rather than one of our agents: recovery ends such a run, never continues it.
 */
export function isExternalSession(row: { metadata: unknown }): boolean {
  const metadata = (row.metadata ?? {}) as Record<string, unknown>;
  return metadata['governed'] === 'external' || metadata['session'] === 'gateway';
}

/** The error a run driven here gets when a graceful shutdown stopped it at a checkpoint and handed it back. */
export function handedBackError(runId: string): UserError {
  return new UserError(
    ErrorCode.Conflict,
    `Run '${runId}' was handed back at a checkpoint (this process is shutting down); a live process goes on with it.`,
    { details: { runId, handedBack: true } },
  );
}

/** Why a drive was skipped when another process holds the run's lease. */
const anotherOwner = 'another process owns it';

/** How deep hand-offs may nest while runs wait on each other. */
const maxHandoffDepth = 20;

/** A run held for an approval, as resume() finds it. */
interface HeldRun {
  runId: string;
  row: RunRecord;
  session: AgentSession;
  held: HeldAction;
}

/** An agent's definition and the policies it runs under: what a run's start records, without its tool servers. */
interface AgentPlan {
  definition: AgentDefinition;
  /** Settles once the definition, prompt and policies are stored (see #remember). */
  remembered?: Promise<void>;
  policySet: PolicySet;
}

interface AgentSession {
  definition: AgentDefinition;
  policySet: PolicySet;
  gate: GovernanceGate;
  graph: ReturnType<typeof createAgentGraph>;
  host?: ToolHost;
}

/** Runs governed agents. One instance per process; close() disconnects MCP servers. */
export class AgentRuntime {
  readonly #options: AgentRuntimeOptions;
  readonly #sessions = new Map<string, Promise<AgentSession>>();
  readonly #plans = new Map<string, Promise<AgentPlan>>();
  /** The drain switch of each run driven here: a graceful shutdown stops it at its next checkpoint. */
  readonly #controls = new Map<string, RunControl>();
  #draining = false;
  readonly #listeners = new Map<string, RunEventListener>();
  readonly #ownership: RunOwnership;
  /** What the trace says about runs being recovered here (recorded outcomes and model responses to serve back). */
  readonly #ledgers = new Map<string, RecoveryLedger>();
  /** Runs being driven here right now, for a graceful hand-back. */
  readonly #driving = new Map<string, Promise<unknown>>();
  /** The recorder as the governance gate uses it: every append fenced by this process's lease of the run. */
  readonly #fenced: { recordBatch(runId: string, events: EventDraft[]): Promise<unknown> };

  constructor(options: AgentRuntimeOptions) {
    this.#options = options;
    this.#ownership = options.ownership ?? new RunOwnership({ store: options.store });
    this.#fenced = {
      recordBatch: (runId, events) => {
        // Only the run's owner records its steps: a process that let the run go (the store went
        // away, its lease was taken over) must not append unfenced.
        const fence = this.#ownership.fence(runId);
        if (!fence) return Promise.reject(notOwnedError(runId, `record ${events.map((event) => event.type).join(', ')}`));
        return options.recorder.recordBatch(runId, events, { fence });
      },
    };
  }

  /** The leases of the runs this runtime drives. */
  get ownership(): RunOwnership {
    return this.#ownership;
  }

  #fence(runId: string): RuntimeAppendOptions {
    const fence = this.#ownership.fence(runId);
    return fence ? { fence } : {};
  }

  /** Starts a run of `agent` on `input` and drives it until it completes, fails or is held. */
  async start(
    agentReference: string,
    input: string,
    options: {
      principal: Principal;
      runId?: string;
      parentRunId?: string;
      onEvent?: RunEventListener;
      /** Product feature the run's cost is attributed to (default the agent's). */ feature?: string;
      /** The caller's trace the run joins (an HTTP request's traceparent), recorded in its metadata. */ trace?: CallerTrace;
    },
  ): Promise<RunResult> {
    const session = await this.#session(agentReference);
    const definition = session.definition;
    const runId = options.runId ?? `run_${randomUUID()}`;
    const feature = options.feature ?? definition.feature;
    const startedAt = this.#now();
    const plan = await this.#plan(agentReference);
    await this.#remember(plan);
    const leaseAskedAt = this.#ownership.stamp();
    await this.#options.recorder.startRun(
      this.#startRecord(plan, runId, input, options.principal, feature, options.parentRunId, options.trace),
      { lease: { owner: this.#ownership.owner, ttlMs: this.#ownership.ttlMs } },
    );
    this.#ownership.adopt(runId, 1, leaseAskedAt);
    // The run row is new, so its thread has no checkpoint: the graph's first read of it needs no query.
    (this.#options.checkpointer as Partial<Pick<StoreCheckpointSaver, 'threadStarted'>>).threadStarted?.(runId);
    if (options.onEvent) this.#listeners.set(runId, options.onEvent);
    this.#emit({ type: 'run.started', runId, agent: definition.name, principal: options.principal.id });
    const initial: Partial<AgentStateValue> = {
      runId,
      principal: options.principal,
      startedAtMs: startedAt.getTime(),
      messages: [{ role: 'user', content: input }],
    };
    return this.#drive(session, runId, initial);
  }

  /**
   * Records a run of `agent` on `input` as started — its row, `run.started` and its metadata — without
   * driving it and without taking its lease: a worker drives it (drive()), or, should none pick it up,
   * any process recovering orphaned runs does. Nothing of the agent runs here (its tool servers are
   * not even started), so an API server can accept runs that workers execute.
   */
  async open(
    agentReference: string,
    input: string,
    options: {
      principal: Principal;
      runId?: string;
      feature?: string;
      trace?: CallerTrace;
      /** What commits with the start: the queue's job that drives the run (given the run id), so a start is never recorded without it. */
      commitWith?: (runId: string) => readonly { text: string; row: unknown }[];
    },
  ): Promise<{ runId: string; agent: string }> {
    const plan = await this.#plan(agentReference);
    const definition = plan.definition;
    const runId = options.runId ?? `run_${randomUUID()}`;
    await this.#remember(plan);
    await this.#options.recorder.startRun(
      this.#startRecord(plan, runId, input, options.principal, options.feature ?? definition.feature, undefined, options.trace),
      options.commitWith ? { commitWith: options.commitWith(runId) } : undefined,
    );
    return { runId, agent: definition.name };
  }

  /** What the recorder stores of a run's start. */
  #startRecord(
    plan: AgentPlan,
    runId: string,
    input: string,
    principal: Principal,
    feature: string | undefined,
    parentRunId?: string,
    trace?: CallerTrace,
  ): Parameters<RuntimeRecorder['startRun']>[0] {
    const definition = plan.definition;
    return {
      id: runId,
      agent: definition.name,
      ...(definition.team ? { team: definition.team } : {}),
      principal: principal.id,
      input: { text: input },
      ...(parentRunId ? { parentRunId } : {}),
      metadata: {
        agent_file: definition.file,
        definition_hash: definition.definitionHash,
        prompt_hash: definition.promptHash,
        ...(definition.prompt
          ? {
              prompt: {
                name: definition.prompt.name,
                version: definition.prompt.version,
                ...(definition.prompt.label ? { label: definition.prompt.label } : {}),
                content_hash: definition.prompt.contentHash,
              },
            }
          : {}),
        model: definition.model.id,
        // What replay needs to run the agent as it ran when a setting came from outside its file (an evaluation variant).
        ...(definition.knowledge.some((entry) => entry.topK !== undefined)
          ? {
              top_k: Object.fromEntries(
                definition.knowledge.flatMap((entry) => (entry.topK === undefined ? [] : [[entry.collection, entry.topK]])),
              ),
            }
          : {}),
        ...(feature ? { feature } : {}),
        principal_roles: principal.roles,
        policies: plan.policySet.policies.map((policy) => ({ name: policy.name, version: policy.version, hash: policy.hash })),
        policy_set_hash: policySetHash(plan.policySet),
        // The caller's trace (W3C ids), so live spans in every process and `runs export` put the run there.
        ...(trace ? { trace: { trace_id: trace.traceId, parent_span_id: trace.spanId } } : {}),
      },
    };
  }

  /**
   * Drives a run on for a job of the queue, whatever brought it there: a run opened by a server
   * (its first drive), a run whose owner died (recovery), a held run whose approval was decided
   * but not applied (resume), or one whose approval was consumed by a process that died before the
   * run went on. Taking the run's lease arbitrates, so a job delivered twice, or a job racing a
   * process that resumes the run itself, drives the run once; the other gets `skipped`.
   */
  async drive(runId: string, options: { approvalId?: string; onEvent?: RunEventListener } = {}): Promise<RecoveryResult> {
    // Shutting down: the job goes back to the queue for a live worker.
    if (this.#draining) throw handedBackError(runId);
    // A second job for a run this very process drives (a duplicate delivery, this process's own
    // supervisor finding the lease lapsed while the process was starved): one driver per run.
    if (this.#drivesHere(runId)) return { runId, outcome: 'skipped', reason: 'this process drives it already' };
    const row = await findRun(this.#options.store, runId);
    if (!row) return { runId, outcome: 'skipped', reason: 'it does not exist' };
    if (row.status === 'running') return this.recover(runId, options);
    if (row.status !== 'held') return { runId, outcome: 'skipped', reason: `it is ${row.status}` };
    // A held request of the gateway or the proxy goes on when its caller asks again with the approval.
    if (isExternalSession(row)) return { runId, outcome: 'skipped', reason: 'its caller sends the held action again once it is decided' };
    // Held with actions in doubt: it goes on only once a human's decision is recorded (applied here).
    const ledger = await readRecoveryLedger(this.#options.store, runId);
    if (ledger.lastHold?.inDoubt) return this.#applyDecision(row, ledger, options.onEvent);
    const held = await this.#heldRun(runId).catch(() => undefined);
    if (!held) return { runId, outcome: 'skipped', reason: 'it is held, but not for an approval' };
    let waitingOn = held;
    for (let depth = 0; waitingOn.held.child && depth < maxHandoffDepth; depth += 1) {
      const child = await this.#heldRun(waitingOn.held.child.runId).catch(() => undefined);
      if (!child) break;
      waitingOn = child;
    }
    const approval = await findApprovalRecord(this.#options.store, waitingOn.held.approvalId);
    if (!approval || approval.status === 'pending') return { runId, outcome: 'skipped', reason: 'it waits for its approval' };
    if (approval.status === 'consumed') return this.recover(waitingOn.runId, { ...options, appliedApproval: true });
    try {
      return {
        runId,
        outcome: 'continued',
        result: await this.resume(runId, {
          approvalId: options.approvalId ?? waitingOn.held.approvalId,
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        }),
      };
    } catch (error) {
      // Another process applied it first (the approval is single-use) or drives the run now.
      if (error instanceof UserError && (error.code === ErrorCode.ApprovalInvalid || error.code === ErrorCode.Conflict))
        return { runId, outcome: 'skipped', reason: error.message };
      throw error;
    }
  }

  /**
   * Resumes a held run with its approval. The approval is consumed here — bound to the run, the
   * step, the hash of the held arguments and the policy set now in force — so it works once.
   *
   * Hand-offs nest: a run waiting on a held child run is resumed through that child (the approval
   * is the child's), and a child that ends lets every run waiting on it go on with its outcome, so
   * resuming either the child or the run above it with the child's approval continues both.
   */
  async resume(runId: string, options: { approvalId: string; onEvent?: RunEventListener }): Promise<RunResult> {
    const asked = await this.#heldRun(runId);
    let target = asked;
    for (let depth = 0; target.held.child; depth += 1) {
      if (depth >= maxHandoffDepth)
        throw new SystemError(
          ErrorCode.Internal,
          `Run '${runId}' waits on hand-offs nested deeper than ${maxHandoffDepth} runs; refusing to follow them.`,
        );
      target = await this.#heldRun(target.held.child.runId);
    }
    let below = { run: target, result: await this.#resumeHeld(target, options) };
    let askedResult = target === asked ? below.result : undefined;
    // A child run that ended lets the run waiting on it go on with its outcome, innermost first.
    while (below.result.status !== 'held' && below.run.row.parentRunId) {
      const parent = await this.#heldRun(below.run.row.parentRunId).catch(() => undefined);
      if (parent?.held.child?.runId !== below.run.runId) break;
      below = { run: parent, result: await this.#continueAfterChild(parent, below.result, options.onEvent) };
      if (parent.runId === runId) askedResult = below.result;
    }
    if (askedResult) return askedResult;
    // The run asked for still waits, on a run below it that is held again: now for that run's approval.
    const last = below.result;
    if (last.status !== 'held')
      throw new SystemError(ErrorCode.Internal, `Run '${last.runId}' ended, but run '${runId}' above it did not go on.`);
    return { runId, status: 'held', held: { ...asked.held, approvalId: last.held.approvalId } };
  }

  /**
   * Ends a session another program drove through us, whose process died: no agent of ours can go on
   * with it (the program that proposed its actions is gone), so trying to recover it would fail on
   * every look, forever. It is ended as failed, once, under a taken-over lease, and the actions it
   * left in doubt (intent recorded, outcome not) are named in run.failed for a human to check.
   */
  async #closeExternal(runId: string, agent: string): Promise<RecoveryResult> {
    const epoch = await this.#ownership.takeOver(runId, 'recovering');
    if (epoch === undefined) return { runId, outcome: 'skipped', reason: 'another process owns it' };
    try {
      const row = await findRun(this.#options.store, runId);
      if (row?.status !== 'running') {
        await this.#ownership.release(runId);
        return { runId, outcome: 'skipped', reason: row ? `it is ${row.status}` : 'it does not exist' };
      }
      const { inDoubt } = await readRecoveryLedger(this.#options.store, runId);
      const reason = `the process that governed this ${agent} session ended without closing it, and a session another program drove cannot be continued here`;
      await this.#options.recorder.finishRun(
        runId,
        {
          status: 'failed',
          payload: {
            error: `Closed by recovery: ${reason}.`,
            ...(inDoubt.length > 0
              ? {
                  in_doubt: inDoubt.map((action) => ({
                    step: action.step,
                    kind: action.kind,
                    name: action.name,
                    ...(action.callId ? { call_id: action.callId } : {}),
                    intent_seq: action.seq,
                  })),
                }
              : {}),
          },
        },
        this.#fence(runId),
      );
      this.#ownership.forget(runId);
      return { runId, outcome: 'closed', reason, inDoubt };
    } catch (error) {
      if (this.#ownership.owns(runId)) await this.#ownership.release(runId).catch(() => undefined);
      throw error;
    }
  }

  /** A held run: its row, its agent's session and the action it waits on. */
  async #heldRun(runId: string): Promise<HeldRun> {
    const row = await findRun(this.#options.store, runId);
    if (!row) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist.`);
    // An ended run waits for nothing, whatever its last checkpoint says: a run's end is not
    // checkpointed, so a run that was held and then completed still has its hold's checkpoint.
    if (row.status === 'completed' || row.status === 'failed')
      throw new UserError(ErrorCode.Conflict, `Run '${runId}' is not waiting for an approval (status ${row.status}).`);
    const metadata = row.metadata as { agent_file?: string };
    const session = await this.#session(metadata.agent_file ?? row.agent);
    const snapshot = await session.graph.getState({ configurable: { thread_id: runId } });
    const held = (snapshot.values as AgentStateValue).held;
    if (!held || snapshot.next.length === 0)
      throw new UserError(ErrorCode.Conflict, `Run '${runId}' is not waiting for an approval (status ${row.status}).`);
    return { runId, row, session, held };
  }

  /** Consumes the approval the run is held for and drives the run on. */
  async #resumeHeld(run: HeldRun, options: { approvalId: string; onEvent?: RunEventListener }): Promise<RunResult> {
    const { runId, session, held } = run;
    if (held.approvalId !== options.approvalId) {
      throw new UserError(
        ErrorCode.ApprovalInvalid,
        `Run '${runId}' is waiting for approval '${held.approvalId}', not '${options.approvalId}'.`,
      );
    }
    await this.#own(runId);
    let consumed: Awaited<ReturnType<RuntimeApprovals['consume']>>;
    try {
      consumed = await this.#options.approvals.consume(options.approvalId, {
        runId,
        step: held.step,
        argsHash: contentHash(held.args),
        policyHash: policySetHash(session.policySet),
      });
    } catch (error) {
      await this.#ownership.release(runId).catch(() => undefined);
      throw error;
    }
    if (options.onEvent) this.#listeners.set(runId, options.onEvent);
    await this.#options.recorder.setStatus(runId, 'running', this.#fence(runId));
    await session.gate.commit(runId, [
      { type: 'run.resumed', actor: 'runtime', payload: { approval_id: options.approvalId, step: held.step, outcome: consumed.outcome } },
    ]);
    const resume: ApprovalResume = {
      approvalId: options.approvalId,
      outcome: consumed.outcome,
      by: consumed.approvers,
      ...(consumed.comment ? { comment: consumed.comment } : {}),
    };
    return this.#drive(session, runId, new Command({ resume }));
  }

  /** Drives a run that waited on a hand-off on, with the child run's outcome as the hand-off's result. */
  async #continueAfterChild(run: HeldRun, child: RunResult, onEvent: RunEventListener | undefined): Promise<RunResult> {
    if (child.status === 'held')
      throw new SystemError(ErrorCode.Internal, `Run '${child.runId}' is still held; run '${run.runId}' cannot go on yet.`);
    const outcome: ChildOutcome =
      child.status === 'completed'
        ? { runId: child.runId, status: 'completed', answer: child.answer }
        : { runId: child.runId, status: 'failed', error: child.error };
    await this.#own(run.runId);
    if (onEvent) this.#listeners.set(run.runId, onEvent);
    await this.#options.recorder.setStatus(run.runId, 'running', this.#fence(run.runId));
    await run.session.gate.commit(run.runId, [
      { type: 'run.resumed', actor: 'runtime', payload: { step: run.held.step, child_run: child.runId, child_status: child.status } },
    ]);
    const resume: ApprovalResume = { approvalId: run.held.approvalId, outcome: 'approved', by: [], child: outcome };
    return this.#drive(run.session, run.runId, new Command({ resume }));
  }

  /**
   * Takes the lease of a held run this process is about to drive on. The holder released it when
   * the run parked; a short wait covers a holder still finishing its hold.
   */
  async #own(runId: string): Promise<void> {
    // Another path of this very process holds the lease (a second resume with the same approval
    // while the first drives the run on): the lease is that path's to use and to hand back — taking
    // part in it would drive the run twice here, and handing it back on a refusal would let this
    // process's own supervisor recover the run while it is still being driven.
    if (this.#drivesHere(runId))
      throw new UserError(
        ErrorCode.Conflict,
        `Run '${runId}' is being driven on by this process right now; it needs nothing more until it is held again or has ended.`,
        { details: { runId } },
      );
    for (let attempt = 0; attempt < 20; attempt += 1) {
      if ((await this.#ownership.takeOver(runId)) !== undefined) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new UserError(
      ErrorCode.Conflict,
      `Run '${runId}' is driven by another process right now; try again once it is held or has ended.`,
      { details: { runId } },
    );
  }

  /**
   * Recovers a running run whose owner died (its lease lapsed or was handed back): takes the lease
   * over, reads the trace, and goes on from the run's last checkpoint — serving back every
   * recorded tool outcome and model response instead of calling again. An action whose outcome a
   * crash left unknown is retried only when its tool is declared idempotent; otherwise the run is
   * held with reason outcome_unknown for a human (resolveInDoubt).
   */
  async recover(
    runId: string,
    options: {
      onEvent?: RunEventListener;
      /** The run is held, but its approval was consumed by a process that died before it went on. */ appliedApproval?: boolean;
    } = {},
  ): Promise<RecoveryResult> {
    if (this.#drivesHere(runId)) return { runId, outcome: 'skipped', reason: 'this process drives it already' };
    const lease = await findRunLease(this.#options.store, runId);
    // A run opened for a worker never had a lease: its first owner drives it, nothing is recovered.
    const firstDrive = lease === undefined;
    // The agent's session (its tool servers started, its policies compiled) is opened before the
    // lease is taken: a cold process may take seconds to start them, and a lease held meanwhile
    // would lapse for nothing.
    const before = await findRun(this.#options.store, runId);
    if (!before) return { runId, outcome: 'skipped', reason: 'it does not exist' };
    if (before.status !== 'running' && before.status !== 'held') return { runId, outcome: 'skipped', reason: `it is ${before.status}` };
    if (isExternalSession(before)) return this.#closeExternal(runId, before.agent);
    // A held run goes on here only with an approval a process that died consumed (drive() says so):
    // taking its lease to find nothing to do would leave it behind, should this process die meanwhile.
    if (before.status === 'held' && options.appliedApproval !== true) return { runId, outcome: 'skipped', reason: 'it is held' };
    const opened = await this.#session((before.metadata as { agent_file?: string }).agent_file ?? before.agent);
    const epoch = await this.#ownership.takeOver(runId, firstDrive ? 'driving' : 'recovering');
    if (epoch === undefined) return { runId, outcome: 'skipped', reason: 'another process owns it' };
    // Whatever this process buffered for the run while it drove it before is not in the trace the
    // recovery goes by, and is never written now (see GovernanceGate.discard).
    opened.gate.discard(runId);
    try {
      const row = await findRun(this.#options.store, runId);
      // A held run goes on here only with an approval a resumer consumed and died before the run
      // went on (anywhere before the run read running again): by the facts findApprovalToApply
      // reads, the rule the supervisors' findStalledHeldRuns scan finds it by, never by its last
      // event (packages/verification/src/run-lease.ts, heldOnDecidedApprovalSql).
      const applying =
        options.appliedApproval === true && row?.status === 'held' ? await findApprovalToApply(this.#options.store, runId) : undefined;
      const resumable = row?.status === 'running' || applying?.approvalStatus === 'consumed';
      if (!row || !resumable) {
        await this.#ownership.release(runId);
        return { runId, outcome: 'skipped', reason: row ? `it is ${row.status}` : 'it does not exist' };
      }
      const last = await findLastEvent(this.#options.store, runId);
      // Its owner recorded the run's end and died before sealing it (two commits): nothing is left to
      // drive, and nothing may be appended after its end, so the end is sealed here (which also
      // sets the run's status and hands the lease back).
      if (last?.type === 'run.completed' || last?.type === 'run.failed') return await this.#sealEnded(runId, last.type);
      if (applying && !applying.consumptionRecorded) await this.#recordConsumption(runId);
      // Running again before anything else is recorded: run.resumed (#goOn) comes after this, so a
      // held run never carries a resume of its approval (the rule would no longer find it).
      if (row.status === 'held') await this.#options.recorder.setStatus(runId, 'running', this.#fence(runId));
      const session = await this.#session((row.metadata as { agent_file?: string }).agent_file ?? row.agent);
      const ledger = await readRecoveryLedger(this.#options.store, runId);
      const unknown = ledger.inDoubt.filter((action) => !isIdempotent(session.definition, action));
      if (unknown.length > 0) {
        await session.gate.commit(
          runId,
          unknown.map((action) => ({
            type: 'run.held',
            actor: 'runtime',
            payload: {
              step: action.step,
              reason: 'outcome_unknown',
              kind: action.kind,
              name: action.name,
              ...(action.callId ? { call_id: action.callId } : {}),
              intent_seq: action.seq,
            },
          })),
        );
        // Held, and its lease handed back in the same commit: a held run has no driver.
        await this.#options.recorder.setStatus(runId, 'held', this.#fence(runId));
        this.#ownership.forget(runId);
        return { runId, outcome: 'held', reason: 'outcome_unknown', actions: unknown };
      }
      if (!firstDrive) {
        const previousOwner = lease && lease.epoch < epoch ? lease.owner : null;
        const retried = ledger.inDoubt.map((action) => ({
          step: action.step,
          name: action.name,
          ...(action.callId ? { call_id: action.callId } : {}),
        }));
        await session.gate.commit(runId, [
          {
            type: 'run.recovered',
            actor: 'runtime',
            payload: { epoch, owner: this.#ownership.owner, previous_owner: previousOwner, retried },
          },
        ]);
        await this.#ownership.driving(runId);
      }
      return { runId, outcome: 'continued', result: await this.#goOn(session, runId, row, ledger, options.onEvent) };
    } catch (error) {
      if (this.#ownership.owns(runId) && !(error instanceof AiFactoryError && error.code === ErrorCode.LeaseLost)) {
        // Could not go on here (the store went away, the agent cannot load): let another try.
        this.#ownership.forget(runId);
      }
      throw error;
    }
  }

  /**
   * Settles the actions a crash left in doubt in a run held with reason outcome_unknown: they
   * happened (`confirmed`, optionally with what they returned), run them again (`retried`), or
   * fail the run (`failed`). The decision is recorded first, without the run's lease
   * (settleInDoubt), then applied here (drive()). Should another process hold the run's lease
   * right now (a recoverer, or one that died holding it), the decision waits, recorded, until that
   * lease is handed back or lapses, then is applied here — or by any process's supervisor, which
   * finds held runs with a decision not yet applied. Resolves `running` when it was applied
   * elsewhere, or not within twice the lease.
   */
  async resolveInDoubt(runId: string, request: InDoubtSettlement): Promise<RunResult | { runId: string; status: 'running' }> {
    await this.settleInDoubt(runId, request);
    request.onRecorded?.();
    const deadline = Date.now() + 2 * this.#ownership.ttlMs + 1_000;
    for (;;) {
      const applied = await this.drive(runId, request.onEvent ? { onEvent: request.onEvent } : {});
      if (applied.outcome === 'continued') return applied.result;
      if (applied.outcome !== 'skipped' || applied.reason !== anotherOwner || Date.now() > deadline) return { runId, status: 'running' };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Records a human's decision on a run held with reason outcome_unknown (action.resolved for each
   * action in doubt) without taking the run's lease or driving it: like a vote, any process may
   * append it. It is appended right after the trace it was decided on (the (run_id, seq) key
   * arbitrates), so of two decisions made at once one is recorded and the other is refused (nothing
   * left to resolve). Whoever drives the run next applies it (drive(): a queue's job, a supervisor
   * that finds it, or resolveInDoubt). Resolves the seq of the last event recorded.
   */
  async settleInDoubt(runId: string, request: InDoubtDecision): Promise<{ runId: string; seq: number }> {
    for (let attempt = 1; ; attempt += 1) {
      const [, ledger] = await this.#inDoubt(runId, request);
      const events = resolvedEvents(ledger, request);
      try {
        await this.#options.recorder.recordBatch(runId, events, { after: ledger.headSeq });
        return { runId, seq: ledger.headSeq + events.length };
      } catch (error) {
        // Another writer appended meanwhile (an expiry, a refused resume, another human): read again.
        const moved = error instanceof UserError && error.code === ErrorCode.Conflict && error.details?.after !== undefined;
        if (!moved || attempt >= 10) throw error;
      }
    }
  }

  /**
   * Applies a human's decision recorded on a held run's actions in doubt, under the run's lease:
   * `failed` ends the run; otherwise the run goes on from its checkpoint, serving back the calls
   * confirmed and running again those retried. No lease is taken while nothing is decided.
   */
  async #applyDecision(row: RunRecord, found: RecoveryLedger, onEvent: RunEventListener | undefined): Promise<RecoveryResult> {
    const runId = row.id;
    if (found.inDoubt.length > 0 || found.decidedSinceHold.length === 0)
      return { runId, outcome: 'skipped', reason: 'its actions in doubt wait for a human to resolve them' };
    const session = await this.#session((row.metadata as { agent_file?: string }).agent_file ?? row.agent);
    const lease = await findRunLease(this.#options.store, runId);
    const epoch = await this.#ownership.takeOver(runId, 'recovering');
    if (epoch === undefined) return { runId, outcome: 'skipped', reason: anotherOwner };
    session.gate.discard(runId);
    try {
      // Read again under the lease: another process may have applied it just before.
      const current = await findRun(this.#options.store, runId);
      const ledger = await readRecoveryLedger(this.#options.store, runId);
      const decided = ledger.decidedSinceHold;
      if (current?.status !== 'held' || !ledger.lastHold?.inDoubt || ledger.inDoubt.length > 0 || decided.length === 0) {
        await this.#ownership.release(runId);
        return { runId, outcome: 'skipped', reason: current ? `it is ${current.status}, with no decision to apply` : 'it does not exist' };
      }
      if (onEvent) this.#listeners.set(runId, onEvent);
      const failed = decided.find((decision) => decision.resolution === 'failed');
      if (failed) return { runId, outcome: 'continued', result: await this.#failInDoubt(runId, decided, failed) };
      await this.#options.recorder.setStatus(runId, 'running', this.#fence(runId));
      await session.gate.commit(runId, [
        {
          type: 'run.recovered',
          actor: 'runtime',
          payload: {
            epoch,
            owner: this.#ownership.owner,
            previous_owner: lease && lease.epoch < epoch ? lease.owner : null,
            // Retried as idempotent: none (a human's retries are in action.resolved).
            retried: [],
          },
        },
      ]);
      await this.#ownership.driving(runId);
      return { runId, outcome: 'continued', result: await this.#goOn(session, runId, current, ledger, onEvent) };
    } catch (error) {
      if (this.#ownership.owns(runId) && !(error instanceof AiFactoryError && error.code === ErrorCode.LeaseLost)) {
        // Could not apply it here (the store went away): its lease lapses and a supervisor finds it again.
        this.#ownership.forget(runId);
      }
      throw error;
    }
  }

  /** Ends a run whose in-doubt actions a human failed. */
  async #failInDoubt(
    runId: string,
    actions: readonly { name: string; step: number }[],
    request: { by: string; reason?: string },
  ): Promise<RunResult> {
    const error = `The outcome of ${actions.map((action) => `${action.name} (step ${action.step})`).join(', ')} is unknown; ${request.by} failed the run${request.reason ? `: ${request.reason}` : '.'}`;
    await this.#options.recorder.finishRun(runId, { status: 'failed', payload: { error, reason: 'outcome_unknown' } }, this.#fence(runId));
    this.#ownership.forget(runId);
    this.#emit({ type: 'run.failed', runId, reason: error });
    return { runId, status: 'failed', error };
  }

  /** The run and its ledger, when it is held with actions in doubt; a clear refusal otherwise. */
  async #inDoubt(runId: string, request: { resolution: InDoubtResolution }): Promise<[RunRecord, RecoveryLedger]> {
    if (!['confirmed', 'retried', 'failed'].includes(request.resolution)) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `Resolution '${String(request.resolution)}' is unknown; use confirmed, retried or failed.`,
        { location: { path: 'resolution' } },
      );
    }
    const row = await findRun(this.#options.store, runId);
    if (!row) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist.`);
    const ledger = await readRecoveryLedger(this.#options.store, runId);
    const decided = ledger.decidedSinceHold[0];
    if (row.status === 'held' && ledger.lastHold?.inDoubt && ledger.inDoubt.length === 0 && decided) {
      throw new UserError(
        ErrorCode.Conflict,
        `Run '${runId}' was resolved already (${decided.resolution} by ${decided.by}); the decision is applied as soon as a process takes the run, nothing more to resolve.`,
        { details: { runId, status: row.status, resolution: decided.resolution, by: decided.by } },
      );
    }
    if (row.status !== 'held' || ledger.inDoubt.length === 0) {
      throw new UserError(
        ErrorCode.Conflict,
        `Run '${runId}' has no action whose outcome is unknown (status ${row.status}); nothing to resolve.`,
        { details: { runId, status: row.status } },
      );
    }
    return [row, ledger];
  }

  /** Drives a recovered run on from its last checkpoint, serving back what the trace recorded. */
  async #goOn(
    session: AgentSession,
    runId: string,
    row: RunRecord,
    ledger: RecoveryLedger,
    onEvent: RunEventListener | undefined,
  ): Promise<RunResult> {
    const input = await this.#recoveryInput(session, runId, row);
    if (input === 'parked') {
      // Its approval has not been used: it waits for it like any held run (its lease handed back as it is held).
      await this.#options.recorder.setStatus(runId, 'held', this.#fence(runId));
      this.#ownership.forget(runId);
      const held = (await session.graph.getState({ configurable: { thread_id: runId } })).values as AgentStateValue;
      return { runId, status: 'held', held: held.held! };
    }
    if (input !== null && 'approvalUsed' in input) {
      // It goes on with an approval its trace has no resume of (its resumer died before recording
      // run.resumed; the run reads running by now): recorded here, as #resumeHeld records it, so
      // the trace says how the hold ended (replay and explain read it).
      const { step, resume } = input.approvalUsed;
      if (!ledger.resumed.has(resume.approvalId)) {
        await session.gate.commit(runId, [
          {
            type: 'run.resumed',
            actor: 'runtime',
            payload: { approval_id: resume.approvalId, step, outcome: resume.outcome, recorded_by: 'recovery' },
          },
        ]);
        ledger.resumed.add(resume.approvalId);
      }
    }
    if (onEvent) this.#listeners.set(runId, onEvent);
    this.#ledgers.set(runId, ledger);
    return this.#drive(
      session,
      runId,
      input !== null && 'approvalUsed' in input ? new Command({ resume: input.approvalUsed.resume }) : input,
    );
  }

  /**
   * The approval a recovered run's trace recorded a hold on for this very step, arguments and
   * policy set, still unused (pending or decided): reused instead of opening a second one.
   */
  async #recordedApproval(request: GateApprovalRequest): Promise<{ id: string; expiresAt?: Date } | undefined> {
    const approvalId = this.#ledgers.get(request.runId)?.holds.get(request.step);
    if (!approvalId) return undefined;
    const approval = await findApprovalRecord(this.#options.store, approvalId);
    if (!approval || approval.runId !== request.runId || approval.status === 'consumed') return undefined;
    if (approval.argsHash !== contentHash(request.action.args) || approval.policyHash !== request.policyHash) return undefined;
    return { id: approval.id, ...(approval.expiresAt ? { expiresAt: approval.expiresAt } : {}) };
  }

  /** Where a recovered run goes on from: its last checkpoint, the approval it was resumed with (at its hold's step), or its input. */
  async #recoveryInput(
    session: AgentSession,
    runId: string,
    row: RunRecord,
  ): Promise<Partial<AgentStateValue> | Command | { approvalUsed: { step: number; resume: ApprovalResume } } | null | 'parked'> {
    const snapshot = await session.graph.getState({ configurable: { thread_id: runId } });
    const values = snapshot.values as Partial<AgentStateValue>;
    if (!values.runId) {
      // No checkpoint (they are written at holds and hand-backs, never at a run's end): start again
      // from the input; the trace serves back every model response and tool outcome it recorded.
      const metadata = row.metadata as { principal_roles?: string[] };
      const input = row.input as { text?: string } | null;
      return {
        runId,
        principal: { id: row.principal, roles: metadata.principal_roles ?? [] },
        startedAtMs: row.startedAt.getTime(),
        messages: [{ role: 'user', content: input?.text ?? '' }],
      };
    }
    const held = values.held;
    if (!held || snapshot.next.length === 0) return null;
    if (held.child) {
      const child = await findRun(this.#options.store, held.child.runId);
      if (!child || (child.status !== 'completed' && child.status !== 'failed')) return 'parked';
      const ended = await this.#endOf(child.id);
      const outcome: ChildOutcome =
        child.status === 'completed'
          ? { runId: child.id, status: 'completed', answer: String(ended.answer ?? '') }
          : { runId: child.id, status: 'failed', error: String(ended.error ?? 'failed') };
      return new Command({ resume: { approvalId: held.approvalId, outcome: 'approved', by: [], child: outcome } satisfies ApprovalResume });
    }
    const approval = await findApprovalRecord(this.#options.store, held.approvalId);
    if (!approval || approval.status !== 'consumed' || (approval.outcome !== 'approved' && approval.outcome !== 'rejected'))
      return 'parked';
    const votes = await findApprovalVoteRecords(this.#options.store, held.approvalId);
    const by = votes.filter((vote) => vote.vote === (approval.outcome === 'approved' ? 'approve' : 'reject')).map((vote) => vote.approver);
    return { approvalUsed: { step: held.step, resume: { approvalId: held.approvalId, outcome: approval.outcome, by } } };
  }

  /**
   * Records the approval.consumed its resumer did not live to record: the approval was used (its
   * row says consumed, a single-use move only one resumer makes) and no approval.consumed follows
   * the hold (findApprovalToApply), so the run goes on with it here, once, under this process's lease.
   */
  async #recordConsumption(runId: string): Promise<void> {
    const held = await this.#heldRun(runId);
    const approval = await findApprovalRecord(this.#options.store, held.held.approvalId);
    if (!approval || approval.status !== 'consumed') return;
    await held.session.gate.commit(runId, [
      {
        type: 'approval.consumed',
        actor: 'runtime',
        payload: {
          approval_id: approval.id,
          step: approval.step,
          args_hash: approval.argsHash,
          policy_hash: approval.policyHash,
          outcome: approval.outcome ?? 'rejected',
          recorded_by: 'recovery',
        },
      },
    ]);
  }

  /**
   * Seals a run taken over whose last event already ends it (its owner died between run.completed
   * or run.failed and the seal): the seal sets its status and releases the lease. A seal another
   * process wrote first (the old owner woke up and sealed) is as good.
   */
  async #sealEnded(runId: string, lastType: 'run.completed' | 'run.failed'): Promise<RecoveryResult> {
    try {
      await this.#options.recorder.sealRun(runId, this.#fence(runId));
    } catch (error) {
      if (!(error instanceof UserError && error.code === ErrorCode.Conflict && /already sealed/.test(error.message))) throw error;
      await this.#ownership.release(runId);
    }
    this.#ownership.forget(runId);
    const ended = await this.#endOf(runId);
    const result: RunResult =
      lastType === 'run.completed'
        ? { runId, status: 'completed', answer: String(ended.answer ?? '') }
        : { runId, status: 'failed', error: String(ended.error ?? 'failed') };
    this.#emit(
      lastType === 'run.completed'
        ? { type: 'run.completed', runId, answer: String(ended.answer ?? '') }
        : { type: 'run.failed', runId, reason: String(ended.error ?? 'failed') },
    );
    return { runId, outcome: 'continued', result };
  }

  /** The payload of a run's last event (its run.completed or run.failed). */
  async #endOf(runId: string): Promise<Record<string, unknown>> {
    const last = await findLastEvent(this.#options.store, runId);
    try {
      return last?.payload ? (JSON.parse(last.payload) as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }

  /**
   * Graceful shutdown: waits up to `graceMs` for the runs driven here to park or end, then hands
   * back the leases of those still going, so a live process continues them from their last
   * checkpoint at once instead of after the lease. Resolves the runs handed back.
   */
  async handBack(graceMs = 10_000): Promise<string[]> {
    const deadline = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.#driving.values()]), deadline]);
    return this.#ownership.releaseAll({ keep: new Set(this.#driving.keys()) });
  }

  /**
   * Stops every run driven here at its next checkpoint and hands it back (a graceful shutdown):
   * each graph finishes the step it is in (a tool call in flight completes and is recorded), its
   * LangGraph checkpoint is written, its deferred events are committed and its lease is released,
   * so another process goes on from exactly there at once. A run still mid-step when `graceMs`
   * ends keeps its lease: released now, another process would take the run over while this one's
   * step still runs (a tool call whose outcome nobody records). Its lease lapses once this process
   * stops renewing it, and the taker treats that step as in doubt, as after a crash.
   * No new run is started or resumed here afterwards. Resolves the runs handed back.
   */
  async drain(graceMs = 10_000): Promise<string[]> {
    this.#draining = true;
    for (const control of this.#controls.values()) control.requestDrain('shutdown');
    const asked = [...this.#controls.keys()];
    const deadline = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.#driving.values()]), deadline]);
    const midStep = new Set(this.#driving.keys());
    const released = await this.#ownership.releaseAll({ keep: midStep });
    return [...new Set([...asked.filter((runId) => !midStep.has(runId)), ...released])];
  }

  /** Disconnects every MCP server this runtime started. */
  async close(): Promise<void> {
    this.#ownership.close();
    const sessions = await Promise.allSettled(this.#sessions.values());
    await Promise.all(sessions.map(async (settled) => (settled.status === 'fulfilled' ? settled.value.host?.close() : undefined)));
    this.#sessions.clear();
  }

  /** Whether a path of this process drives the run now (it holds the run's lease, or its graph is going). */
  #drivesHere(runId: string): boolean {
    return this.#ownership.owns(runId) || this.#driving.has(runId);
  }

  #drive(session: AgentSession, runId: string, input: Partial<AgentStateValue> | Command | null): Promise<RunResult> {
    const driving = this.#driveOn(session, runId, input);
    this.#driving.set(runId, driving);
    void driving.then(
      () => this.#driving.delete(runId),
      () => this.#driving.delete(runId),
    );
    return driving;
  }

  async #driveOn(session: AgentSession, runId: string, input: Partial<AgentStateValue> | Command | null): Promise<RunResult> {
    const control = new RunControl();
    if (this.#draining) control.requestDrain('shutdown');
    this.#controls.set(runId, control);
    const config = { configurable: { thread_id: runId }, durability: this.#options.durability ?? 'exit', recursionLimit: 1000, control };
    try {
      let state: AgentStateValue;
      try {
        state = (await session.graph.invoke(input as never, config)) as AgentStateValue;
      } catch (error) {
        // A graceful shutdown stopped the graph between two steps: its checkpoint is written (the
        // graph saves it as it exits); commit what the last step deferred and hand the run back.
        if (isGraphDrained(error)) {
          try {
            await session.gate.flush(runId);
            await this.#ownership.release(runId);
          } catch (failure) {
            // Not handed back (the store went away): its lease lapses and it is recovered.
            this.#letGo(session, runId);
            throw storeUnavailable(failure);
          }
          throw handedBackError(runId);
        }
        // Another process took the run over (this one was paused past its lease): it goes on
        // there, and nothing more is recorded or done for it here.
        if (error instanceof AiFactoryError && error.code === ErrorCode.LeaseLost) {
          this.#letGo(session, runId);
          throw error;
        }
        // The store went away mid-step: nothing can be recorded, so the run is not failed here.
        // Its lease lapses and a live process recovers it from its checkpoint and trace. A lost
        // connection that reached here unmapped (a path that does not wrap its driver's errors)
        // is the same failure.
        if ((error instanceof AiFactoryError && error.code === ErrorCode.StoreUnavailable) || isConnectionLoss(error)) {
          this.#letGo(session, runId);
          throw storeUnavailable(error);
        }
        // The action that was being governed did not run: every execution follows a recorded
        // decision, so a failure to decide or record stops here (fail closed). What the run's end
        // records of the error is text (errorText: no query parameters, no control characters).
        const message = errorText(error);
        await this.#finishQuietly(session, runId, 'failed', { error: message });
        this.#emit({ type: 'run.failed', runId, reason: message });
        if (error instanceof AiFactoryError) throw error;
        throw new SystemError(ErrorCode.Internal, `Run '${runId}' failed: ${message}`, { cause: error });
      }
      try {
        return await this.#stopAt(session, runId, state);
      } catch (error) {
        // How the run stopped could not be recorded (the store went away between the graph's end
        // and its record): this process lets the run go — it is no longer renewed here, so its
        // lease lapses and a live process recovers it from its checkpoint and trace.
        this.#letGo(session, runId);
        throw storeUnavailable(error);
      }
    } finally {
      this.#controls.delete(runId);
      this.#listeners.delete(runId);
      this.#ledgers.delete(runId);
    }
  }

  /** Records how a graph that returned stopped: parked on a hold, completed or failed. */
  async #stopAt(session: AgentSession, runId: string, state: AgentStateValue): Promise<RunResult> {
    if (state.held) {
      await session.gate.flush(runId);
      // Parked at a checkpoint, now written: only now does the run read held (see markHeld). Its
      // lease is handed back in that commit: whichever process gets the approval drives it on.
      await this.#options.recorder.setStatus(runId, 'held', this.#fence(runId));
      // A recovered run parked again on an approval decided meanwhile is found by the supervisors'
      // scan (findStalledHeldRuns: held, its approval decided, no resume of it), which hands it to
      // a worker; nothing applies it here.
      this.#ownership.forget(runId);
      return { runId, status: 'held', held: state.held };
    }
    await session.gate.flush(runId);
    if (state.status === 'completed') {
      const answer = state.answer ?? '';
      await this.#options.recorder.finishRun(
        runId,
        { status: 'completed', payload: { answer, counters: state.counters } },
        this.#fence(runId),
      );
      this.#ownership.forget(runId);
      this.#emit({ type: 'run.completed', runId, answer });
      return { runId, status: 'completed', answer };
    }
    const error = state.error ?? `Run ended with status ${state.status}.`;
    await this.#options.recorder.finishRun(runId, { status: 'failed', payload: { error, counters: state.counters } }, this.#fence(runId));
    this.#ownership.forget(runId);
    this.#emit({ type: 'run.failed', runId, reason: error });
    return { runId, status: 'failed', error };
  }

  /**
   * Records that a run parks on a hold (run.held). The run's status says held only once the
   * checkpoint it waits at is written (#driveOn): a process killed in between leaves it running, so
   * its lapsed lease gets it recovered.
   */
  async #markHeld(gate: GovernanceGate, runId: string, held: HeldAction): Promise<void> {
    // A recovered run that reached again the hold its trace recorded (its owner died before the
    // hold's checkpoint) waits on the same approval: the hold is recorded once.
    if (!held.child && this.#ledgers.get(runId)?.holds.get(held.step) === held.approvalId) {
      await gate.flush(runId);
      return;
    }
    await gate.commit(runId, [
      {
        type: 'run.held',
        actor: 'runtime',
        payload: {
          step: held.step,
          approval_id: held.approvalId,
          kind: held.kind,
          name: held.name,
          ...(held.child ? { child_run: held.child.runId } : {}),
        },
      },
    ]);
  }

  /**
   * This process stops driving a run it could not record the end of (the store went away, or its
   * lease was taken over): it no longer renews the lease, and what the gate buffered for the run
   * is dropped — whoever goes on with the run decides from the trace alone (GovernanceGate.discard).
   */
  #letGo(session: AgentSession, runId: string): void {
    session.gate.discard(runId);
    this.#ownership.forget(runId);
  }

  async #finishQuietly(session: AgentSession, runId: string, status: 'failed', payload: Record<string, unknown>): Promise<void> {
    try {
      await session.gate.flush(runId);
      await this.#options.recorder.finishRun(runId, { status, payload }, this.#fence(runId));
      this.#ownership.forget(runId);
    } catch {
      // Not recorded as failed: stop renewing its lease, so it is recovered once the lease lapses.
      this.#letGo(session, runId);
      // The store itself may be what failed; the caller still sees the original error.
    }
  }

  #emit(event: RunEvent): void {
    const listener = this.#listeners.get(event.runId);
    if (!listener) return;
    try {
      listener(event);
    } catch {
      // A listener's failure must not change what the run does.
    }
  }

  #now(): Date {
    return this.#options.clock?.() ?? new Date();
  }

  /**
   * Stores the agent definition, prompt and policies by content hash, so replay can find them —
   * once per session: they are content-addressed and never change under their hash, so later runs
   * of the same session have nothing to add (two round trips saved per run).
   */
  #remember(session: AgentPlan): Promise<void> {
    session.remembered ??= this.#store(session).catch((error: unknown) => {
      session.remembered = undefined;
      throw error;
    });
    return session.remembered;
  }

  async #store(session: AgentPlan): Promise<void> {
    const now = this.#now();
    const definition = session.definition;
    const source = await readFile(definition.file, 'utf8').catch(() => JSON.stringify(definition));
    await rememberArtifacts(
      this.#options.store,
      [
        { hash: definition.definitionHash, kind: 'agent', name: definition.name, content: source },
        { hash: definition.promptHash, kind: 'prompt', name: definition.name, content: definition.systemPrompt },
      ],
      now,
    );
    await rememberPolicies(this.#options.store, session.policySet, now);
  }

  #session(reference: string): Promise<AgentSession> {
    let session = this.#sessions.get(reference);
    if (!session) {
      session = this.#openSession(reference);
      session.catch(() => this.#sessions.delete(reference));
      this.#sessions.set(reference, session);
    }
    return session;
  }

  #plan(reference: string): Promise<AgentPlan> {
    let plan = this.#plans.get(reference);
    if (!plan) {
      plan = this.#loadPlan(reference);
      plan.catch(() => this.#plans.delete(reference));
      this.#plans.set(reference, plan);
    }
    return plan;
  }

  async #loadPlan(reference: string): Promise<AgentPlan> {
    const options = this.#options;
    const definition = await options.loadAgent(reference);
    // An agent naming a registry prompt has no prompt of its own: never run it with an empty one.
    if (definition.promptReference && !definition.prompt) {
      throw new UserError(
        ErrorCode.AgentInvalid,
        `Agent '${definition.name}' (${definition.file}) names the registry prompt '${definition.promptReference.name}@${definition.promptReference.ref}', which this process did not resolve; open it through a workspace (openWorkspace), which reads the prompt registry.`,
      );
    }
    const policyFiles = [...(options.basePolicyFiles ?? []), ...definition.policies];
    // Bounded autonomy has no unbounded mode: an agent without any policy does not run.
    if (policyFiles.length === 0)
      throw new UserError(
        ErrorCode.AgentInvalid,
        `Agent '${definition.name}' (${definition.file}) names no policies; add spec.policies so its actions can be decided.`,
      );
    return { definition, policySet: compilePolicies(await loadPolicyFiles(policyFiles)) };
  }

  async #openSession(reference: string): Promise<AgentSession> {
    const options = this.#options;
    const { definition, policySet } = await this.#plan(reference);
    const registry = options.modelRegistry;
    const gate = new GovernanceGate({
      policies: () => policySet,
      recorder: this.#fenced,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(registry ? { modelEntry: (id: string) => registry.entry(id) } : {}),
      obligations: {
        notify: notifyObligation(options.notify),
        requestApproval: async (request) => {
          // A recovered run that reaches a hold its trace already recorded (its owner died before
          // the hold's checkpoint) waits on the approval it opened then, which may be decided by now.
          const recorded = await this.#recordedApproval(request);
          if (recorded) return recorded;
          const approval = await options.approvals.request(request);
          return { id: approval.id, ...(approval.expiresAt ? { expiresAt: approval.expiresAt } : {}) };
        },
      },
    });
    const host = definition.tools.length > 0 ? await ToolHost.connect(definition.tools) : undefined;
    const knowledge = options.knowledge ? await options.knowledge(definition) : undefined;
    const toolbox = createToolbox({
      ...(host ? { host } : {}),
      ...(knowledge ? { knowledge } : {}),
      handoffs: definition.handoffs,
      runHandoff: async (agent, task, parent) => {
        // The child is a run of its own, not a subgraph of this node: started outside the node's
        // LangChain context, its holds park it (instead of unwinding through the parent's graph)
        // and its checkpoints live under its own thread.
        const result = await AsyncLocalStorageProviderSingleton.getInstance().run(undefined, () =>
          this.start(agent, task, { principal: parent.principal, parentRunId: parent.runId }),
        );
        if (result.status === 'completed') return { runId: result.runId, status: 'completed', answer: result.answer };
        if (result.status === 'held') {
          // Who may approve the child's action, so the parent's hold can say it (and its hint name a role).
          const approvers = await options.approvals.get?.(result.held.approvalId).then(
            (approval) => approval.requirement,
            () => undefined,
          );
          return {
            runId: result.runId,
            status: 'held',
            approvalId: result.held.approvalId,
            ...(approvers !== undefined ? { approvers } : {}),
          };
        }
        return { runId: result.runId, status: 'failed', error: result.error };
      },
    });
    // Every tool execution first checks that this process still owns the run (and extends its lease).
    const ownership = this.#ownership;
    // In a recovered run, a call whose outcome the trace holds (or a human confirmed) is served
    // back instead of being run again.
    const ledgers = this.#ledgers;
    const fencedToolbox: typeof toolbox = {
      specs: () => toolbox.specs(),
      resolve: (call) => toolbox.resolve(call),
      async execute(call, resolved, run) {
        const ledger = ledgers.get(run.runId);
        if (ledger) {
          const key = callKey(run.step, call.id);
          const recorded = ledger.outcomes.get(key);
          if (recorded) return recordedToolOutcome(recorded);
          const resolution = ledger.resolutions.get(key);
          if (resolution?.resolution === 'confirmed') return confirmedToolOutcome(run.step, call.id, resolved.action.name, resolution);
        }
        await ownership.ensureCanAct(run.runId, `execute the ${resolved.action.kind} '${resolved.action.name}'`);
        return toolbox.execute(call, resolved, run);
      },
    };
    // Model calls a recovered run already made and recorded are answered from the trace.
    const models: ModelGateway = {
      call(request, callOptions) {
        const runId = callOptions?.attribution?.runId;
        const ledger = runId ? ledgers.get(runId) : undefined;
        if (ledger && ledger.modelResponses.size > 0) {
          const hash = requestHash({ ...request, tools: request.tools ?? [] });
          const recorded: ModelResponse | undefined = ledger.modelResponses.get(hash);
          if (recorded) {
            ledger.modelResponses.delete(hash);
            return Promise.resolve(recorded);
          }
        }
        return options.models.call(request, callOptions);
      },
    };
    const graph = createAgentGraph({
      agent: graphAgentSpec(definition),
      gate,
      now: () => this.#now().getTime(),
      models,
      toolbox: fencedToolbox,
      checkpointer: options.checkpointer,
      emit: (event) => this.#emit(event),
      markHeld: (runId, held) => this.#markHeld(gate, runId, held),
    });
    return { definition, policySet, gate, graph, ...(host ? { host } : {}) };
  }
}

/** The action.resolved events recording a human's decision on each in-doubt action. */
function resolvedEvents(ledger: RecoveryLedger, request: InDoubtDecision): EventDraft[] {
  return ledger.inDoubt.map((action) => ({
    type: 'action.resolved',
    actor: request.by,
    payload: {
      step: action.step,
      name: action.name,
      kind: action.kind,
      ...(action.callId ? { call_id: action.callId } : {}),
      resolution: request.resolution,
      by: request.by,
      ...(request.result !== undefined ? { result: request.result } : {}),
      ...(request.reason ? { reason: request.reason } : {}),
    },
  }));
}
