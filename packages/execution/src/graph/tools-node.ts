// The tools node: each pending tool call is resolved by the toolbox, checked against the limits,
// governed and (when the gate says so) executed; a hand-off whose child run is held parks this run.
import { contentHash } from '@aifactory/core';
import type { ChatMessage, ToolCall } from '../models/index.ts';
import type { ProposedAction, Verdict } from '../governance/gate.ts';
import { policySetHash, type AgentStateUpdate, type AgentStateValue, type HeldAction } from './agent-state.ts';
import { summarize, toolMessage, type GraphContext } from './graph-context.ts';

/** Runs the pending tool calls in order, each governed, until they are done or one parks the run. */
export async function toolsNode(context: GraphContext, state: AgentStateValue): Promise<AgentStateUpdate> {
  let step = state.step;
  let counters = state.counters;
  let classifications = state.classifications;
  let approved = state.approved;
  let liftedLimits = state.liftedLimits;
  const pending = [...state.pending];
  const messages: ChatMessage[] = [];
  const view = (): AgentStateValue => ({ ...state, step, counters, classifications, approved, liftedLimits });
  // The first call may have been governed ahead by the model node (when no limit was reached).
  let early =
    pending.length > 0 ? await context.ahead?.take(state.runId, { node: 'tools', step: step + 1, key: pending[0]!.id }) : undefined;
  while (pending.length > 0) {
    if (!early) {
      const limits = await context.enforceLimits(view(), 'tools');
      if (limits.kind !== 'go') return { ...limits.update, messages, pending, step, counters, classifications, liftedLimits };
      if (limits.lifted !== liftedLimits) approved = null;
      liftedLimits = limits.lifted;
    }
    const call = pending[0]!;
    const resolved = context.toolbox.resolve(call);
    if (!resolved.ok) {
      // Invalid calls never reach the policy: nothing runs, and the model is told why.
      context.gate.defer(state.runId, {
        type: 'tool.failed',
        actor: context.agent.id,
        payload: { step: step + 1, call_id: call.id, name: call.name, error: { code: 'invalid_call', message: resolved.message } },
      });
      messages.push(toolMessage(call, `Error: ${resolved.message}`));
      pending.shift();
      early = undefined;
      continue;
    }
    const nextStep = step + 1;
    const verdict = early ? await early(resolved.action) : await context.governToolCall(view(), nextStep, call, resolved.action);
    early = undefined;
    if (verdict.kind === 'hold') {
      const update = await context.hold(view(), verdict, resolved.action, 'tools');
      return { ...update, messages, pending, step, counters, classifications, liftedLimits };
    }
    step = nextStep;
    approved = null;
    pending.shift();
    if (verdict.kind === 'deny') {
      messages.push(toolMessage(call, `Error: ${verdict.message}`));
      continue;
    }
    const outcome = await context.toolbox.execute(call, resolved, { runId: state.runId, principal: state.principal, step });
    if ('held' in outcome) {
      const held = await waitForChild(context, view(), call, resolved.action, verdict, outcome.held);
      return { held, messages, pending, step, counters, classifications, liftedLimits, approved: null };
    }
    context.gate.defer(state.runId, outcome.event);
    counters = { ...counters, tool_calls: counters.tool_calls + 1 };
    if (outcome.ok && outcome.classifications) classifications = [...new Set([...classifications, ...outcome.classifications])];
    context.emit({
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
  context.modelAhead({ ...state, ...update, messages: state.messages.concat(messages) });
  return update;
}

/**
 * Parks the run on a hand-off that already ran and whose child run is held: the human approves
 * the child's action (its approval id stands for this run's too), and this run goes on with the
 * child's answer once the child ends.
 */
async function waitForChild(
  context: GraphContext,
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
    policyHash: policySetHash(context.gate.policySet),
    node: 'tools',
    child: { runId: child.runId, callId: call.id, callName: call.name },
    heldAtMs: context.now(),
  };
  await context.markHeld(state.runId, held);
  context.emit({
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
