// What a hostile argument cannot do to a decision: stall it with a regular expression, make it
// arbitrarily expensive, slip a string or a list past a rule written for a number, or turn a
// division into a value nobody intended. Each bypass reported in issue #13 has a case here.
import { describe, expect, it } from 'vitest';
import { decide, lintPolicies, parsePolicy, CONDITION_COST_LIMIT } from '../src/index.ts';
import { action, policyText, setOf } from './helpers.ts';

const catastrophic = ['^(a+)+$', '(a|aa)+$', '^(a|a?)+$', '(.*a){12}$', '^([a-zA-Z0-9]+\\s?)*$', '(x+x+)+y'];

describe('matches', () => {
  it('decides catastrophic patterns on 10,000-character inputs at once, where a backtracking engine would never finish', () => {
    for (const pattern of catastrophic) {
      const set = setOf([
        'guard',
        `default: autonomous\nrules:\n  - id: no-bad-input\n    match: { kind: tool, name: echo }\n    when: action.args.text.matches(${JSON.stringify(pattern)})\n    authority: deny\n    reason: bad input`,
      ]);
      for (const text of ['a'.repeat(10_000) + '!', 'a'.repeat(10_000)]) {
        const started = performance.now();
        const decision = decide(set, action('tool', 'echo', { text }));
        const elapsed = performance.now() - started;
        expect(decision.rules.every((rule) => rule.conditionError === undefined)).toBe(true);
        // 2^10000 backtracking steps would take longer than the universe has existed; a second is generous on a loaded machine.
        expect(elapsed).toBeLessThan(1_000);
      }
    }
  });

  it('has RE2 semantics: a search, not anchored, with RE2-only syntax accepted', () => {
    const set = setOf([
      'p',
      'default: autonomous\nrules:\n  - id: named\n    match: { kind: tool, name: t }\n    when: action.args.s.matches("(?P<word>ab+)c")\n    authority: deny\n    reason: r',
    ]);
    expect(decide(set, action('tool', 't', { s: 'xxabbbcxx' })).authority).toBe('deny');
    expect(decide(set, action('tool', 't', { s: 'xxac' })).authority).toBe('autonomous');
  });

  it('rejects a literal pattern RE2 cannot compile at its line and column, saying why', () => {
    const text = policyText(
      'p',
      'rules:\n  - id: lookahead\n    match: { kind: tool, name: t }\n    when: action.args.s.matches("(?=a)b")\n    authority: deny\n    reason: r',
    );
    expect(() => parsePolicy(text, 'p.yaml')).toThrowError(
      /invalid or unsupported Perl syntax.*\(RE2 has no lookaround or backreferences\)/,
    );
    try {
      parsePolicy(text, 'p.yaml');
    } catch (error) {
      expect((error as { location?: { line?: number; column?: number } }).location).toMatchObject({ line: 8, column: 35 });
    }
  });

  it('fails closed on a pattern from the arguments that RE2 cannot compile', () => {
    const set = setOf([
      'p',
      'default: autonomous\nrules:\n  - id: dynamic\n    match: { kind: tool, name: t }\n    when: action.args.s.matches(action.args.pattern)\n    authority: deny\n    reason: r',
    ]);
    const decision = decide(set, action('tool', 't', { s: 'a', pattern: '(a)\\1' }));
    expect(decision.authority).toBe('deny');
    expect(decision.rules[0]!.conditionError).toMatch(/not valid RE2/);
  });
});

describe('the cost limit', () => {
  const quadratic =
    'default: autonomous\nrules:\n  - id: pairs\n    match: { kind: tool, name: t }\n    when: action.args.items.all(x, action.args.items.all(y, x == y || x != y))\n    authority: autonomous';

  it('denies, with the limit in the reason, when one evaluation exceeds it, even for a rule that would grant', () => {
    const set = setOf(['p', quadratic.replace('default: autonomous', 'default: autonomous')]);
    const items = Array.from({ length: 2_000 }, (_, index) => index);
    const decision = decide(set, action('tool', 't', { items }));
    expect(decision.authority).toBe('deny');
    expect(decision.reason).toBe(
      `Denied: the condition of p/pairs exceeded its cost limit of ${CONDITION_COST_LIMIT.toLocaleString('en-US')} units per evaluation, and what cannot be decided is denied.`,
    );
    expect(decision.rules[0]).toMatchObject({ ruleId: 'pairs', conditionError: expect.stringContaining('cost limit') });
  });

  it('lets the same condition decide normally on ordinary input, and the budget is per evaluation', () => {
    const set = setOf(['p', quadratic]);
    for (let round = 0; round < 50; round += 1)
      expect(decide(set, action('tool', 't', { items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] })).authority).toBe('autonomous');
  });

  it('charges regular expressions by input size, so a huge input cannot buy unbounded matching', () => {
    const set = setOf([
      'p',
      'default: autonomous\nrules:\n  - id: scan\n    match: { kind: tool, name: t }\n    when: action.args.s.matches("(secret|password|token|key|credential)[^a-z]{0,8}[a-z0-9]{8,}")\n    authority: notify_human\n    notify: [x@example.com]',
    ]);
    expect(decide(set, action('tool', 't', { s: 'x'.repeat(1_000) })).authority).toBe('autonomous');
    expect(decide(set, action('tool', 't', { s: 'x'.repeat(2_000_000) })).reason).toMatch(/exceeded its cost limit/);
  });
});

describe('type safety', () => {
  const accounts =
    'default: autonomous\nrules:\n  - id: frozen-account\n    match: { kind: tool, name: payments.transfer }\n    when: action.args.account == 12345\n    authority: deny\n    reason: The account is frozen.';

  it('denies "12345" and [12345] under a rule written for the number 12345, as it denies 12345', () => {
    const set = setOf(['p', accounts]);
    for (const account of [12345, '12345', [12345], { id: 12345 }, true]) {
      const decision = decide(set, action('tool', 'payments.transfer', { account }));
      expect(decision.authority, JSON.stringify(account)).toBe('deny');
    }
    expect(decide(set, action('tool', 'payments.transfer', { account: '12345' })).rules[0]!.conditionError).toBe(
      'compares a number with a string, and values of different types are never compared',
    );
    expect(decide(set, action('tool', 'payments.transfer', { account: 54321 })).authority).toBe('autonomous');
  });

  it('denies "12345" under a rule listing numbers with in, and still finds members of mixed lists', () => {
    const set = setOf([
      'p',
      'default: autonomous\nrules:\n  - id: frozen-accounts\n    match: { kind: tool, name: payments.transfer }\n    when: action.args.account in [12345, 67890]\n    authority: deny\n    reason: Frozen.',
    ]);
    expect(decide(set, action('tool', 'payments.transfer', { account: 12345 })).authority).toBe('deny');
    expect(decide(set, action('tool', 'payments.transfer', { account: '12345' })).authority).toBe('deny');
    expect(decide(set, action('tool', 'payments.transfer', { account: '12345' })).rules[0]!.conditionError).toBe(
      'compares a number with a string, and values of different types are never compared',
    );
    expect(decide(set, action('tool', 'payments.transfer', { account: 11111 })).authority).toBe('autonomous');
    const mixed = setOf([
      'p',
      'default: autonomous\nrules:\n  - id: r\n    match: { kind: tool, name: t }\n    when: action.args.code in ["A", 1]\n    authority: deny\n    reason: r',
    ]);
    expect(decide(mixed, action('tool', 't', { code: 'A' })).authority).toBe('deny');
    expect(decide(mixed, action('tool', 't', { code: 'B' })).authority).toBe('autonomous');
    expect(decide(set, action('tool', 'payments.transfer', { account: null })).authority).toBe('autonomous');
  });

  it('does not grant through != on a value of another type', () => {
    const set = setOf([
      'p',
      'default: require_approval\nrules:\n  - id: open-tickets\n    match: { kind: tool, name: tickets.set_status }\n    when: action.args.status != "closed"\n    authority: autonomous',
    ]);
    expect(decide(set, action('tool', 'tickets.set_status', { status: 'open' })).authority).toBe('autonomous');
    expect(decide(set, action('tool', 'tickets.set_status', { status: 3 })).authority).toBe('require_approval');
    expect(decide(set, action('tool', 'tickets.set_status', { status: ['closed'] })).authority).toBe('require_approval');
  });

  it('still compares whole numbers with decimals and anything with null', () => {
    const set = setOf([
      'p',
      'default: autonomous\nrules:\n  - id: r\n    match: { kind: tool, name: t }\n    when: action.args.n == 3 || action.args.m == null\n    authority: deny\n    reason: r',
    ]);
    expect(decide(set, action('tool', 't', { n: 3.0, m: 'x' })).authority).toBe('deny');
    expect(decide(set, action('tool', 't', { n: 4, m: null })).authority).toBe('deny');
    expect(decide(set, action('tool', 't', { n: 4, m: 'x' })).authority).toBe('autonomous');
  });
});

describe('division and NaN', () => {
  const perItem =
    'default: notify_human\nnotify: [ops@example.com]\nrules:\n  - id: expensive-items\n    match: { kind: tool, name: orders.place }\n    when: action.args.total / action.args.quantity > 1000\n    authority: require_approval\n  - id: cheap-items\n    match: { kind: tool, name: orders.place }\n    when: action.args.total / action.args.quantity <= 1000\n    authority: autonomous';

  it('fails closed on 0/0 and on division by zero instead of comparing NaN or infinity', () => {
    const set = setOf(['p', perItem]);
    expect(decide(set, action('tool', 'orders.place', { total: 500, quantity: 2 })).authority).toBe('autonomous');
    for (const [total, quantity] of [
      [0, 0],
      [5000, 0],
      [-5000, 0],
    ]) {
      const decision = decide(set, action('tool', 'orders.place', { total, quantity }));
      expect(decision.authority, `${total}/${quantity}`).toBe('require_approval');
      expect(decision.rules.map((rule) => rule.conditionError)).toEqual(['division by zero in action.args.total / action.args.quantity']);
      expect(decision.skipped.map((rule) => rule.ruleId)).toEqual(['cheap-items']);
    }
  });

  it('fails closed on a literal division by zero and on NaN or infinity in the input', () => {
    const literal = setOf([
      'p',
      'default: autonomous\nrules:\n  - id: r\n    match: { kind: tool, name: t }\n    when: action.args.amount / 0 > 10\n    authority: deny\n    reason: r',
    ]);
    expect(decide(literal, action('tool', 't', { amount: 1 })).rules[0]!.conditionError).toBe('division by zero');
    const compare = setOf([
      'p',
      'default: autonomous\nrules:\n  - id: r\n    match: { kind: tool, name: t }\n    when: action.args.amount > 100\n    authority: deny\n    reason: r',
    ]);
    for (const amount of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const decision = decide(compare, action('tool', 't', { amount }));
      expect(decision.authority, String(amount)).toBe('deny');
      expect(decision.rules[0]!.conditionError).toMatch(/action.args.amount is (NaN|-?Infinity), not a number a policy can compare/);
    }
  });
});

describe('negative divisors', () => {
  const policy = () =>
    parsePolicy(
      policyText(
        'p',
        'default: notify_human\nnotify: [ops@example.com]\nrules:\n  - id: expensive-items\n    match: { kind: tool, name: orders.place }\n    when: action.args.total / action.args.quantity > 1000\n    authority: require_approval',
      ),
      'p.yaml',
    );
  const tool = (quantity: Record<string, unknown>) => [
    { name: 'orders.place', inputSchema: { type: 'object', properties: { total: { type: 'number' }, quantity } } },
  ];

  it('a negative quantity flips the comparison, which is why lint asks the schema to keep divisors above zero', () => {
    expect(
      decide(
        setOf([
          'p',
          'default: autonomous\nrules:\n  - id: r\n    match: { kind: tool, name: t }\n    when: action.args.total / action.args.quantity > 1000\n    authority: deny\n    reason: r',
        ]),
        action('tool', 't', { total: 5000, quantity: -1 }),
      ).authority,
    ).toBe('autonomous');
    const [finding] = lintPolicies([policy()], { tools: tool({ type: 'integer' }) }).filter(
      (candidate) => candidate.code === 'unbounded-divisor',
    );
    expect(finding).toMatchObject({ severity: 'warning', location: { line: 10, column: 13 } });
    expect(finding!.message).toBe(
      "Rule 'expensive-items' divides by action.args.quantity, which the input schema of 'orders.place' does not keep above zero: zero fails the condition (closed), but a negative value flips the comparison; add \"exclusiveMinimum\": 0 to the schema.",
    );
    expect(
      lintPolicies([policy()], { tools: tool({ type: 'integer', minimum: 1 }) }).filter(
        (candidate) => candidate.code === 'unbounded-divisor',
      ),
    ).toEqual([]);
    expect(
      lintPolicies([policy()], { tools: tool({ type: 'number', exclusiveMinimum: 0 }) }).filter(
        (candidate) => candidate.code === 'unbounded-divisor',
      ),
    ).toEqual([]);
  });
});
