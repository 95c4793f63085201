// The governed actions of a recorded run rebuilt as decide() saw them: the action (kind, name,
// recorded arguments, agent, principal and the run's counters at that point) and the context
// (data classifications read so far, the recorded clock), next to the decision recorded for it.
// What-if and impact re-decide these under other policies without running anything.
import type { Action, Authority, DecisionContext, MatchedRule } from '@aifactory/control';
import type { RecordedRun } from './recorded-run.ts';

/** One recorded decision, with the action and context rebuilt from the trace. */
export interface RecordedAction {
  runId: string;
  step: number;
  /** Seq of the policy.decided event. */
  seq: number;
  action: Action;
  context: DecisionContext;
  /** The decision as recorded. */
  recorded: { authority: Authority; rules: MatchedRule[]; reason: string };
  /** Whether the recorded arguments were masked or redacted (re-decisions then see the masked values). */
  masked: boolean;
  /** How the recorded run went on after the decision when it was held: approved, rejected, or still waiting. */
  approval?: 'approved' | 'rejected' | 'pending';
}

/** Options of recordedActions. */
export interface RecordedActionsOptions {
  /** Agent tags (not recorded in the trace; from the agent definition when known). */
  agentTags?: string[];
}

const masked = /\[(MASKED|REDACTED)[^\]]*\]/;

/**
 * Walks the events in order, keeping the counters the gate saw: outcomes of step N are committed
 * before the decision of step N+1, so the counters at each policy.decided are those of the run.
 */
export function recordedActions(run: RecordedRun, options: RecordedActionsOptions = {}): RecordedAction[] {
  const counters = { steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0 };
  let classifications: string[] = [];
  const roles = Array.isArray(run.metadata.principal_roles) ? run.metadata.principal_roles.map(String) : [];
  const agent = { id: run.agent, ...(run.team ? { team: run.team } : {}), ...(options.agentTags ? { tags: options.agentTags } : {}) };
  const startedAtMs = run.startedAt.getTime();
  const actions: RecordedAction[] = [];
  const retrievalClassifications = new Map<number, string[]>();
  const held = new Map<string, RecordedAction>();
  for (const event of run.events) {
    const payload = event.payload;
    if (!payload) continue;
    switch (event.type) {
      case 'model.responded': {
        const usage = (payload.usage ?? {}) as Record<string, unknown>;
        counters.steps += 1;
        counters.tokens += Number(usage.inputTokens ?? usage.input_tokens ?? 0) + Number(usage.outputTokens ?? usage.output_tokens ?? 0);
        counters.cost_usd += Number(payload.cost_usd ?? 0);
        break;
      }
      case 'tool.returned':
        counters.tool_calls += 1;
        break;
      case 'tool.failed': {
        // Invalid calls never reached the policy and did not count.
        const error = payload.error as { code?: string } | undefined;
        if (error?.code !== 'invalid_call') counters.tool_calls += 1;
        break;
      }
      case 'retrieval.performed': {
        counters.tool_calls += 1;
        const read = retrievalClassifications.get(Number(payload.step)) ?? [];
        classifications = [...new Set([...classifications, ...read])];
        break;
      }
      case 'run.resumed': {
        const key = `${String(payload.step)}`;
        const action = held.get(key);
        if (action) action.approval = payload.outcome === 'rejected' ? 'rejected' : 'approved';
        break;
      }
      case 'policy.decided': {
        // A call denied for arguments that failed the tool's schema never reached the policy: nothing to re-decide.
        if (payload.arguments_invalid !== undefined) break;
        const recordedAction = (payload.action ?? {}) as { kind?: string; name?: string; args?: Record<string, unknown> };
        const decision = (payload.decision ?? {}) as { authority?: Authority; rules?: MatchedRule[]; reason?: string };
        const step = Number(payload.step);
        const args = recordedAction.args ?? {};
        const action: Action = {
          kind: (recordedAction.kind ?? 'tool') as Action['kind'],
          name: recordedAction.name ?? '',
          args,
          agent,
          principal: { id: run.principal, roles },
          run: { id: run.id, ...counters, elapsed_ms: Math.max(0, event.ts.getTime() - startedAtMs) },
        };
        let context: DecisionContext = { data: { classifications }, now: event.ts };
        if (action.kind === 'retrieval') {
          // The trace names the collections and the union of their classifications.
          const read = Array.isArray(args.classifications) ? args.classifications.map(String) : [];
          const names = Array.isArray(args.collections) ? args.collections.map(String) : [action.name];
          retrievalClassifications.set(step, read);
          context = {
            data: {
              classifications: [...new Set([...classifications, ...read])],
              collections: names.map((name) => ({ name, classifications: read })),
            },
            now: event.ts,
          };
        }
        const entry: RecordedAction = {
          runId: run.id,
          step,
          seq: event.seq,
          action,
          context,
          recorded: { authority: decision.authority ?? 'deny', rules: decision.rules ?? [], reason: decision.reason ?? '' },
          masked: event.redacted || masked.test(JSON.stringify(args)),
        };
        if (entry.recorded.authority === 'require_approval') {
          entry.approval = 'pending';
          held.set(String(step), entry);
        }
        actions.push(entry);
        break;
      }
      default:
        break;
    }
  }
  return actions;
}
