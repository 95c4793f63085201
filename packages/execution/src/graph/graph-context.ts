// What every node of the agent graph shares: the agent, its gate, models and toolbox, and the
// steps nodes take alike — asking the gate (or taking the approval granted for exactly this step),
// parking the run on a hold, enforcing limits, and governing the next action ahead while LangGraph
// moves between nodes (governance/governed-ahead.ts). Nodes ask only the gate, through here.
import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { checkLimits, heldDecision, type LimitCrossing } from '@aifactory/control';
import { ErrorCode, SystemError, contentHash } from '@aifactory/core';
import type { ChatMessage, ModelGateway, ToolCall } from '../models/index.ts';
import type { EventDraft, Gate, GateRunContext, GovernOptions, ProposedAction, Verdict } from '../governance/gate.ts';
import { decisionSummary, maskFields } from '../governance/gate.ts';
import { GovernedAhead } from '../governance/governed-ahead.ts';
import type { AgentToolbox } from '../toolbox/toolbox-port.ts';
import { agentLimitCrossing, type AgentLimitSettings } from './agent-limits.ts';
import { policySetHash, type AgentStateUpdate, type AgentStateValue, type HeldAction } from './agent-state.ts';
import { requestHash } from './request-hash.ts';
import type { RunEvent } from './run-events.ts';

/** Everything the graph needs from the rest of the execution plane. */
export interface AgentGraphDependencies {
  agent: {
    id: string;
    team?: string;
    tags?: string[];
    model: string;
    /** `provider:model` the gateway calls when `model` is unavailable (spec.model.fallback); else the gateway's own. */
    fallback?: string;
    parameters?: Record<string, unknown>;
    systemPrompt: string;
    limits?: AgentLimitSettings;
  };
  gate: Gate;
  models: ModelGateway;
  toolbox: AgentToolbox;
  /** Marks the run held (recorded) when it parks. */
  markHeld(runId: string, held: HeldAction): Promise<void>;
  /** Streams run events to whoever listens. */
  emit(event: RunEvent): void;
  checkpointer?: BaseCheckpointSaver;
  /** Whether to govern the next action while LangGraph moves between nodes (default true; governance/governed-ahead.ts). */
  governAhead?: boolean;
  /** The clock (ms since the epoch) limits and holds are timed with (default Date.now). */
  now?: () => number;
}

/** The agent, its gate and the steps every node takes alike (see the file header). */
export class GraphContext {
  readonly agent: AgentGraphDependencies['agent'];
  readonly gate: Gate;
  readonly models: ModelGateway;
  readonly toolbox: AgentToolbox;
  /** Streams run events to whoever listens. */
  readonly emit: (event: RunEvent) => void;
  /** The clock (ms since the epoch) limits and holds are timed with. */
  readonly now: () => number;
  /** Marks the run held (recorded) when it parks. */
  readonly markHeld: AgentGraphDependencies['markHeld'];
  /** Governance started ahead (governance/governed-ahead.ts), unless the caller turned it off. */
  readonly ahead: GovernedAhead | undefined;
  /** The system message every model call begins with: one object, so its hash is taken once (request-hash.ts). */
  readonly #system: ChatMessage;

  constructor(dependencies: AgentGraphDependencies) {
    this.agent = dependencies.agent;
    this.gate = dependencies.gate;
    this.models = dependencies.models;
    this.toolbox = dependencies.toolbox;
    this.emit = dependencies.emit;
    this.now = dependencies.now ?? Date.now;
    this.markHeld = dependencies.markHeld;
    this.ahead = dependencies.governAhead === false ? undefined : new GovernedAhead();
    this.#system = { role: 'system', content: dependencies.agent.systemPrompt };
  }

  /** The run as the gate sees it. */
  runContext(state: AgentStateValue): GateRunContext {
    return {
      runId: state.runId,
      agent: {
        id: this.agent.id,
        ...(this.agent.team ? { team: this.agent.team } : {}),
        ...(this.agent.tags ? { tags: this.agent.tags } : {}),
      },
      principal: state.principal,
      counters: state.counters,
      // The run's clock stops while it waits for a human: elapsed_ms is time spent working.
      startedAtMs: state.startedAtMs + (state.heldMs ?? 0),
      classifications: state.classifications,
    };
  }

  /** Decides (or takes the approval that was granted for exactly this step and these arguments). */
  async govern(
    state: AgentStateValue,
    step: number,
    proposed: ProposedAction,
    intent?: (args: Record<string, unknown>) => EventDraft,
    options?: GovernOptions,
  ): Promise<Verdict | { kind: 'approved' }> {
    // Only an approved step needs the arguments hashed here; the gate hashes them for everything else.
    if (state.approved && state.approved.step === step && state.approved.argsHash === contentHash(proposed.args)) {
      // The decision was recorded when the action was held; its masking obligations still apply.
      if (intent) await this.gate.commit(state.runId, [intent(maskFields(proposed.args, state.approved.redact))]);
      return { kind: 'approved' };
    }
    const verdict = await this.gate.govern(this.runContext(state), step, proposed, intent, options);
    this.emit({
      type: 'action.decided',
      runId: state.runId,
      step,
      kind: proposed.kind,
      name: proposed.name,
      args: proposed.args,
      ...decisionSummary(verdict.decision),
    });
    // The gate queued the decision's notifications (whatever its authority); watchers are told.
    if (verdict.notified.length > 0) this.emit({ type: 'notification.queued', runId: state.runId, step, targets: [...verdict.notified] });
    return verdict;
  }

  /** Parks the run on the approval the gate opened for a held verdict. */
  async hold(
    state: AgentStateValue,
    verdict: Extract<Verdict, { kind: 'hold' }>,
    proposed: ProposedAction,
    node: HeldAction['node'],
  ): Promise<AgentStateUpdate> {
    // A verdict reached ahead leaves its approval to be opened now, when the run parks on it.
    const approval =
      verdict.approval ??
      (verdict.decision.authority === 'require_approval'
        ? (await this.gate.hold(this.runContext(state), verdict.step, proposed, verdict.decision)).approval
        : undefined);
    if (!approval)
      throw new SystemError(
        ErrorCode.Internal,
        `The ${proposed.kind} '${proposed.name}' at step ${verdict.step} is held, and the gate opened no approval for it (it has no approvals to open one with).`,
      );
    const base = {
      step: verdict.step,
      kind: proposed.kind,
      name: proposed.name,
      args: proposed.args,
      argsHash: verdict.argsHash,
      policyHash: policySetHash(this.gate.policySet),
    };
    const held: HeldAction = {
      ...base,
      approvalId: approval.id,
      node,
      heldAtMs: this.now(),
      ...(verdict.decision.obligations.redact.length > 0 ? { redact: [...verdict.decision.obligations.redact] } : {}),
    };
    await this.markHeld(state.runId, held);
    this.emit({
      type: 'run.held',
      runId: state.runId,
      step: verdict.step,
      approvalId: approval.id,
      kind: proposed.kind,
      name: proposed.name,
      args: proposed.args,
      approvers: verdict.decision.obligations.approvers ?? null,
      ...(approval.expiresAt ? { expiresAt: approval.expiresAt.toISOString() } : {}),
    });
    return { held };
  }

  /** The limit the run has reached (and no approver lifted), if any; pure. */
  limitReached(state: AgentStateValue): LimitCrossing | undefined {
    const counters = { ...state.counters, elapsed_ms: this.now() - state.startedAtMs - (state.heldMs ?? 0) };
    const crossing = checkLimits(this.gate.policySet, counters) ?? agentLimitCrossing(this.agent.limits, counters);
    return crossing && !state.liftedLimits.includes(crossing.limit) ? crossing : undefined;
  }

  /**
   * Checks the policy's limits (and the agent's own) before an action. `stop` ends the run as
   * failed; `hold` parks it on an approval to go on, which lifts that limit for the rest of the
   * run once granted. Every crossing is recorded.
   */
  async enforceLimits(
    state: AgentStateValue,
    node: HeldAction['node'],
  ): Promise<{ kind: 'go'; lifted: string[] } | { kind: 'stop' | 'hold'; update: AgentStateUpdate }> {
    const crossing = this.limitReached(state);
    if (!crossing) return { kind: 'go', lifted: state.liftedLimits };
    const step = state.step + 1;
    const proposed: ProposedAction = {
      kind: 'model',
      name: `budget:${crossing.limit}`,
      args: { limit: crossing.limit, value: crossing.value, max: crossing.max },
    };
    const argsHash = contentHash(proposed.args);
    if (crossing.onExceeded === 'hold' && state.approved && state.approved.step === step && state.approved.argsHash === argsHash) {
      return { kind: 'go', lifted: [...state.liftedLimits, crossing.limit] };
    }
    await this.gate.commit(state.runId, [{ type: 'budget.exceeded', actor: 'control-plane', payload: { step, ...crossing } }]);
    this.emit({
      type: 'budget.exceeded',
      runId: state.runId,
      limit: crossing.limit,
      value: crossing.value,
      max: crossing.max,
      outcome: crossing.onExceeded,
    });
    if (crossing.onExceeded !== 'hold') {
      return { kind: 'stop', update: { status: 'failed', error: `Budget exceeded: ${crossing.reason}` } };
    }
    const verdict = await this.gate.hold(this.runContext(state), step, proposed, heldDecision(crossing.reason, this.gate.policySet.refs));
    const update = await this.hold(state, verdict, proposed, node);
    return { kind: 'hold', update };
  }

  /** The model call the model node makes in this state: the request, and the governed action standing for it. */
  modelCall(state: AgentStateValue, step: number) {
    const messages: ChatMessage[] = [this.#system, ...state.messages];
    const tools = this.toolbox.specs();
    const request = { model: this.agent.model, messages, tools, ...(this.agent.parameters ? { parameters: this.agent.parameters } : {}) };
    const [provider = this.agent.model, ...rest] = this.agent.model.split(':');
    const proposed: ProposedAction = {
      kind: 'model',
      name: this.agent.model,
      args: { provider, model: rest.join(':'), message_count: messages.length, tools: tools.map((tool) => tool.name) },
    };
    const intent = (args: Record<string, unknown>): EventDraft => ({
      type: 'model.requested',
      actor: this.agent.id,
      payload: { step, ...args, request_hash: requestHash(request) },
    });
    return { request, proposed, intent };
  }

  /** The governed tool call for `call` at `step` (tool.called or handoff.started as its intent). */
  governToolCall(view: AgentStateValue, step: number, call: ToolCall, action: ProposedAction, options?: GovernOptions) {
    return this.govern(
      view,
      step,
      action,
      (args) => ({
        type: action.kind === 'handoff' ? 'handoff.started' : 'tool.called',
        actor: this.agent.id,
        // Keys in canonical order: recorded without a sorted copy.
        payload: { args, call_id: call.id, kind: action.kind, name: action.name, step },
      }),
      options,
    );
  }

  /** Starts governing the model call that follows, when nothing but that call can come next. */
  modelAhead(next: AgentStateValue): void {
    if (!this.ahead || next.status !== 'running' || next.held || next.approved || this.limitReached(next)) return;
    const step = next.step + 1;
    const { proposed, intent } = this.modelCall(next, step);
    this.ahead.start(
      next.runId,
      { node: 'model', step, key: String(next.messages.length) },
      proposed.args,
      this.govern(next, step, proposed, intent, { openApproval: false }),
    );
  }

  /** Starts governing the first tool call of a model response, when it is valid and no limit stands in its way. */
  toolAhead(next: AgentStateValue): void {
    const call = next.pending[0];
    if (!this.ahead || !call || this.limitReached(next)) return;
    const resolved = this.toolbox.resolve(call);
    if (!resolved.ok) return;
    const step = next.step + 1;
    this.ahead.start(
      next.runId,
      { node: 'tools', step, key: call.id },
      resolved.action.args,
      this.governToolCall(next, step, call, resolved.action, { openApproval: false }),
    );
  }
}

/** The message that hands a tool call's result (or error) back to the model. */
export function toolMessage(call: ToolCall, content: string): ChatMessage {
  return { role: 'tool', toolCallId: call.id, name: call.name, content };
}

/** One line of a tool result for watchers (run events). */
export function summarize(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
