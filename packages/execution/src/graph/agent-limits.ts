// An agent's own limits (spec.limits), checked beside its policies' limits and shaped like them.
import type { LimitCrossing, RunCounters } from '@aifactory/control';

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
export function agentLimitCrossing(limits: AgentLimitSettings | undefined, counters: RunCounters): LimitCrossing | undefined {
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
