import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUTHORITIES, compilePolicies, decide, parsePolicy, type Action, type Authority, type Decision } from '../src/index.ts';
import { action, policyText, setOf, withData } from './helpers.ts';

const finance = `default: require_approval
rules:
  - id: small-refunds
    match: { kind: tool, name: payments.refund }
    when: action.args.amount <= 100
    authority: autonomous
  - id: large-refunds
    match: { kind: tool, name: payments.* }
    when: action.args.amount > 5000
    authority: require_approval
    approvers: { roles: [finance-manager], count: 2 }
  - id: no-drops
    match: { kind: tool, name: db.drop* }
    authority: deny
    reason: Destructive schema changes are never delegated to agents.`;

describe('decide', () => {
  const set = setOf(['finance-ops', finance]);

  it('returns the authority of the matching rule with the values its condition saw and the policy hash', () => {
    const decision = decide(set, action('tool', 'payments.refund', { amount: 40, currency: 'EUR' }));
    expect(decision).toMatchObject({
      authority: 'autonomous',
      defaulted: false,
      rules: [{ policy: 'finance-ops', ruleId: 'small-refunds', authority: 'autonomous', values: { 'action.args.amount': 40 } }],
      policies: [{ name: 'finance-ops', version: '1', hash: set.policies[0]!.hash }],
      reason: 'Allowed without a human by finance-ops/small-refunds.',
    });
  });

  it('carries approvers exactly when an action is held', () => {
    const held = decide(set, action('tool', 'payments.refund', { amount: 9000 }));
    expect(held.authority).toBe('require_approval');
    expect(held.obligations.approvers).toEqual({ roles: ['finance-manager'], count: 2, separation_of_duties: true, on_expiry: 'deny' });
    expect(decide(set, action('tool', 'payments.refund', { amount: 40 })).obligations.approvers).toBeUndefined();
  });

  it('falls back to the default for the kind, and denies kinds no policy gives a default', () => {
    const only = setOf(['team', 'default: { tool: notify_human }\nnotify: [ops@example.com]']);
    expect(decide(only, action('tool', 'anything'))).toMatchObject({
      authority: 'notify_human',
      defaulted: true,
      obligations: { notify: ['ops@example.com'] },
    });
    const model = decide(only, action('model', 'openai:gpt'));
    expect(model).toMatchObject({ authority: 'deny', defaulted: true });
    expect(model.reason).toBe("Denied: no rule applied to model 'openai:gpt' and no policy sets a default for model actions.");
  });

  it('lets deny override everything, across policies', () => {
    const layered = setOf(
      ['org', 'rules:\n  - id: no-exports\n    match: { kind: tool, name: "*.export" }\n    authority: deny\n    reason: No exports.'],
      ['team', 'rules:\n  - id: team-exports\n    match: { kind: tool, name: warehouse.export }\n    authority: autonomous'],
    );
    const decision = decide(layered, action('tool', 'warehouse.export'));
    expect(decision.authority).toBe('deny');
    expect(decision.rules.map((rule) => `${rule.policy}/${rule.ruleId}`)).toEqual(['org/no-exports', 'team/team-exports']);
    expect(decision.reason).toBe('Denied by org/no-exports: No exports.');
  });

  it('fails closed: a restricting rule whose condition fails applies, a loosening one is skipped, and the decision says why', () => {
    const decision = decide(set, action('tool', 'payments.refund', { currency: 'EUR' }));
    expect(decision.authority).toBe('require_approval');
    expect(decision.rules).toEqual([
      { policy: 'finance-ops', ruleId: 'large-refunds', authority: 'require_approval', values: {}, conditionError: 'No such key: amount' },
    ]);
    expect(decision.skipped).toEqual([
      { policy: 'finance-ops', ruleId: 'small-refunds', authority: 'autonomous', values: {}, conditionError: 'No such key: amount' },
    ]);
    expect(decision.reason).toBe(
      'Held for approval by finance-ops/large-refunds; 2 conditions failed (first: finance-ops/large-refunds, No such key: amount), 1 applied (fail closed), 1 skipped (they would have loosened the outcome).',
    );
    const single = decide(
      setOf(['one', finance.replace(/ {2}- id: large-refunds[\s\S]*?count: 2 }\n/, '')]),
      action('tool', 'payments.refund', {}),
    );
    expect(single.reason).toBe(
      "Held for approval: no rule applied to tool 'payments.refund', so the default for tool actions applies (one); the condition of one/small-refunds failed (No such key: amount), so the rule was skipped (it would have loosened the outcome).",
    );
  });

  it('treats a condition that gives something other than true or false as failed', () => {
    const odd = setOf([
      'odd',
      'default: deny\nrules:\n  - id: dyn\n    match: { kind: tool }\n    when: action.args.flag\n    authority: autonomous',
    ]);
    const decision = decide(odd, action('tool', 'x', { flag: 'yes' }));
    expect(decision.authority).toBe('deny');
    expect(decision.skipped[0]?.conditionError).toBe('the condition gave the text "yes", not true or false');
  });

  it('never reads arguments off prototypes', () => {
    const guarded = setOf([
      'p',
      'default: require_approval\nrules:\n  - id: admin\n    match: { kind: tool }\n    when: action.args.isAdmin == true\n    authority: autonomous\n  - id: block\n    match: { kind: tool }\n    when: action.args.toString != null\n    authority: deny',
    ]);
    const args = Object.create({ isAdmin: true }) as Record<string, unknown>;
    const decision = decide(guarded, action('tool', 'x', args));
    expect(decision.authority).toBe('deny');
    expect(decision.rules).toMatchObject([{ ruleId: 'block', conditionError: 'No such key: toString' }]);
    expect(decision.skipped).toMatchObject([{ ruleId: 'admin', conditionError: 'No such key: isAdmin' }]);
  });

  it('reads data classifications, collections, principal roles and the clock', () => {
    const context = setOf([
      'ctx',
      `default: autonomous
rules:
  - id: pii
    match: { kind: answer }
    when: '"pii" in data.classifications && !("dpo" in principal.roles)'
    authority: notify_human
    notify: [dpo@example.com]
  - id: restricted
    match: { kind: retrieval }
    when: data.collections.exists(c, "restricted" in c.classifications)
    authority: deny
    reason: Restricted.
  - id: night
    match: { kind: tool }
    when: now.getHours() >= 22
    authority: require_approval`,
    ]);
    expect(decide(context, action('answer', 'answer'), withData('pii'))).toMatchObject({
      authority: 'notify_human',
      rules: [{ values: { 'data.classifications': ['pii'], 'principal.roles': ['analyst'] } }],
      obligations: { notify: ['dpo@example.com'] },
    });
    expect(decide(context, action('answer', 'answer')).authority).toBe('autonomous');
    expect(
      decide(context, action('retrieval', 'docs'), {
        data: { classifications: [], collections: [{ name: 'docs', classifications: ['restricted'] }] },
      }).authority,
    ).toBe('deny');
    const night = decide(context, action('tool', 'x'), { now: new Date('2025-01-01T23:00:00Z') });
    expect(night).toMatchObject({ authority: 'require_approval', rules: [{ values: { now: new Date('2025-01-01T23:00:00Z') } }] });
    expect(decide(context, action('tool', 'x'), { now: new Date('2025-01-01T09:00:00Z') }).authority).toBe('autonomous');
  });

  it('merges obligations: notify targets and redactions of every rule, approvers of the holding rules', () => {
    const merged = setOf([
      'm',
      `rules:
  - id: a
    match: { kind: tool, name: pay.* }
    authority: require_approval
    notify: [b@example.com]
    approvers: { roles: [finance, risk], count: 1, expires_in: 4h }
    redact: [card.number]
  - id: b
    match: { kind: tool, name: pay.out }
    authority: require_approval
    notify: [a@example.com]
    approvers: { roles: [risk], count: 2, separation_of_duties: false, expires_in: 1h, on_expiry: approve }
    redact: [iban]`,
    ]);
    expect(decide(merged, action('tool', 'pay.out')).obligations).toEqual({
      notify: ['a@example.com', 'b@example.com'],
      approvers: { roles: ['risk'], count: 2, separation_of_duties: true, expires_in_ms: 3_600_000, on_expiry: 'deny' },
      redact: ['card.number', 'iban'],
    });
  });

  it('matches names as names, not paths: * matches slashes, leading dots and newlines', () => {
    const all = setOf([
      'all',
      'default: autonomous\nrules:\n  - id: everything\n    match: { kind: tool, name: "*" }\n    authority: deny\n    reason: r\n  - id: fs\n    match: { kind: tool, name: "fs?read" }\n    authority: notify_human',
    ]);
    for (const name of ['a/b', '../etc/passwd', '.hidden', '..', '', 'line\nbreak', 'ünïcode']) {
      expect(decide(all, action('tool', name)).authority).toBe('deny');
    }
    expect(decide(all, action('tool', 'fs/read')).rules.map((rule) => rule.ruleId)).toEqual(['everything', 'fs']);
  });

  it('denies what it cannot read instead of throwing', () => {
    expect(decide(set, { ...action('tool', 'x'), kind: 'shell' as never }).reason).toContain('the action kind "shell" is not one of');
    expect(decide(set, { ...action('tool', 'x'), name: 42 as never }).authority).toBe('deny');
    expect(decide(set, null as never).authority).toBe('deny');
    expect(decide({} as never, action('tool', 'x')).reason).toContain('not built by compilePolicies()');
  });

  it('returns frozen decisions, and the same object for repeated unconditional decisions', () => {
    const first = decide(set, action('tool', 'db.drop_table'));
    expect(Object.isFrozen(first) && Object.isFrozen(first.rules) && Object.isFrozen(first.obligations)).toBe(true);
    expect(decide(set, action('tool', 'db.drop_table'))).toBe(first);
  });

  it('never throws and always returns one of the four authorities, whatever the action holds', () => {
    const anything = fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
    });
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.oneof(fc.constantFrom('tool', 'model', 'answer'), anything),
          name: fc.oneof(fc.constantFrom('payments.refund', 'db.drop_x'), fc.string(), anything),
          args: fc.oneof(fc.dictionary(fc.string(), anything), anything),
        }),
        fc.oneof(fc.constant(undefined), fc.record({ data: anything, now: anything })),
        (raw, context) => {
          const decision = decide(set, { ...action('tool', 'x'), ...(raw as object) } as Action, context as never);
          expect(AUTHORITIES).toContain(decision.authority);
          expect(typeof decision.reason).toBe('string');
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('rule order never changes an outcome', () => {
  const rules = [
    'id: r1\n  match: { kind: tool, name: pay.* }\n  when: action.args.amount > 100\n  authority: require_approval',
    'id: r2\n  match: { kind: tool, name: pay.refund }\n  when: action.args.amount <= 100\n  authority: autonomous',
    'id: r3\n  match: { kind: tool, name: "*" }\n  when: agent.team != "finance"\n  authority: deny\n  reason: Finance only.',
    'id: r4\n  match: { kind: [tool, model], name: "*" }\n  when: run.cost_usd > 1.5\n  authority: notify_human\n  notify: [ops@example.com]',
    'id: r5\n  match: { kind: tool, name: "pay.{refund,void}" }\n  when: action.args.currency == "JPY"\n  authority: require_approval\n  approvers: { roles: [jp], count: 1 }',
    'id: r6\n  match: { kind: tool, name: pay.refund }\n  authority: notify_human\n  redact: [card]',
  ];
  const policyOf = (name: string, picked: string[], defaultAuthority: Authority): string =>
    policyText(
      name,
      `default: ${defaultAuthority}\nrules:${picked.length === 0 ? ' []' : ''}\n${picked.map((rule) => `  - ${rule.replaceAll('\n', '\n  ')}`).join('\n')}`,
    );

  it('gives identical decisions for any order of rules and of policies', () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(rules, { minLength: 1 }),
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom<Authority>(...AUTHORITIES),
        fc.record({
          amount: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(undefined)),
          currency: fc.constantFrom('EUR', 'JPY'),
          team: fc.constantFrom('finance', 'support'),
          cost: fc.double({ min: 0, max: 3, noNaN: true }),
          name: fc.constantFrom('pay.refund', 'pay.void', 'db.read'),
        }),
        (picked, split, defaultAuthority, input) => {
          const cut = Math.min(split, picked.length);
          const forward = compilePolicies([
            parsePolicy(policyOf('a', picked.slice(0, cut), defaultAuthority), 'a.yaml'),
            parsePolicy(policyOf('b', picked.slice(cut), defaultAuthority), 'b.yaml'),
          ]);
          const reversed = compilePolicies([
            parsePolicy(policyOf('b', picked.slice(cut).reverse(), defaultAuthority), 'b.yaml'),
            parsePolicy(policyOf('a', picked.slice(0, cut).reverse(), defaultAuthority), 'a.yaml'),
          ]);
          const args: Record<string, unknown> = { currency: input.currency };
          if (input.amount !== undefined) args.amount = input.amount;
          const subject = action('tool', input.name, args, {
            agent: { id: 'x', team: input.team },
            run: { id: 'r', steps: 0, tool_calls: 0, tokens: 0, cost_usd: input.cost, elapsed_ms: 0 },
          });
          const left = decide(forward, subject);
          const right = decide(reversed, subject);
          expect(withoutHashes(right)).toEqual(withoutHashes(left));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Policy hashes differ when rule text order differs; everything else must be identical. */
function withoutHashes(decision: Decision): unknown {
  return { ...decision, policies: decision.policies.map((policy) => policy.name) };
}
