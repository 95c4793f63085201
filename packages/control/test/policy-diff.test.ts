import { describe, expect, it } from 'vitest';
import { diffPolicies, parsePolicy, sampleActions } from '../src/index.ts';
import { policyText } from './helpers.ts';

const version = (threshold: number, extra = '', limits = 'max_steps: 40') =>
  parsePolicy(
    policyText(
      'finance',
      `default: require_approval
limits: { ${limits} }
rules:
  - id: small-refunds
    match: { kind: tool, name: payments.refund }
    when: action.args.amount <= ${threshold}
    authority: autonomous
  - id: drops
    match: { kind: tool, name: db.drop* }
    authority: deny
    reason: never${extra}`,
    ),
    'finance.yaml',
  );

describe('diffPolicies', () => {
  it('lists rules added, removed and changed, and limit changes', () => {
    const before = version(100, '\n  - id: old\n    match: { kind: model }\n    authority: autonomous');
    const after = version(500, '\n  - id: new\n    match: { kind: answer }\n    authority: notify_human\n    notify: [x]', 'max_steps: 20');
    const diff = diffPolicies([before], [after], { samples: 300 });
    expect(diff.policies.changed).toEqual([
      { name: 'finance', before: { version: '1', hash: before.hash }, after: { version: '1', hash: after.hash } },
    ]);
    expect(diff.rules.map((rule) => [rule.ruleId, rule.change, rule.fields])).toEqual([
      ['new', 'added', []],
      ['old', 'removed', []],
      ['small-refunds', 'changed', ['when']],
    ]);
    expect(diff.limits).toEqual([
      { limit: 'max_steps', before: { max: 40, on_exceeded: 'stop' }, after: { max: 20, on_exceeded: 'stop' } },
    ]);
  });

  it('finds the decisions a threshold change moves, on samples built around the thresholds', () => {
    const diff = diffPolicies([version(100)], [version(500)], { samples: 400, seed: 7 });
    expect(Object.keys(diff.sample.transitions)).toEqual(['require_approval -> autonomous']);
    expect(diff.sample.changed).toBeGreaterThan(0);
    const example = diff.sample.examples[0]!;
    expect(example.action.name).toBe('payments.refund');
    expect(example.action.args.amount).toBeGreaterThan(100);
    expect(example.action.args.amount).toBeLessThanOrEqual(500);
    expect(example.after.rules).toEqual(['finance/small-refunds']);
  });

  it('reports nothing for identical policies, and samples deterministically by seed', () => {
    expect(diffPolicies([version(100)], [version(100)]).sample.changed).toBe(0);
    expect(diffPolicies([version(100)], [version(100)]).rules).toEqual([]);
    expect(sampleActions([version(100)], 20, 3)).toEqual(sampleActions([version(100)], 20, 3));
    const values = new Set(sampleActions([version(100)], 200, 3).map((sample) => sample.action.args.amount));
    expect([...values].sort()).toEqual(expect.arrayContaining([99, 100, 101]));
  });
});
