// The finish node: the final answer is an action too, governed before it is given.
import type { ProposedAction } from '../governance/gate.ts';
import type { AgentStateUpdate, AgentStateValue } from './agent-state.ts';
import type { GraphContext } from './graph-context.ts';

/** Governs the answer and, when allowed, completes the run with it. */
export async function finishNode(context: GraphContext, state: AgentStateValue): Promise<AgentStateUpdate> {
  const text = state.answer ?? '';
  const step = state.step + 1;
  const proposed: ProposedAction = { kind: 'answer', name: 'answer', args: { text } };
  const verdict = await context.govern(state, step, proposed, (args) => ({
    type: 'answer.given',
    actor: context.agent.id,
    payload: { step, text: args.text },
  }));
  if (verdict.kind === 'hold') return context.hold(state, verdict, proposed, 'finish');
  if (verdict.kind === 'deny') return { step, status: 'failed', error: verdict.message };
  context.emit({ type: 'answer', runId: state.runId, text });
  return { step, status: 'completed', approved: null };
}
