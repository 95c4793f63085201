// Run limits: the runtime asks before each step whether the run has reached one. Pure: the
// runtime passes its counters, including elapsed time.
import type { RunCounters } from './action.ts';
import type { LimitBehaviour } from './policy.ts';
import { LIMIT_NAMES, type LimitName, type PolicySet } from './policy-set.ts';

/** A limit the run has reached, and what must happen now. */
export interface LimitCrossing {
  /** Which limit. */
  limit: LimitName;
  /** The run's counter. */
  value: number;
  /** The limit's maximum. */
  max: number;
  /** stop: end the run as failed; hold: park the run until an approver lets it continue. */
  onExceeded: LimitBehaviour;
  /** The policy that set the limit. */
  policy: string;
  /** One sentence for people. */
  reason: string;
}

const counterOf: Record<LimitName, keyof RunCounters> = {
  max_steps: 'steps',
  max_tool_calls: 'tool_calls',
  max_tokens: 'tokens',
  max_cost_usd: 'cost_usd',
  max_duration_ms: 'elapsed_ms',
};

const words: Record<LimitName, string> = {
  max_steps: 'steps',
  max_tool_calls: 'tool calls',
  max_tokens: 'tokens',
  max_cost_usd: 'US dollars spent',
  max_duration_ms: 'milliseconds elapsed',
};

/**
 * The limit a run has reached (counter >= maximum: the next action would go beyond it), or
 * undefined. When several are reached, a `stop` one is reported before a `hold` one, then in
 * LIMIT_NAMES order. A counter that is not a finite number counts as reached (fail closed).
 */
export function checkLimits(set: PolicySet, counters: RunCounters): LimitCrossing | undefined {
  let found: LimitCrossing | undefined;
  for (const limit of LIMIT_NAMES) {
    const setting = set.limits[limit];
    if (!setting) continue;
    const raw = (counters as unknown as Record<string, unknown> | undefined)?.[counterOf[limit]];
    const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : Number.POSITIVE_INFINITY;
    if (value < setting.max) continue;
    const readable = Number.isFinite(value) ? String(value) : 'an unreadable value';
    const crossing: LimitCrossing = {
      limit,
      value,
      max: setting.max,
      onExceeded: setting.on_exceeded,
      policy: setting.policy,
      reason: `The run reached ${readable} ${words[limit]} (${limit} ${setting.max} set by ${setting.policy}), so it ${setting.on_exceeded === 'stop' ? 'stops' : 'is held for approval to continue'}.`,
    };
    if (crossing.onExceeded === 'stop') return crossing;
    found ??= crossing;
  }
  return found;
}
