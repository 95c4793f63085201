// The model node: governs the model call (itself an action), calls the model through the gateway
// and keeps the tool calls it proposes for the tools node; a fallback model is decided like the first.
import type { ChatMessage, ModelResponse } from '../models/index.ts';
import type { ProposedAction } from '../governance/gate.ts';
import { decisionSummary } from '../governance/gate.ts';
import type { AgentStateUpdate, AgentStateValue, SpentCounters } from './agent-state.ts';
import type { GraphContext } from './graph-context.ts';

/** Calls the model once, governed; the answer or the tool calls it proposes go into the state. */
export async function modelNode(context: GraphContext, state: AgentStateValue): Promise<AgentStateUpdate> {
  const step = state.step + 1;
  // Governed ahead only when no limit was reached, so there is nothing to enforce here then.
  const early = await context.ahead?.take(state.runId, { node: 'model', step, key: String(state.messages.length) });
  let liftedLimits = state.liftedLimits;
  if (!early) {
    const limits = await context.enforceLimits(state, 'model');
    if (limits.kind !== 'go') return limits.update;
    liftedLimits = limits.lifted;
  }
  const { request, proposed, intent } = context.modelCall(state, step);
  const verdict = early ? await early(proposed) : await context.govern(state, step, proposed, intent);
  if (verdict.kind === 'deny') return { step, status: 'failed', error: verdict.message };
  if (verdict.kind === 'hold') return { step: step - 1, ...(await context.hold(state, verdict, proposed, 'model')) };
  let response: ModelResponse;
  try {
    response = await context.models.call(request, {
      onToken: (text) => context.emit({ type: 'token', runId: state.runId, text }),
      attribution: { ...(context.agent.team ? { team: context.agent.team } : {}), agent: context.agent.id, runId: state.runId },
      // The agent's own fallback, if it names one; the gateway still calls it only when it is registered.
      ...(context.agent.fallback !== undefined ? { fallback: context.agent.fallback } : {}),
      // A fallback model is another model call: it is decided and recorded like the first.
      beforeFallback: (fallback) => governFallback(context, state, step, proposed, fallback),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    context.gate.defer(state.runId, { type: 'model.failed', actor: context.agent.id, payload: { step, error: message } });
    return { step, status: 'failed', error: message, approved: null };
  }
  context.gate.defer(state.runId, {
    type: 'model.responded',
    actor: context.agent.id,
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
  if (update.pending.length > 0) context.toolAhead({ ...state, ...update, messages: state.messages });
  return update;
}

/** Decides a fallback model before the gateway calls it; true when it may run. */
async function governFallback(
  context: GraphContext,
  state: AgentStateValue,
  step: number,
  proposed: ProposedAction,
  fallback: { model: string; reason: string },
): Promise<boolean> {
  const [fallbackProvider = fallback.model, ...fallbackRest] = fallback.model.split(':');
  const fallbackAction: ProposedAction = {
    kind: 'model',
    name: fallback.model,
    args: {
      ...proposed.args,
      provider: fallbackProvider,
      model: fallbackRest.join(':'),
      fallback_for: context.agent.model,
      reason: fallback.reason,
    },
  };
  // The model call is under way and cannot wait for a human: a fallback that would be held is refused.
  const fallbackVerdict = await context.gate.govern(
    context.runContext(state),
    step,
    fallbackAction,
    (args) => ({ type: 'model.requested', actor: context.agent.id, payload: { step, ...args } }),
    { openApproval: false },
  );
  context.emit({
    type: 'action.decided',
    runId: state.runId,
    step,
    kind: 'model',
    name: fallback.model,
    args: fallbackAction.args,
    ...decisionSummary(fallbackVerdict.decision),
  });
  if (fallbackVerdict.notified.length > 0)
    context.emit({ type: 'notification.queued', runId: state.runId, step, targets: [...fallbackVerdict.notified] });
  return fallbackVerdict.kind === 'execute';
}
