// The state of one agent run as LangGraph checkpoints it, and the shapes around it: an action
// parked for approval, what a resumed approval brings, how a hand-off's child run ended.
import { Annotation } from '@langchain/langgraph';
import type { PolicySet, RunCounters } from '@aifactory/control';
import type { Principal } from '@aifactory/core';
import type { ChatMessage, ToolCall } from '../models/index.ts';
import type { ProposedAction } from '../governance/gate.ts';

/** What the run has spent, kept in its state; the time elapsed is measured when a limit is checked. */
export type SpentCounters = Omit<RunCounters, 'elapsed_ms'>;

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
  principal: Annotation<Principal>(),
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
/** What a node returns: the fields of the state it changes. */
export type AgentStateUpdate = Partial<AgentStateValue>;

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

/** The content hash that names a policy set (what an approval is bound to). */
export function policySetHash(set: PolicySet): string {
  return set.hash;
}

/**
 * Whether a LangGraph checkpoint is of a run whose graph ended, completed or failed: nothing
 * resumes such a run (its trace records how it ended), so the store need not keep it. Before this,
 * every run stored one at its end — its whole conversation, encrypted — only for a crash between
 * the graph's end and run.completed, which recovery handles without it (from the last checkpoint
 * kept or the input, the trace serving back every recorded outcome), as after any crash mid-run.
 */
export function endedRunCheckpoint(checkpoint: { channel_values: Record<string, unknown> }): boolean {
  const status = checkpoint.channel_values.status;
  return (status === 'completed' || status === 'failed') && !checkpoint.channel_values.held;
}
