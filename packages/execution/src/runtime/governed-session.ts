// A governed session: a run whose actions are proposed and executed by someone else — an MCP client
// behind the governing proxy, a LangChain agent with the governance middleware — held to the same
// chokepoint as our own agents: decide, record write-ahead, then execute, hold or deny, and record
// the outcome. The run is started with a lease (so no recovery takes it while it lives), every
// append is fenced by it, and finish() seals it, so it verifies like any run. An outcome is
// written with the next decision's commit, or on its own once it has waited flushAfterMs (200 ms)
// for one: the caller may be idle for minutes, and an outcome lost with the process would leave a
// call that returned looking in doubt.
//
// A held action is not parked in a graph: the caller gets the approval and asks again. The same
// action (kind, name, canonical arguments) proposed again in the session finds its approval: still
// pending, it stays held; decided, it is consumed — bound to this run, its step, the argument hash
// and the policy set in force — and runs (approved) or is refused (rejected), exactly once.
import { randomUUID } from 'node:crypto';
import type { Decision, PolicySet } from '@aifactory/control';
import { contentHash } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { rememberPolicies } from '../agents/definition-rows.ts';
import type { Approval, ApprovalService } from '../approvals/approval-types.ts';
import type { Principal } from '@aifactory/core';
import type { RuntimeRecorder } from './agent-runtime.ts';
import { GovernanceGate, maskFields, type EventDraft, type GateRunContext, type ProposedAction } from '../governance/gate.ts';
import { notifyObligation, type RuntimeNotifier } from '../governance/notify-obligation.ts';
import type { RunOwnership } from './run-ownership.ts';

/** What a governed session is made of. */
export interface GovernedSessionOptions {
  /** The verification plane's recorder (the workspace's, so seals use its key). */
  recorder: RuntimeRecorder;
  /** Approvals: held actions are requested, read and consumed here. */
  approvals: Pick<ApprovalService, 'request' | 'get' | 'consume'>;
  /** The leases of the runs this process drives. */
  ownership: RunOwnership;
  /** The policy set in force now (it may change between a hold and its approval). */
  policies: () => PolicySet;
  /** The store: the policies in force are remembered in it, so explain and what-if find their source. */
  store?: Store;
  /** Who acts (CEL `agent`), e.g. `{ id: 'mcp:fs' }` for the proxy, the LangChain agent's name. */
  agent: { id: string; team?: string; tags?: string[] };
  /** On whose behalf (CEL `principal`); the one who cannot approve under separation of duties. */
  principal: Principal;
  /** Run id (default run_<uuid>). */
  runId?: string;
  /** What the run was asked, as recorded in run.started. */
  input?: unknown;
  /** Recorded in run.started (e.g. the upstream server, the middleware version). */
  metadata?: Record<string, unknown>;
  /** The session's clock (tests). */
  clock?: () => Date;
  /** The workspace's notifier: the notify targets a decision names are queued through it (absent: none are). */
  notify?: RuntimeNotifier;
  /**
   * How long an executed action's outcome may wait for the session's next commit before it is
   * written on its own (ms, default 200). A proxy's client may think for minutes between calls; an
   * outcome still buffered when the process dies is a call that recovery must hold as in doubt.
   */
  flushAfterMs?: number;
}

/** How to record and carry out one action. */
export interface ActionIo<T> {
  /** The intent event, committed with the decision before the action runs (arguments already masked as the decision says). */
  intent(args: Record<string, unknown>, step: number, approvalId?: string): EventDraft;
  /** Carries the action out (called only after its intent is durable). */
  execute(): Promise<T>;
  /** The outcome event of a successful action. */
  returned(value: T, step: number): EventDraft;
  /** The outcome event of a failed action. */
  failed(error: unknown, step: number): EventDraft;
}

/** What became of a proposed action. A denial is an outcome, not an exception. */
export type GovernedOutcome<T> =
  | { kind: 'executed'; step: number; decision?: Decision; approvalId?: string; value: T }
  | { kind: 'failed'; step: number; decision?: Decision; approvalId?: string; error: unknown }
  | { kind: 'held'; step: number; decision?: Decision; approval: Approval }
  | { kind: 'denied'; step: number; decision?: Decision; approvalId?: string; message: string };

interface HeldEntry {
  approvalId: string;
  step: number;
  argsHash: string;
  decision: Decision;
}

/** One run of actions proposed from outside (see the file header). */
export class GovernedSession {
  /** The run this session records. */
  readonly runId: string;
  readonly #options: GovernedSessionOptions;
  readonly #gate: GovernanceGate;
  readonly #held = new Map<string, HeldEntry>();
  /** Approvals the gate opened for this session, by id, until act() hands them to the caller. */
  readonly #opened = new Map<string, Approval>();
  readonly #startedAtMs: number;
  readonly #counters = { steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0 };
  #step = 0;
  #finished: Promise<void> | undefined;
  /** Writes a buffered outcome that no commit carried within flushAfterMs. */
  #flushTimer: NodeJS.Timeout | undefined;

  private constructor(options: GovernedSessionOptions, runId: string) {
    this.#options = options;
    this.runId = runId;
    this.#startedAtMs = (options.clock?.() ?? new Date()).getTime();
    const fence = () => options.ownership.fence(runId);
    this.#gate = new GovernanceGate({
      policies: options.policies,
      recorder: {
        recordBatch: (id, events) => {
          const current = fence();
          return options.recorder.recordBatch(id, events, current ? { fence: current } : {});
        },
      },
      ...(options.clock ? { clock: options.clock } : {}),
      obligations: {
        ...(options.notify ? { notify: notifyObligation(options.notify) } : {}),
        requestApproval: async (request, decision) => {
          const approval = await options.approvals.request({
            ...request,
            // resumed_by: the caller asks again once it is decided; no agent run waits to be resumed.
            context: {
              agent: options.agent.id,
              rules: decision.rules.map((rule) => `${rule.policy}/${rule.ruleId}`),
              reason: decision.reason,
              resumed_by: 'caller',
            },
          });
          this.#opened.set(approval.id, approval);
          return { id: approval.id, ...(approval.expiresAt ? { expiresAt: approval.expiresAt } : {}) };
        },
      },
    });
  }

  /** Starts the run (run.started, with this process's lease) and returns the session. */
  static async open(options: GovernedSessionOptions): Promise<GovernedSession> {
    const runId = options.runId ?? `run_${randomUUID()}`;
    const policySet = options.policies();
    await options.recorder.startRun(
      {
        id: runId,
        agent: options.agent.id,
        ...(options.agent.team ? { team: options.agent.team } : {}),
        principal: options.principal.id,
        ...(options.input === undefined ? {} : { input: options.input }),
        metadata: { ...options.metadata, governed: 'external', policy_hash: policySet.hash },
      },
      { lease: { owner: options.ownership.owner, ttlMs: options.ownership.ttlMs } },
    );
    options.ownership.adopt(runId);
    if (options.store) await rememberPolicies(options.store, policySet, options.clock?.() ?? new Date()).catch(() => undefined);
    return new GovernedSession(options, runId);
  }

  /** The policy set in force now. */
  get policySet(): PolicySet {
    return this.#gate.policySet;
  }

  /** Adds model usage to the run's counters (CEL `run.tokens`, `run.cost_usd`). */
  addUsage(usage: { tokens?: number; costUsd?: number }): void {
    this.#counters.tokens += usage.tokens ?? 0;
    this.#counters.cost_usd += usage.costUsd ?? 0;
  }

  /**
   * Governs one action: a pending or decided approval of the same action in this session is used
   * first; otherwise the policy decides, the decision and intent are committed, and the action runs
   * (its outcome recorded with the next commit), is held (an approval is requested) or is denied.
   */
  async act<T>(proposed: ProposedAction, io: ActionIo<T>): Promise<GovernedOutcome<T>> {
    // The key hashes the arguments; a session with nothing held (the usual case) skips that work.
    if (this.#held.size > 0) {
      const key = heldKey(proposed);
      const held = this.#held.get(key);
      if (held) {
        const settled = await this.#settleHeld(key, held, proposed, io);
        if (settled) return settled;
      }
    }
    const step = ++this.#step;
    this.#counters.steps += 1;
    const verdict = await this.#gate.govern(this.#context(), step, proposed, (args) => io.intent(args, step));
    if (verdict.kind === 'deny') return { kind: 'denied', step, decision: verdict.decision, message: verdict.message };
    if (verdict.kind === 'hold') {
      // The gate opened the approval (the decision's approvers obligation) through the port above.
      const approval = this.#opened.get(verdict.approval!.id)!;
      this.#opened.delete(approval.id);
      this.#held.set(`${proposed.kind}\u0000${proposed.name}\u0000${verdict.argsHash}`, {
        approvalId: approval.id,
        step,
        argsHash: verdict.argsHash,
        decision: verdict.decision,
      });
      return { kind: 'held', step, decision: verdict.decision, approval };
    }
    return this.#execute(step, proposed, io, verdict.decision);
  }

  /** The approval a held action of this session waits on, if any. */
  heldApproval(proposed: Pick<ProposedAction, 'kind' | 'name' | 'args'>): string | undefined {
    return this.#held.get(heldKey(proposed))?.approvalId;
  }

  /** Records events of the session's own (e.g. tool.pinned) in one durable commit, with any buffered outcome. */
  async record(events: EventDraft[]): Promise<void> {
    await this.#gate.commit(this.runId, events);
  }

  /** Commits any buffered outcome now (they are otherwise written with the next decision or at finish). */
  async flush(): Promise<void> {
    await this.#gate.flush(this.runId);
  }

  /** Commits what is buffered, records how the run ended and seals it; later calls wait for the first. */
  finish(outcome: { status: 'completed' | 'failed'; payload?: Record<string, unknown> } = { status: 'completed' }): Promise<void> {
    this.#finished ??= (async () => {
      clearTimeout(this.#flushTimer);
      const fence = this.#options.ownership.fence(this.runId);
      try {
        await this.#gate.flush(this.runId);
        const open = [...this.#held.values()].map((entry) => entry.approvalId);
        await this.#options.recorder.finishRun(
          this.runId,
          {
            status: outcome.status,
            payload: { ...outcome.payload, counters: { ...this.#counters }, ...(open.length > 0 ? { unresolved_approvals: open } : {}) },
          },
          fence ? { fence } : {},
        );
      } finally {
        this.#options.ownership.forget(this.runId);
      }
    })();
    return this.#finished;
  }

  #context(): GateRunContext {
    return {
      runId: this.runId,
      agent: this.#options.agent,
      principal: this.#options.principal,
      counters: { ...this.#counters },
      startedAtMs: this.#startedAtMs,
      classifications: [],
    };
  }

  /** Uses the approval of an action asked again: undefined when it should be decided afresh. */
  async #settleHeld<T>(key: string, held: HeldEntry, proposed: ProposedAction, io: ActionIo<T>): Promise<GovernedOutcome<T> | undefined> {
    const approval = await this.#options.approvals.get(held.approvalId).catch(() => undefined);
    if (!approval || approval.status === 'consumed') {
      this.#held.delete(key);
      return undefined;
    }
    if (approval.status === 'pending') return { kind: 'held', step: held.step, decision: held.decision, approval };
    this.#held.delete(key);
    let consumed;
    try {
      consumed = await this.#options.approvals.consume(held.approvalId, {
        runId: this.runId,
        step: held.step,
        argsHash: held.argsHash,
        policyHash: this.#gate.policySet.hash,
      });
    } catch {
      // Bound to another policy set (it changed since the hold) or used already: decide again.
      return undefined;
    }
    if (consumed.outcome !== 'approved') {
      const who = consumed.approvers.length > 0 ? ` by ${consumed.approvers.join(', ')}` : ' (it expired)';
      return {
        kind: 'denied',
        step: held.step,
        decision: held.decision,
        approvalId: held.approvalId,
        message: `The ${proposed.kind} '${proposed.name}' was rejected${who}${consumed.comment ? `: ${consumed.comment}` : ''}.`,
      };
    }
    await this.#gate.commit(this.runId, [
      io.intent(maskFields(proposed.args, held.decision.obligations.redact), held.step, held.approvalId),
    ]);
    return this.#execute(held.step, proposed, io, held.decision, held.approvalId);
  }

  async #execute<T>(
    step: number,
    proposed: ProposedAction,
    io: ActionIo<T>,
    decision: Decision,
    approvalId?: string,
  ): Promise<GovernedOutcome<T>> {
    if (proposed.kind === 'tool') this.#counters.tool_calls += 1;
    const via = approvalId ? { approvalId } : {};
    try {
      const value = await io.execute();
      this.#gate.defer(this.runId, io.returned(value, step));
      return { kind: 'executed', step, decision, ...via, value };
    } catch (error) {
      this.#gate.defer(this.runId, io.failed(error, step));
      return { kind: 'failed', step, decision, ...via, error };
    } finally {
      this.#scheduleFlush();
    }
  }

  /** The outcome just buffered is written with the next commit, or on its own after flushAfterMs. */
  #scheduleFlush(): void {
    if (this.#flushTimer || this.#finished) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      // A commit that fails puts the outcome back (the gate), for the next commit or finish.
      if (!this.#finished) void this.#gate.flush(this.runId).catch(() => undefined);
    }, this.#options.flushAfterMs ?? 200);
    // It never keeps a process alive: finish() writes what is buffered.
    this.#flushTimer.unref();
  }
}

/** One key per action: kind, name and the canonical hash of its arguments (the gate's argsHash, written as act() keys a hold). */
function heldKey(proposed: Pick<ProposedAction, 'kind' | 'name' | 'args'>): string {
  return `${proposed.kind}\u0000${proposed.name}\u0000${contentHash(proposed.args)}`;
}
