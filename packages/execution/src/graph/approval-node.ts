// The approval node: where a held run waits (LangGraph interrupt) and what a human's answer does —
// an approval lets the held node run its action, a rejection tells the model or fails the run, and
// a held hand-off goes on with its child run's outcome.
import { interrupt } from '@langchain/langgraph';
import { handoffOutcome } from '../toolbox/handoff.ts';
import type { AgentStateUpdate, AgentStateValue, ApprovalResume, ChildOutcome, HeldAction } from './agent-state.ts';
import { summarize, toolMessage, type GraphContext } from './graph-context.ts';

/** Applies the human's answer; the time the run waited for it is added to heldMs. */
export function approvalNode(context: GraphContext, state: AgentStateValue): AgentStateUpdate {
  const held = state.held;
  if (!held) return {};
  const update = applyResume(context, state, held);
  return held.heldAtMs === undefined ? update : { ...update, heldMs: (state.heldMs ?? 0) + Math.max(0, context.now() - held.heldAtMs) };
}

function applyResume(context: GraphContext, state: AgentStateValue, held: HeldAction): AgentStateUpdate {
  // Nothing may happen before interrupt(): on resume LangGraph runs this node again from the top.
  const resume = interrupt<{ approvalId: string; step: number; kind: string; name: string }, ApprovalResume>({
    approvalId: held.approvalId,
    step: held.step,
    kind: held.kind,
    name: held.name,
  });
  context.emit({ type: 'approval.applied', runId: state.runId, step: held.step, approvalId: held.approvalId, outcome: resume.outcome });
  if (held.child) {
    if (!resume.child)
      return {
        held: null,
        step: held.step,
        status: 'failed',
        error: `Run '${state.runId}' waits for its hand-off to run '${held.child.runId}', and was resumed without that run's outcome.`,
      };
    return childEnded(context, state, { ...held, child: held.child }, resume.child);
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

/** The child run a waiting run was held on has ended: its answer (or failure) is the hand-off's result. */
function childEnded(
  context: GraphContext,
  state: AgentStateValue,
  held: HeldAction & { child: NonNullable<HeldAction['child']> },
  child: ChildOutcome,
): AgentStateUpdate {
  const outcome = handoffOutcome(held.name, held.child.callId, held.step, child);
  context.gate.defer(state.runId, outcome.event);
  const content = outcome.ok ? outcome.content : outcome.message;
  context.emit({
    type: 'tool.returned',
    runId: state.runId,
    step: held.step,
    name: held.name,
    ok: outcome.ok,
    summary: summarize(content),
  });
  const call = { id: held.child.callId, name: held.child.callName, args: held.args };
  return {
    held: null,
    counters: { ...state.counters, tool_calls: state.counters.tool_calls + 1 },
    messages: [toolMessage(call, outcome.ok ? content : `Error: ${content}`)],
  };
}
