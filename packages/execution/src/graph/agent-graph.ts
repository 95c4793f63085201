// Each agent is a LangGraph graph: a tool-calling loop (model -> tools -> model ...) whose every
// action — the model call, each tool call, retrieval and hand-off, the final answer — passes the
// governance gate. A held action parks the run in the `approval` node (LangGraph interrupt); the
// checkpoint is persisted in the store, so any process can resume it after the approval.
import { Annotation, END, START, StateGraph, interrupt, type BaseCheckpointSaver } from '@langchain/langgraph';
import { checkLimits, heldDecision, type LimitCrossing, type PolicySet, type RunCounters } from '@aifactory/control';
import { ErrorCode, SystemError, canonicalJson, contentHash, sha256Hex } from '@aifactory/core';
import type { ChatMessage, ModelGateway, ModelResponse, ToolCall, ToolSpec } from '../models/index.ts';
import type { EventDraft, Gate, GateRunContext, GovernOptions, ProposedAction, Verdict } from '../governance/gate.ts';
import { decisionSummary, maskFields } from '../governance/gate.ts';
import { GovernedAhead } from '../governance/governed-ahead.ts';
import { handoffOutcome } from '../toolbox/handoff.ts';
import type { AgentToolbox } from '../toolbox/toolbox-port.ts';
import type { RunEvent } from './run-events.ts';

/** What the run has spent, kept in its state; the time elapsed is measured when a limit is checked. */
type SpentCounters = Omit<RunCounters, 'elapsed_ms'>;

/** An action parked until humans decide. */
export interface HeldAction {
  approvalId: string;
  step: number;
  kind: ProposedAction['kind'];
  name: string;
  args: Record<string, unknown>;
  argsHash: string;
  policyHash: string;
  /** The graph node that asked, which runs the action once approved. */
  node: 'model' | 'tools' | 'finish';
  /** Argument fields the decision said to mask in what is recorded. */
  redact?: string[];
  /**
   * Set when the action already ran and waits on another run: a hand-off whose child run is held.
   * The approval is then the child's; the run goes on with the child's outcome once it ends.
   */
  child?: { runId: string; callId: string; callName: string };
  /** When the run parked (ms since the epoch): the time until it resumes is not counted against max_duration. */
  heldAtMs?: number;
}

/** The state of one run, checkpointed by LangGraph. */
export const AgentState = Annotation.Root({
  runId: Annotation<string>(),
  principal: Annotation<{ id: string; roles: string[] }>(),
  startedAtMs: Annotation<number>(),
  /** Time spent waiting for humans (ms); run limits and run.elapsed_ms count only the rest. */
  heldMs: Annotation<number>({ reducer: (_left, right) => right, default: () => 0 }),
  messages: Annotation<ChatMessage[]>({ reducer: (left, right) => left.concat(right), default: () => [] }),
  pending: Annotation<ToolCall[]>({ reducer: (_left, right) => right, default: () => [] }),
  held: Annotation<HeldAction | null>({ reducer: (_left, right) => right, default: () => null }),
  /** An approved action the asking node may now run without deciding again: step + args hash. */
  approved: Annotation<{ step: number; argsHash: string; approvalId: string; node: HeldAction['node']; redact?: string[] } | null>({
    reducer: (_left, right) => right,
    default: () => null,
  }),
  step: Annotation<number>({ reducer: (_left, right) => right, default: () => 0 }),
  counters: Annotation<SpentCounters>({
    reducer: (_left, right) => right,
    default: () => ({ steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0 }),
  }),
  classifications: Annotation<string[]>({ reducer: (_left, right) => right, default: () => [] }),
  /** Limits an approver let the run go beyond. */
  liftedLimits: Annotation<string[]>({ reducer: (_left, right) => right, default: () => [] }),
  answer: Annotation<string | null>({ reducer: (_left, right) => right, default: () => null }),
  status: Annotation<'running' | 'completed' | 'failed'>({ reducer: (_left, right) => right, default: () => 'running' }),
  error: Annotation<string | null>({ reducer: (_left, right) => right, default: () => null }),
});

/** One run's state as nodes see it. */
export type AgentStateValue = typeof AgentState.State;
type Update = Partial<AgentStateValue>;

/** What a resumed approval node receives. */
export interface ApprovalResume {
  approvalId: string;
  outcome: 'approved' | 'rejected';
  by: string[];
  comment?: string;
  /** For a run waiting on a held hand-off: how the child run ended. */
  child?: ChildOutcome;
}

/** How a child run (a hand-off) ended. */
export interface ChildOutcome {
  runId: string;
  status: 'completed' | 'failed';
  answer?: string;
  error?: string;
}

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

/** Builds and compiles the governed graph of one agent. */
export function createAgentGraph(dependencies: AgentGraphDependencies) {
  const { agent, gate, models, toolbox, emit } = dependencies;
  const now = dependencies.now ?? Date.now;

  const runContext = (state: AgentStateValue): GateRunContext => ({
    runId: state.runId,
    agent: { id: agent.id, ...(agent.team ? { team: agent.team } : {}), ...(agent.tags ? { tags: agent.tags } : {}) },
    principal: state.principal,
    counters: state.counters,
    // The run's clock stops while it waits for a human: elapsed_ms is time spent working.
    startedAtMs: state.startedAtMs + (state.heldMs ?? 0),
    classifications: state.classifications,
  });

  // Governance started ahead (governance/governed-ahead.ts), unless the caller turned it off.
  const ahead = dependencies.governAhead === false ? undefined : new GovernedAhead();

  /** Decides (or takes the approval that was granted for exactly this step and these arguments). */
  async function govern(
    state: AgentStateValue,
    step: number,
    proposed: ProposedAction,
    intent?: (args: Record<string, unknown>) => EventDraft,
    options?: GovernOptions,
  ): Promise<Verdict | { kind: 'approved' }> {
    // Only an approved step needs the arguments hashed here; the gate hashes them for everything else.
    if (state.approved && state.approved.step === step && state.approved.argsHash === contentHash(proposed.args)) {
      // The decision was recorded when the action was held; its masking obligations still apply.
      if (intent) await gate.commit(state.runId, [intent(maskFields(proposed.args, state.approved.redact))]);
      return { kind: 'approved' };
    }
    const verdict = await gate.govern(runContext(state), step, proposed, intent, options);
    emit({
      type: 'action.decided',
      runId: state.runId,
      step,
      kind: proposed.kind,
      name: proposed.name,
      args: proposed.args,
      ...decisionSummary(verdict.decision),
    });
    // The gate queued the decision's notifications (whatever its authority); watchers are told.
    if (verdict.notified.length > 0) emit({ type: 'notification.queued', runId: state.runId, step, targets: [...verdict.notified] });
    return verdict;
  }

  /** Parks the run on the approval the gate opened for a held verdict. */
  async function hold(
    state: AgentStateValue,
    verdict: Extract<Verdict, { kind: 'hold' }>,
    proposed: ProposedAction,
    node: HeldAction['node'],
  ): Promise<Update> {
    // A verdict reached ahead leaves its approval to be opened now, when the run parks on it.
    const approval =
      verdict.approval ??
      (verdict.decision.authority === 'require_approval'
        ? (await gate.hold(runContext(state), verdict.step, proposed, verdict.decision)).approval
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
      policyHash: policySetHash(gate.policySet),
    };
    const held: HeldAction = {
      ...base,
      approvalId: approval.id,
      node,
      heldAtMs: now(),
      ...(verdict.decision.obligations.redact.length > 0 ? { redact: [...verdict.decision.obligations.redact] } : {}),
    };
    await dependencies.markHeld(state.runId, held);
    emit({
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
  function limitReached(state: AgentStateValue): LimitCrossing | undefined {
    const counters = { ...state.counters, elapsed_ms: now() - state.startedAtMs - (state.heldMs ?? 0) };
    const crossing = checkLimits(gate.policySet, counters) ?? agentLimitCrossing(agent.limits, counters);
    return crossing && !state.liftedLimits.includes(crossing.limit) ? crossing : undefined;
  }

  /**
   * Checks the policy's limits (and the agent's own) before an action. `stop` ends the run as
   * failed; `hold` parks it on an approval to go on, which lifts that limit for the rest of the
   * run once granted. Every crossing is recorded.
   */
  async function enforceLimits(
    state: AgentStateValue,
    node: HeldAction['node'],
  ): Promise<{ kind: 'go'; lifted: string[] } | { kind: 'stop' | 'hold'; update: Update }> {
    const crossing = limitReached(state);
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
    await gate.commit(state.runId, [{ type: 'budget.exceeded', actor: 'control-plane', payload: { step, ...crossing } }]);
    emit({
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
    const verdict = await gate.hold(runContext(state), step, proposed, heldDecision(crossing.reason, gate.policySet.refs));
    const update = await hold(state, verdict, proposed, node);
    return { kind: 'hold', update };
  }

  /** The model call the model node makes in this state: the request, and the governed action standing for it. */
  function modelCall(state: AgentStateValue, step: number) {
    const messages: ChatMessage[] = [{ role: 'system', content: agent.systemPrompt }, ...state.messages];
    const tools = toolbox.specs();
    const request = { model: agent.model, messages, tools, ...(agent.parameters ? { parameters: agent.parameters } : {}) };
    const [provider = agent.model, ...rest] = agent.model.split(':');
    const proposed: ProposedAction = {
      kind: 'model',
      name: agent.model,
      args: { provider, model: rest.join(':'), message_count: messages.length, tools: tools.map((tool) => tool.name) },
    };
    const intent = (args: Record<string, unknown>): EventDraft => ({
      type: 'model.requested',
      actor: agent.id,
      payload: { step, ...args, request_hash: requestHash(request) },
    });
    return { request, proposed, intent };
  }

  /** Starts governing the model call that follows, when nothing but that call can come next. */
  function modelAhead(next: AgentStateValue): void {
    if (!ahead || next.status !== 'running' || next.held || next.approved || limitReached(next)) return;
    const step = next.step + 1;
    const { proposed, intent } = modelCall(next, step);
    ahead.start(
      next.runId,
      { node: 'model', step, key: String(next.messages.length) },
      proposed.args,
      govern(next, step, proposed, intent, { openApproval: false }),
    );
  }

  async function modelNode(state: AgentStateValue): Promise<Update> {
    const step = state.step + 1;
    // Governed ahead only when no limit was reached, so there is nothing to enforce here then.
    const early = await ahead?.take(state.runId, { node: 'model', step, key: String(state.messages.length) });
    let liftedLimits = state.liftedLimits;
    if (!early) {
      const limits = await enforceLimits(state, 'model');
      if (limits.kind !== 'go') return limits.update;
      liftedLimits = limits.lifted;
    }
    const { request, proposed, intent } = modelCall(state, step);
    const verdict = early ? await early(proposed) : await govern(state, step, proposed, intent);
    if (verdict.kind === 'deny') return { step, status: 'failed', error: verdict.message };
    if (verdict.kind === 'hold') return { step: step - 1, ...(await hold(state, verdict, proposed, 'model')) };
    let response: ModelResponse;
    try {
      response = await models.call(request, {
        onToken: (text) => emit({ type: 'token', runId: state.runId, text }),
        attribution: { ...(agent.team ? { team: agent.team } : {}), agent: agent.id, runId: state.runId },
        // The agent's own fallback, if it names one; the gateway still calls it only when it is registered.
        ...(agent.fallback !== undefined ? { fallback: agent.fallback } : {}),
        // A fallback model is another model call: it is decided and recorded like the first.
        beforeFallback: async (fallback) => {
          const [fallbackProvider = fallback.model, ...fallbackRest] = fallback.model.split(':');
          const fallbackAction: ProposedAction = {
            kind: 'model',
            name: fallback.model,
            args: {
              ...proposed.args,
              provider: fallbackProvider,
              model: fallbackRest.join(':'),
              fallback_for: agent.model,
              reason: fallback.reason,
            },
          };
          // The model call is under way and cannot wait for a human: a fallback that would be held is refused.
          const fallbackVerdict = await gate.govern(
            runContext(state),
            step,
            fallbackAction,
            (args) => ({ type: 'model.requested', actor: agent.id, payload: { step, ...args } }),
            { openApproval: false },
          );
          emit({
            type: 'action.decided',
            runId: state.runId,
            step,
            kind: 'model',
            name: fallback.model,
            args: fallbackAction.args,
            ...decisionSummary(fallbackVerdict.decision),
          });
          if (fallbackVerdict.notified.length > 0)
            emit({ type: 'notification.queued', runId: state.runId, step, targets: [...fallbackVerdict.notified] });
          return fallbackVerdict.kind === 'execute';
        },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      gate.defer(state.runId, { type: 'model.failed', actor: agent.id, payload: { step, error: message } });
      return { step, status: 'failed', error: message, approved: null };
    }
    gate.defer(state.runId, {
      type: 'model.responded',
      actor: agent.id,
      payload: {
        step,
        provider: response.provider,
        model: response.model,
        content: response.content,
        tool_calls: response.toolCalls,
        usage: response.usage,
        cost_usd: response.costUsd,
        finish_reason: response.finishReason,
        latency_ms: response.latencyMs,
        attempts: response.attempts,
        fallback_used: response.fallbackUsed,
      },
    });
    const counters: SpentCounters = {
      steps: state.counters.steps + 1,
      tool_calls: state.counters.tool_calls,
      tokens: state.counters.tokens + response.usage.inputTokens + response.usage.outputTokens,
      cost_usd: state.counters.cost_usd + response.costUsd,
    };
    const assistant: ChatMessage = {
      role: 'assistant',
      content: response.content,
      ...(response.toolCalls.length > 0 ? { toolCalls: response.toolCalls } : {}),
    };
    const update = {
      step,
      counters,
      liftedLimits,
      messages: [assistant],
      pending: response.toolCalls,
      answer: response.toolCalls.length === 0 ? response.content : null,
      approved: null,
    };
    if (update.pending.length > 0) toolAhead({ ...state, ...update, messages: state.messages });
    return update;
  }

  /** The governed tool call for `call` at `step` (tool.called or handoff.started as its intent). */
  function governToolCall(view: AgentStateValue, step: number, call: ToolCall, action: ProposedAction, options?: GovernOptions) {
    return govern(
      view,
      step,
      action,
      (args) => ({
        type: action.kind === 'handoff' ? 'handoff.started' : 'tool.called',
        actor: agent.id,
        payload: { step, call_id: call.id, kind: action.kind, name: action.name, args },
      }),
      options,
    );
  }

  /** Starts governing the first tool call of a model response, when it is valid and no limit stands in its way. */
  function toolAhead(next: AgentStateValue): void {
    const call = next.pending[0];
    if (!ahead || !call || limitReached(next)) return;
    const resolved = toolbox.resolve(call);
    if (!resolved.ok) return;
    const step = next.step + 1;
    ahead.start(
      next.runId,
      { node: 'tools', step, key: call.id },
      resolved.action.args,
      governToolCall(next, step, call, resolved.action, { openApproval: false }),
    );
  }

  async function toolsNode(state: AgentStateValue): Promise<Update> {
    let step = state.step;
    let counters = state.counters;
    let classifications = state.classifications;
    let approved = state.approved;
    let liftedLimits = state.liftedLimits;
    const pending = [...state.pending];
    const messages: ChatMessage[] = [];
    const view = (): AgentStateValue => ({ ...state, step, counters, classifications, approved, liftedLimits });
    // The first call may have been governed ahead by the model node (when no limit was reached).
    let early = pending.length > 0 ? await ahead?.take(state.runId, { node: 'tools', step: step + 1, key: pending[0]!.id }) : undefined;
    while (pending.length > 0) {
      if (!early) {
        const limits = await enforceLimits(view(), 'tools');
        if (limits.kind !== 'go') return { ...limits.update, messages, pending, step, counters, classifications, liftedLimits };
        if (limits.lifted !== liftedLimits) approved = null;
        liftedLimits = limits.lifted;
      }
      const call = pending[0]!;
      const resolved = toolbox.resolve(call);
      if (!resolved.ok) {
        // Invalid calls never reach the policy: nothing runs, and the model is told why.
        gate.defer(state.runId, {
          type: 'tool.failed',
          actor: agent.id,
          payload: { step: step + 1, call_id: call.id, name: call.name, error: { code: 'invalid_call', message: resolved.message } },
        });
        messages.push(toolMessage(call, `Error: ${resolved.message}`));
        pending.shift();
        early = undefined;
        continue;
      }
      const nextStep = step + 1;
      const verdict = early ? await early(resolved.action) : await governToolCall(view(), nextStep, call, resolved.action);
      early = undefined;
      if (verdict.kind === 'hold') {
        const update = await hold(view(), verdict, resolved.action, 'tools');
        return { ...update, messages, pending, step, counters, classifications, liftedLimits };
      }
      step = nextStep;
      approved = null;
      pending.shift();
      if (verdict.kind === 'deny') {
        messages.push(toolMessage(call, `Error: ${verdict.message}`));
        continue;
      }
      const outcome = await toolbox.execute(call, resolved, { runId: state.runId, principal: state.principal, step });
      if ('held' in outcome) {
        const held = await waitForChild(view(), call, resolved.action, verdict, outcome.held);
        return { held, messages, pending, step, counters, classifications, liftedLimits, approved: null };
      }
      gate.defer(state.runId, outcome.event);
      counters = { ...counters, tool_calls: counters.tool_calls + 1 };
      if (outcome.ok && outcome.classifications) classifications = [...new Set([...classifications, ...outcome.classifications])];
      emit({
        type: 'tool.returned',
        runId: state.runId,
        step,
        name: resolved.action.name,
        ok: outcome.ok,
        summary: summarize(outcome.ok ? outcome.content : outcome.message),
      });
      messages.push(toolMessage(call, outcome.ok ? outcome.content : `Error: ${outcome.message}`));
    }
    const update = { messages, pending, step, counters, classifications, liftedLimits, approved: null };
    modelAhead({ ...state, ...update, messages: state.messages.concat(messages) });
    return update;
  }

  async function finishNode(state: AgentStateValue): Promise<Update> {
    const text = state.answer ?? '';
    const step = state.step + 1;
    const proposed: ProposedAction = { kind: 'answer', name: 'answer', args: { text } };
    const verdict = await govern(state, step, proposed, (args) => ({
      type: 'answer.given',
      actor: agent.id,
      payload: { step, text: args.text },
    }));
    if (verdict.kind === 'hold') return hold(state, verdict, proposed, 'finish');
    if (verdict.kind === 'deny') return { step, status: 'failed', error: verdict.message };
    emit({ type: 'answer', runId: state.runId, text });
    return { step, status: 'completed', approved: null };
  }

  /**
   * Parks the run on a hand-off that already ran and whose child run is held: the human approves
   * the child's action (its approval id stands for this run's too), and this run goes on with the
   * child's answer once the child ends.
   */
  async function waitForChild(
    state: AgentStateValue,
    call: ToolCall,
    action: ProposedAction,
    verdict: Verdict | { kind: 'approved' },
    child: { runId: string; approvalId: string; approvers?: unknown },
  ): Promise<HeldAction> {
    const argsHash = verdict.kind === 'approved' ? contentHash(action.args) : verdict.argsHash;
    const held: HeldAction = {
      approvalId: child.approvalId,
      step: state.step,
      kind: action.kind,
      name: action.name,
      args: action.args,
      argsHash,
      policyHash: policySetHash(gate.policySet),
      node: 'tools',
      child: { runId: child.runId, callId: call.id, callName: call.name },
      heldAtMs: now(),
    };
    await dependencies.markHeld(state.runId, held);
    emit({
      type: 'run.held',
      runId: state.runId,
      step: held.step,
      approvalId: child.approvalId,
      kind: action.kind,
      name: action.name,
      args: action.args,
      approvers: child.approvers ?? null,
      childRunId: child.runId,
    });
    return held;
  }

  /** The child run a waiting run was held on has ended: its answer (or failure) is the hand-off's result. */
  function childEnded(state: AgentStateValue, held: HeldAction & { child: NonNullable<HeldAction['child']> }, child: ChildOutcome): Update {
    const outcome = handoffOutcome(held.name, held.child.callId, held.step, child);
    gate.defer(state.runId, outcome.event);
    const content = outcome.ok ? outcome.content : outcome.message;
    emit({ type: 'tool.returned', runId: state.runId, step: held.step, name: held.name, ok: outcome.ok, summary: summarize(content) });
    const call = { id: held.child.callId, name: held.child.callName, args: held.args };
    return {
      held: null,
      counters: { ...state.counters, tool_calls: state.counters.tool_calls + 1 },
      messages: [toolMessage(call, outcome.ok ? content : `Error: ${content}`)],
    };
  }

  /** Applies the human's answer; the time the run waited for it is added to heldMs. */
  function approvalNode(state: AgentStateValue): Update {
    const held = state.held;
    if (!held) return {};
    const update = applyResume(state, held);
    return held.heldAtMs === undefined ? update : { ...update, heldMs: (state.heldMs ?? 0) + Math.max(0, now() - held.heldAtMs) };
  }

  function applyResume(state: AgentStateValue, held: HeldAction): Update {
    // Nothing may happen before interrupt(): on resume LangGraph runs this node again from the top.
    const resume = interrupt<{ approvalId: string; step: number; kind: string; name: string }, ApprovalResume>({
      approvalId: held.approvalId,
      step: held.step,
      kind: held.kind,
      name: held.name,
    });
    emit({ type: 'approval.applied', runId: state.runId, step: held.step, approvalId: held.approvalId, outcome: resume.outcome });
    if (held.child) {
      if (!resume.child)
        return {
          held: null,
          step: held.step,
          status: 'failed',
          error: `Run '${state.runId}' waits for its hand-off to run '${held.child.runId}', and was resumed without that run's outcome.`,
        };
      return childEnded(state, { ...held, child: held.child }, resume.child);
    }
    if (resume.outcome === 'approved')
      return {
        held: null,
        approved: {
          step: held.step,
          argsHash: held.argsHash,
          approvalId: held.approvalId,
          node: held.node,
          ...(held.redact ? { redact: held.redact } : {}),
        },
      };
    const reason = `The ${held.kind} '${held.name}' was rejected by ${resume.by.join(', ') || 'its approvers'}${resume.comment ? `: ${resume.comment}` : '.'}`;
    if (held.node !== 'tools') return { held: null, step: held.step, status: 'failed', error: reason };
    const [call, ...rest] = state.pending;
    return { held: null, step: held.step, pending: rest, messages: call ? [toolMessage(call, `Error: ${reason}`)] : [] };
  }

  const afterModel = (state: AgentStateValue) =>
    state.status !== 'running' ? END : state.held ? 'approval' : state.pending.length > 0 ? 'tools' : 'finish';
  const afterTools = (state: AgentStateValue) => (state.status !== 'running' ? END : state.held ? 'approval' : 'model');
  const afterFinish = (state: AgentStateValue) => (state.held ? 'approval' : END);
  const afterApproval = (state: AgentStateValue) => {
    if (state.status !== 'running') return END;
    if (state.approved) return state.approved.node;
    return state.pending.length > 0 ? 'tools' : 'model';
  };

  const graph = new StateGraph(AgentState)
    .addNode('model', modelNode)
    .addNode('tools', toolsNode)
    .addNode('finish', finishNode)
    .addNode('approval', approvalNode)
    .addEdge(START, 'model')
    .addConditionalEdges('model', afterModel, ['tools', 'finish', 'approval', END])
    .addConditionalEdges('tools', afterTools, ['model', 'approval', END])
    .addConditionalEdges('finish', afterFinish, ['approval', END])
    .addConditionalEdges('approval', afterApproval, ['model', 'tools', 'finish', END]);
  return graph.compile(dependencies.checkpointer ? { checkpointer: dependencies.checkpointer } : {});
}

const messageHashes = new WeakMap<object, string>();
const toolListHashes = new WeakMap<object, string>();

/**
 * The hash a model request is recorded (and replayed) by: model, parameters, the tools offered
 * and every message. Messages and tool lists are hashed once per object and cached, so a long
 * conversation costs one small hash per step instead of re-serialising the whole request.
 */
export function requestHash(request: {
  model: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  parameters?: Record<string, unknown>;
}): string {
  const messages = request.messages.map((message) => {
    let hash = messageHashes.get(message);
    if (hash === undefined) {
      hash = contentHash(message);
      messageHashes.set(message, hash);
    }
    return hash;
  });
  let tools = toolListHashes.get(request.tools);
  if (tools === undefined) {
    tools = contentHash(request.tools);
    toolListHashes.set(request.tools, tools);
  }
  // contentHash({ model, parameters, tools, messages }) written out directly: its canonical JSON is
  // these keys in this order, and hex hashes need no escaping — the list of message hashes grows
  // with the conversation, so this skips copying and checking it string by string every step.
  const model = JSON.stringify(request.model);
  if (!wellFormedText(request.model)) return contentHash({ model: request.model, parameters: request.parameters ?? null, tools, messages });
  return sha256Hex(
    `{"messages":[${messages.length > 0 ? `"${messages.join('","')}"` : ''}],"model":${model},"parameters":${canonicalJson(request.parameters ?? null)},"tools":"${tools}"}`,
  );
}

/** No lone surrogate (canonical JSON refuses those; contentHash then says why). */
const wellFormedText = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

function toolMessage(call: ToolCall, content: string): ChatMessage {
  return { role: 'tool', toolCallId: call.id, name: call.name, content };
}

function summarize(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** An agent's own limits (spec.limits), applied alongside its policies' limits. */
export interface AgentLimitSettings {
  max_steps?: number;
  max_tool_calls?: number;
  max_tokens?: number;
  max_cost_usd?: number;
  max_duration_ms?: number;
  on_exceeded?: 'stop' | 'hold';
}

const agentLimitCounters = [
  ['max_steps', 'steps'],
  ['max_tool_calls', 'tool_calls'],
  ['max_tokens', 'tokens'],
  ['max_cost_usd', 'cost_usd'],
  ['max_duration_ms', 'elapsed_ms'],
] as const;

/** The first of the agent's own limits the run has reached, shaped like a policy limit crossing. */
function agentLimitCrossing(limits: AgentLimitSettings | undefined, counters: RunCounters): LimitCrossing | undefined {
  if (!limits) return undefined;
  for (const [limit, counter] of agentLimitCounters) {
    const max = limits[limit];
    if (max === undefined || counters[counter] < max) continue;
    const onExceeded = limits.on_exceeded ?? 'stop';
    return {
      limit,
      value: counters[counter],
      max,
      onExceeded,
      policy: 'agent',
      reason: `The run reached ${counters[counter]} (${limit} ${max} set by the agent definition), so it ${onExceeded === 'stop' ? 'stops' : 'is held for approval to continue'}.`,
    };
  }
  return undefined;
}

/** The content hash that names a policy set (what an approval is bound to). */
export function policySetHash(set: PolicySet): string {
  return set.hash;
}
