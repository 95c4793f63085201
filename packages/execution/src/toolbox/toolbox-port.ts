// The port between the agent graph and whatever serves an agent's tools: the graph asks the
// toolbox what a model tool call stands for (a governed action), and runs it once the gate says
// so. Types only, so the graph and the toolboxes depend on this file and not on each other.
import type { Principal } from '@aifactory/core';
import type { ToolCall, ToolSpec } from '../models/index.ts';
import type { EventDraft, ProposedAction } from '../governance/gate.ts';

/** A model tool call resolved to the governed action it stands for. */
export interface ResolvedCall {
  action: ProposedAction;
  /** The internal tool name (or the model's name, for knowledge search and hand-offs). */
  tool: string;
}

/** The run a tool call belongs to, as a toolbox sees it. */
export interface ToolRun {
  runId: string;
  principal: Principal;
  step: number;
}

/** The tools an agent may call, however they are served (MCP, knowledge, hand-offs). */
export interface AgentToolbox {
  /** Tool specs for the model, with model-safe names. */
  specs(): ToolSpec[];
  /** The governed action a model tool call stands for, or an error message for the model. */
  resolve(call: ToolCall): ({ ok: true } & ResolvedCall) | { ok: false; message: string };
  /** Runs an approved call. Never throws: failures come back as { ok: false }. */
  execute(call: ToolCall, resolved: ResolvedCall, run: ToolRun): Promise<ToolOutcome>;
}

/** What running a tool produced. */
export type ToolOutcome =
  | { ok: true; content: string; event: EventDraft; classifications?: string[] }
  | { ok: false; message: string; event: EventDraft }
  /** A hand-off whose child run is held for an approval: the calling run waits for it. */
  | { ok: false; held: { runId: string; approvalId: string; approvers?: unknown }; message: string };
