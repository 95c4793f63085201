import { describe, expect, it } from 'vitest';
import { checkLimits } from '../src/index.ts';
import { setOf } from './helpers.ts';

const counters = { steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 };

describe('limits', () => {
  const set = setOf(
    ['org', 'limits: { max_steps: 40, max_cost_usd: 5, max_duration: 1h }\nverification: { audit_trail: true, retention_days: 400 }'],
    [
      'team',
      'limits: { max_steps: 20, max_tool_calls: 10, on_exceeded: hold }\nverification: { replay: true, seal: true, retention_days: 30 }',
    ],
  );

  it('merges the smallest maximum of every policy, with the behaviour of the policy that set it', () => {
    expect(set.limits).toEqual({
      max_steps: { max: 20, on_exceeded: 'hold', policy: 'team' },
      max_tool_calls: { max: 10, on_exceeded: 'hold', policy: 'team' },
      max_cost_usd: { max: 5, on_exceeded: 'stop', policy: 'org' },
      max_duration_ms: { max: 3_600_000, on_exceeded: 'stop', policy: 'org' },
    });
  });

  it('merges verification requirements: any policy asking makes it required, the longest retention wins', () => {
    expect(set.verification).toEqual({
      audit_trail: true,
      replay: true,
      seal: true,
      retention_days: 400,
      required_by: { audit_trail: ['org'], replay: ['team'], seal: ['team'], retention_days: ['org', 'team'] },
    });
  });

  it('reports nothing below the limits and a crossing once a counter reaches its maximum', () => {
    expect(checkLimits(set, { ...counters, steps: 19 })).toBeUndefined();
    expect(checkLimits(set, { ...counters, steps: 20 })).toEqual({
      limit: 'max_steps',
      value: 20,
      max: 20,
      onExceeded: 'hold',
      policy: 'team',
      reason: 'The run reached 20 steps (max_steps 20 set by team), so it is held for approval to continue.',
    });
  });

  it('reports a stopping limit before a holding one', () => {
    expect(checkLimits(set, { ...counters, steps: 25, cost_usd: 5.01 })).toMatchObject({ limit: 'max_cost_usd', onExceeded: 'stop' });
    expect(checkLimits(set, { ...counters, elapsed_ms: 3_600_000 })).toMatchObject({ limit: 'max_duration_ms', onExceeded: 'stop' });
  });

  it('treats an unreadable counter as reached (fail closed)', () => {
    expect(checkLimits(set, { ...counters, cost_usd: Number.NaN })).toMatchObject({
      limit: 'max_cost_usd',
      reason: expect.stringContaining('an unreadable value'),
    });
    expect(checkLimits(set, undefined as never)).toMatchObject({ limit: 'max_cost_usd' });
  });

  it('has no limits when no policy sets any', () => {
    expect(checkLimits(setOf(['free', 'default: autonomous']), { ...counters, steps: 1e9 })).toBeUndefined();
  });
});
