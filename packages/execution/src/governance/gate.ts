// The one chokepoint (docs/architecture.md): govern(action) -> decision -> record(decision) ->
// obligations (notify, approvers) -> [hold | execute | deny] -> record(outcome). Every node of the
// agent graph asks this gate before it acts, and nothing in the runtime calls a model or a tool
// except through a verdict of `execute` from it. The gate carries out every obligation a decision
// names: it masks what is recorded, queues the notifications and opens the approval of a hold.
import {
  type Action,
  type Authority,
  type Decision,
  type DecisionContext,
  type ModelRegistryEntry,
  type PolicySet,
  type RequireApprovalDecision,
  argumentsDenied,
  decide,
} from '@aifactory/control';
import { contentHash, type Principal } from '@aifactory/core';
import type { EventType } from '@aifactory/verification';

/** An event as the recorder takes it. */
export interface EventDraft {
  /** One of the verification plane's event types (verification/src/event-types.ts). */
  type: EventType;
  actor: string;
  payload: unknown;
}

/** What the gate needs from the verification plane: a durable, ordered append. */
export interface GateRecorder {
  recordBatch(runId: string, events: EventDraft[]): Promise<unknown>;
}

/** The action a node wants to take, before the gate adds who and where. */
export interface ProposedAction {
  kind: Action['kind'];
  name: string;
  args: Record<string, unknown>;
  /** For retrievals: the collections it would read, with their classifications. */
  collections?: Array<{ name: string; classifications: string[] }>;
  /** Where the arguments fail the tool's input schema: the gate then denies before any rule. */
  argumentErrors?: readonly string[];
}

/** The run facts a decision sees (CEL `agent`, `principal`, `run`, `data`). */
export interface GateRunContext {
  runId: string;
  agent: { id: string; team?: string; tags?: string[] };
  principal: Principal;
  counters: { steps: number; tool_calls: number; tokens: number; cost_usd: number };
  startedAtMs: number;
  classifications: string[];
  collections?: Array<{ name: string; classifications: string[] }>;
}

/** What the gate carried out besides recording, on every verdict. */
interface VerdictObligations {
  /** The notify targets queued in the outbox (durable before the verdict returns); empty when none. */
  notified: readonly string[];
}

/** The approval a held action waits on, as the gate opened it. */
export interface OpenedApproval {
  id: string;
  expiresAt?: Date;
}

/** The gate's answer. A denial is an outcome, not an exception. */
export type Verdict =
  | ({ kind: 'execute'; authority: 'autonomous' | 'notify_human'; decision: Decision; step: number; argsHash: string } & VerdictObligations)
  /** `approval` is set when the gate has approvals to open one with (the LLM gateway has none: it refuses holds). */
  | ({
      kind: 'hold';
      authority: 'require_approval';
      decision: Decision;
      step: number;
      argsHash: string;
      approval?: OpenedApproval;
    } & VerdictObligations)
  | ({ kind: 'deny'; authority: 'deny'; decision: Decision; step: number; argsHash: string; message: string } & VerdictObligations);

/** An approval for a held action, as the gate asks for it. */
export interface GateApprovalRequest {
  runId: string;
  step: number;
  action: { kind: string; name: string; args: Record<string, unknown> };
  /** The policy set the hold was decided under (an approval is bound to it). */
  policyHash: string;
  /** Who may approve: the decision's approvers obligation. */
  requirement: Record<string, unknown>;
  requestedBy: string;
}

/** What a notification the gate queues says (notification-message.ts renders it). */
export interface GateNotificationPayload {
  step: number;
  action: { kind: string; name: string };
  /** The authority decided, so a reader knows whether the action ran, waits or was refused. */
  authority: Authority;
  rules: string[];
  reason: string;
  agent: string;
}

/** How the gate carries out the obligations beyond masking; each is optional (a gate without one does not carry it out). */
export interface GateObligations {
  /** Queues one notification per target in the outbox, durably. */
  notify?(runId: string, targets: readonly string[], payload: GateNotificationPayload): Promise<void>;
  /** Opens an approval for a held action (the decision's approvers obligation). */
  requestApproval?(request: GateApprovalRequest, decision: RequireApprovalDecision): Promise<OpenedApproval>;
}

/** Summary of a decision small enough for events shown to people. */
export function decisionSummary(decision: Decision): { authority: Authority; rules: string[]; reason: string } {
  return { authority: decision.authority, rules: decision.rules.map((rule) => `${rule.policy}/${rule.ruleId}`), reason: decision.reason };
}

/** How a caller takes a verdict. */
export interface GovernOptions {
  /**
   * False to leave a hold's approval unopened: a fallback model mid-call cannot wait and refuses a
   * hold; a verdict reached ahead of its node opens it with `hold` once the node takes it. Default true.
   */
  openApproval?: boolean;
}

/** What the agent graph asks before every action; GovernanceGate is the one real implementation. */
export interface Gate {
  /** The policy set in force now. */
  readonly policySet: PolicySet;
  /** Decides, durably records and carries out the decision's obligations before returning (see GovernanceGate.govern). */
  govern(
    run: GateRunContext,
    step: number,
    proposed: ProposedAction,
    intent?: (redactedArgs: Record<string, unknown>) => EventDraft,
    options?: GovernOptions,
  ): Promise<Verdict>;
  /** Holds an action no rule held (a limit that holds for a human): opens its approval like a held verdict's. */
  hold(
    run: GateRunContext,
    step: number,
    proposed: ProposedAction,
    decision: RequireApprovalDecision,
  ): Promise<Extract<Verdict, { kind: 'hold' }>>;
  /** Buffers an outcome event for the run's next commit. */
  defer(runId: string, event: EventDraft): void;
  /** Commits buffered outcomes plus events durably. */
  commit(runId: string, events: EventDraft[]): Promise<void>;
  /** Commits buffered outcomes. */
  flush(runId: string): Promise<void>;
}

/**
 * Decides and records. Outcomes of executed actions are buffered (`defer`) and written in the
 * same commit as the next write-ahead record, or on `flush` — group commit per run, so a tool
 * step costs one durable commit for its decision and intent, while every decision is still
 * committed before its action runs.
 */
export class GovernanceGate implements Gate {
  readonly #policies: () => PolicySet;
  readonly #recorder: GateRecorder;
  readonly #clock: () => Date;
  readonly #obligations: GateObligations;
  readonly #deferred = new Map<string, EventDraft[]>();
  readonly #modelEntry: ((id: string) => ModelRegistryEntry) | undefined;

  constructor(options: {
    policies: () => PolicySet;
    recorder: GateRecorder;
    clock?: () => Date;
    obligations?: GateObligations;
    /** The model registry's entry of a model (CEL `model` on model actions). */
    modelEntry?: (id: string) => ModelRegistryEntry;
  }) {
    this.#modelEntry = options.modelEntry;
    this.#policies = options.policies;
    this.#recorder = options.recorder;
    this.#clock = options.clock ?? (() => new Date());
    this.#obligations = options.obligations ?? {};
  }

  /** The policy set in force now (it may be reloaded between a hold and its approval). */
  get policySet(): PolicySet {
    return this.#policies();
  }

  /**
   * Decides `proposed` for the run and records the decision (plus `intent`, e.g. tool.called,
   * when the action may run) durably, then carries out its obligations: the notify targets are
   * queued whatever the authority (a denial a policy asks to be told of is told), and a hold opens
   * its approval. Throws only when the decision cannot be recorded or an obligation cannot be
   * carried out, in which case the action must not run.
   */
  async govern(
    run: GateRunContext,
    step: number,
    proposed: ProposedAction,
    intent?: (redactedArgs: Record<string, unknown>) => EventDraft,
    options: GovernOptions = {},
  ): Promise<Verdict> {
    const now = this.#clock();
    const action: Action = {
      kind: proposed.kind,
      name: proposed.name,
      args: proposed.args,
      agent: run.agent,
      principal: run.principal,
      run: { id: run.runId, ...run.counters, elapsed_ms: now.getTime() - run.startedAtMs },
    };
    // A retrieval shows the policy the collections it would read and their classifications.
    const collections = proposed.collections ?? run.collections;
    const classifications = proposed.collections
      ? [...new Set([...run.classifications, ...proposed.collections.flatMap((collection) => collection.classifications)])]
      : run.classifications;
    // A model call shows the policy the registry's entry of its model (budget crossings, named
    // budget:<limit>, are not models and read as unregistered).
    const model =
      proposed.kind === 'model' && this.#modelEntry && !proposed.name.startsWith('budget:') ? this.#modelEntry(proposed.name) : undefined;
    const context: DecisionContext = {
      data: { classifications, ...(collections ? { collections } : {}) },
      ...(model ? { model } : {}),
      now,
    };
    // Arguments that fail the tool's schema never reach a rule (a "12345" must not meet a rule
    // written for 12345); nor are they recorded, since no rule said which of them to mask.
    const invalid = proposed.argumentErrors !== undefined && proposed.argumentErrors.length > 0 ? proposed.argumentErrors : undefined;
    // decide() never throws: an unreadable policy set or action is itself a denial.
    const decision = invalid ? argumentsDenied(this.#policies(), proposed.name, invalid) : decide(this.#policies(), action, context);
    const argsHash = contentHash(proposed.args);
    const recordedArgs = invalid ? {} : maskFields(proposed.args, decision.obligations.redact);
    const events: EventDraft[] = [
      {
        type: 'policy.decided',
        actor: 'control-plane',
        // Keys in canonical (UTF-16) order, so the recorder's canonical JSON writes these objects
        // as they are instead of copying them in order.
        payload: {
          action: { args: recordedArgs, args_hash: argsHash, kind: proposed.kind, name: proposed.name },
          ...(invalid ? { arguments_invalid: [...invalid] } : {}),
          decision,
          step,
        },
      },
    ];
    const executes = decision.authority === 'autonomous' || decision.authority === 'notify_human';
    if (executes && intent) events.push(intent(recordedArgs));
    await this.commit(run.runId, events);
    const notified = await this.#notify(run, step, proposed, decision);
    if (decision.authority === 'deny') {
      const message = invalid
        ? `The ${proposed.kind} '${proposed.name}' was denied before any rule: its arguments do not match its input schema: ${invalid.join('; ')}.`
        : denialMessage(proposed, decision);
      return { kind: 'deny', authority: 'deny', decision, step, argsHash, message, notified };
    }
    if (decision.authority === 'require_approval') {
      if (options.openApproval === false) return { kind: 'hold', authority: 'require_approval', decision, step, argsHash, notified };
      return this.#hold(run, step, proposed, decision, argsHash, notified);
    }
    return { kind: 'execute', authority: decision.authority, decision, step, argsHash, notified };
  }

  /** Holds an action no rule held (a limit that holds for a human) and opens its approval. */
  async hold(
    run: GateRunContext,
    step: number,
    proposed: ProposedAction,
    decision: RequireApprovalDecision,
  ): Promise<Extract<Verdict, { kind: 'hold' }>> {
    return this.#hold(run, step, proposed, decision, contentHash(proposed.args), []);
  }

  async #hold(
    run: GateRunContext,
    step: number,
    proposed: ProposedAction,
    decision: RequireApprovalDecision,
    argsHash: string,
    notified: readonly string[],
  ): Promise<Extract<Verdict, { kind: 'hold' }>> {
    const verdict = { kind: 'hold' as const, authority: 'require_approval' as const, decision, step, argsHash, notified };
    if (!this.#obligations.requestApproval) return verdict;
    const approval = await this.#obligations.requestApproval(
      {
        runId: run.runId,
        step,
        action: { kind: proposed.kind, name: proposed.name, args: proposed.args },
        policyHash: this.#policies().hash,
        requirement: { ...decision.obligations.approvers },
        requestedBy: run.principal.id,
      },
      decision,
    );
    return { ...verdict, approval };
  }

  /** Queues the decision's notify targets in the outbox and, with the run's next commit, notification.queued. */
  async #notify(run: GateRunContext, step: number, proposed: ProposedAction, decision: Decision): Promise<readonly string[]> {
    const targets = decision.obligations.notify;
    if (targets.length === 0 || !this.#obligations.notify) return [];
    const payload: GateNotificationPayload = {
      step,
      action: { kind: proposed.kind, name: proposed.name },
      authority: decision.authority,
      rules: decisionSummary(decision).rules,
      reason: decision.reason,
      agent: run.agent.id,
    };
    await this.#obligations.notify(run.runId, targets, payload);
    this.defer(run.runId, { type: 'notification.queued', actor: 'runtime', payload: { step, targets: [...targets] } });
    return [...targets];
  }

  /** Buffers an outcome event; it is committed with the run's next record or on flush. */
  defer(runId: string, event: EventDraft): void {
    const queue = this.#deferred.get(runId);
    if (queue) queue.push(event);
    else this.#deferred.set(runId, [event]);
  }

  /** Commits buffered outcomes plus `events` in one durable batch. */
  async commit(runId: string, events: EventDraft[]): Promise<void> {
    // The queue is taken before the await, so two commits of one run in flight at once (a flush
    // timer beside the next write-ahead record) never write the same outcome twice.
    const queue = this.#deferred.get(runId);
    this.#deferred.delete(runId);
    const batch = queue && queue.length > 0 ? [...queue, ...events] : events;
    if (batch.length === 0) return;
    try {
      await this.#recorder.recordBatch(runId, batch);
    } catch (error) {
      // Not written: the outcomes go back to the front of the queue for the next commit.
      if (queue && queue.length > 0) this.#deferred.set(runId, [...queue, ...(this.#deferred.get(runId) ?? [])]);
      throw error;
    }
  }

  /** Commits any buffered outcomes of the run. */
  async flush(runId: string): Promise<void> {
    await this.commit(runId, []);
  }

  /**
   * Drops the run's buffered outcomes unwritten: this process stopped driving the run (the store
   * went away, or another process took its lease over), and whoever goes on with it decides from
   * the trace alone. Kept, they would be written with this process's next commit of the run — after
   * a recovery had read the trace without them (and held a call as in doubt that they say returned).
   */
  discard(runId: string): void {
    this.#deferred.delete(runId);
  }
}

function denialMessage(proposed: ProposedAction, decision: Decision): string {
  const rule = decision.rules.find((candidate) => candidate.authority === 'deny');
  const where = rule ? `rule '${rule.ruleId}' of policy '${rule.policy}'` : 'the default authority';
  const reason = rule?.reason ?? decision.reason;
  return `The ${proposed.kind} '${proposed.name}' was denied by ${where}: ${reason}`;
}

/** Replaces the named argument fields (dot paths) with a placeholder in what is recorded. */
export function maskFields(args: Record<string, unknown>, paths: readonly string[] | undefined): Record<string, unknown> {
  if (!paths || paths.length === 0) return args;
  const copy = structuredClone(args);
  for (const path of paths) {
    const parts = path
      .replace(/^action\.args\./, '')
      .replace(/^args\./, '')
      .split('.');
    let cursor: unknown = copy;
    for (let index = 0; index < parts.length - 1; index += 1) {
      const key = parts[index]!;
      cursor = cursor && typeof cursor === 'object' && Object.hasOwn(cursor, key) ? (cursor as Record<string, unknown>)[key] : undefined;
    }
    const last = parts.at(-1)!;
    if (cursor && typeof cursor === 'object' && Object.hasOwn(cursor, last)) (cursor as Record<string, unknown>)[last] = '[MASKED:policy]';
  }
  return copy;
}
