// Hand-offs to other agents (the supervisor pattern): each agent an agent may hand to is a tool
// `handoff__<agent>`; calling it runs that agent as a child run and returns its answer.
import type { Principal } from '@aifactory/core';
import type { ToolCall, ToolSpec } from '../models/index.ts';
import { toModelToolName } from '../tools/tool-names.ts';
import type { ResolvedCall, ToolOutcome, ToolRun } from './toolbox-port.ts';

/** Runs another agent as a child run and returns its answer, or the approval it is held for. */
export type HandoffRunner = (
  agent: string,
  task: string,
  parent: { runId: string; principal: Principal },
) => Promise<{ runId: string; status: string; answer?: string; error?: string; approvalId?: string; approvers?: unknown }>;

const handoffPrefix = 'handoff__';

/**
 * What a hand-off produced once its child run ended: the child's answer, or its failure, as the
 * tool result (the toolbox when the child ends at once; the graph when a held child ends later).
 */
export function handoffOutcome(
  agent: string,
  callId: string,
  step: number,
  child: { runId: string; status: string; answer?: string; error?: string },
): Exclude<ToolOutcome, { held: unknown }> {
  const ok = child.status === 'completed';
  const event = {
    type: ok ? ('tool.returned' as const) : ('tool.failed' as const),
    actor: agent,
    payload: {
      step,
      call_id: callId,
      name: `handoff:${agent}`,
      child_run: child.runId,
      status: child.status,
      ...(ok ? { content: child.answer ?? '' } : { error: { code: 'handoff_failed', message: child.error ?? child.status } }),
    },
  };
  return ok
    ? { ok: true, content: child.answer ?? '', event }
    : { ok: false, message: `Hand-off to '${agent}' ended ${child.status}${child.error ? `: ${child.error}` : ''}.`, event };
}

/** The hand-off tools of one agent. */
export class HandoffTools {
  readonly #agents: Set<string>;
  readonly #run: HandoffRunner | undefined;

  constructor(agents: readonly string[], run?: HandoffRunner) {
    this.#agents = new Set(agents);
    this.#run = run;
  }

  /** One tool spec per agent this one may hand to. */
  specs(): ToolSpec[] {
    return [...this.#agents].map((agent) => ({
      name: toModelToolName(`${handoffPrefix}${agent}`),
      description: `Hand the task to the '${agent}' agent and get its answer.`,
      inputSchema: { type: 'object', properties: { task: { type: 'string' } }, required: ['task'], additionalProperties: false },
    }));
  }

  /** Whether the model's tool name is a hand-off's. */
  claims(call: ToolCall): boolean {
    return call.name.startsWith(handoffPrefix);
  }

  /** The hand-off action a call stands for, or why there is none. */
  resolve(call: ToolCall): ({ ok: true } & ResolvedCall) | { ok: false; message: string } {
    const agent = [...this.#agents].find((candidate) => toModelToolName(`${handoffPrefix}${candidate}`) === call.name);
    if (!agent) return { ok: false, message: `Unknown hand-off '${call.name}'. Available: ${[...this.#agents].join(', ') || 'none'}.` };
    const task = typeof call.args.task === 'string' ? call.args.task : JSON.stringify(call.args);
    return { ok: true, action: { kind: 'handoff', name: agent, args: { task } }, tool: call.name };
  }

  /** Whether hand-offs can run here (a replay without a runner serves recorded answers instead). */
  get runnable(): boolean {
    return this.#run !== undefined;
  }

  /** Runs the child; a held child holds this run on the child's approval. */
  async execute(call: ToolCall, resolved: ResolvedCall, run: ToolRun): Promise<ToolOutcome> {
    const child: { runId: string; status: string; answer?: string; error?: string; approvalId?: string; approvers?: unknown } = await this
      .#run!(resolved.action.name, String(resolved.action.args.task), run).catch((error: unknown) => ({
      runId: '',
      status: 'failed',
      error: error instanceof Error ? error.message : String(error),
    }));
    // The child waits for a human: so does this run, on the child's approval.
    if (child.status === 'held' && child.approvalId) {
      return {
        ok: false,
        held: {
          runId: child.runId,
          approvalId: child.approvalId,
          ...(child.approvers !== undefined ? { approvers: child.approvers } : {}),
        },
        message: `Hand-off to '${resolved.action.name}' waits for approval ${child.approvalId} in run '${child.runId}'.`,
      };
    }
    return handoffOutcome(resolved.action.name, call.id, run.step, child);
  }
}
