import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintPolicies, lintPolicyFiles, parsePolicy, parseToolSchemas, type LintFinding } from '../src/index.ts';
import { policyText } from './helpers.ts';

const parse = (name: string, spec: string) => parsePolicy(policyText(name, spec), `${name}.yaml`);
const summary = (findings: LintFinding[]): string[] =>
  findings.map((finding) => `${finding.severity} ${finding.code} ${finding.location.line}:${finding.location.column} ${finding.message}`);

describe('lint', () => {
  it('warns about rules shadowed by a stricter unconditional rule over a superset', () => {
    const policy = parse(
      'p',
      'default: autonomous\nrules:\n  - id: block-payments\n    match: { kind: tool, name: payments.* }\n    authority: deny\n    reason: No.\n  - id: notify-refunds\n    match: { kind: tool, name: payments.refund }\n    when: action.args.amount > 10\n    authority: notify_human\n    notify: [a@example.com]\n  - id: other\n    match: { kind: [tool, model], name: payments.refund }\n    authority: require_approval',
    );
    expect(summary(lintPolicies([policy]))).toEqual([
      "warning shadowed-rule 11:7 Rule 'notify-refunds' can never change an outcome: rule 'block-payments' applies to every action it matches, unconditionally, with the stricter authority deny.",
      "warning approval-without-approvers 16:7 Rule 'other' requires approval but names no approvers (nor does spec.approvers), so any one principal other than the requester may approve.",
    ]);
  });

  it('warns about a shadowing rule in another policy of the set, and about autonomous rules under an autonomous default', () => {
    const org = parse(
      'org',
      'default: autonomous\nrules:\n  - id: no-shell\n    match: { kind: tool, name: "*" }\n    when: action.name.startsWith("shell")\n    authority: deny\n    reason: r\n  - id: no-db\n    match: { kind: tool, name: db.* }\n    authority: deny\n    reason: r',
    );
    const team = parse(
      'team',
      'rules:\n  - id: db-reads\n    match: { kind: tool, name: db.read }\n    authority: notify_human\n    notify: [x]\n  - id: free\n    match: { kind: model }\n    authority: autonomous',
    );
    const codes = lintPolicies([org, team]).map((finding) => `${finding.policy}/${finding.rule} ${finding.code}`);
    expect(codes).toEqual(['team/db-reads shadowed-rule', 'team/free redundant-rule']);
  });

  it('warns about denials without reasons, notices without targets and missing defaults', () => {
    const policy = parse(
      'p',
      'default: { tool: require_approval }\napprovers: { roles: [lead] }\nrules:\n  - id: d\n    match: { kind: tool, name: rm }\n    authority: deny\n  - id: n\n    match: { kind: tool, name: ls }\n    authority: notify_human',
    );
    expect(lintPolicies([policy]).map((finding) => finding.code)).toEqual([
      'deny-without-reason',
      'notify-without-targets',
      'missing-default',
    ]);
    expect(lintPolicies([policy]).at(-1)?.message).toBe(
      'No policy sets a default for model, retrieval, handoff, answer actions, so any such action no rule matches is denied; set spec.default to make that explicit.',
    );
  });

  it('warns about limits that contradict each other or the rules', () => {
    const policy = parse(
      'p',
      'default: autonomous\napprovers: { roles: [lead], expires_in: 2d }\nlimits: { max_steps: 0, max_tool_calls: 0, max_duration: 1h, on_exceeded: hold }\nrules:\n  - id: tools\n    match: { kind: tool }\n    authority: notify_human\n    notify: [x]',
    );
    expect(summary(lintPolicies([policy]).filter((finding) => finding.code === 'contradictory-limits'))).toEqual([
      'warning contradictory-limits 7:13 max_steps is 0, so no run can take a single step; every run stops before it starts.',
      'warning contradictory-limits 7:27 max_tool_calls is 0, so no run can take a single tool call.',
      "warning contradictory-limits 7:27 max_tool_calls is 0, yet rule 'tools' lets tool calls through; the limit makes that rule dead.",
    ]);
  });

  it('type-checks conditions against tool input schemas: unknown arguments and wrong types are errors', () => {
    const tools = parseToolSchemas(
      JSON.stringify({
        tools: [
          {
            name: 'payments.refund',
            inputSchema: {
              type: 'object',
              properties: {
                amount: { type: 'number' },
                currency: { type: 'string', enum: ['EUR', 'USD'] },
                lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } } } },
              },
            },
          },
          {
            name: 'payments.void',
            inputSchema: { type: 'object', properties: { amount: { type: 'number' }, reason: { type: 'string' } } },
          },
        ],
      }),
      'tools.json',
    );
    const policy = parse(
      'p',
      `default: autonomous
rules:
  - id: typo
    match: { kind: tool, name: payments.* }
    when: action.args.amout > 100
    authority: require_approval
    approvers: { roles: [x] }
  - id: wrong-type
    match: { kind: tool, name: payments.refund }
    when: action.args.amount == "100" || action.args.currency == "eur" || action.args.lines.exists(l, l.sku > 3)
    authority: deny
    reason: r
  - id: guarded
    match: { kind: tool, name: payments.void }
    when: has(action.args.note) && action.args.note != "" || action.args.?memo.orValue("") == "x"
    authority: deny
    reason: r
  - id: nowhere
    match: { kind: tool, name: payment.refund }
    authority: deny
    reason: r`,
    );
    expect(summary(lintPolicies([policy], { tools }))).toEqual([
      "error unknown-argument 9:25 action.args has no field 'amout'; did you mean 'amount'? Fields: amount, currency, lines (for tool 'payments.refund').",
      "error unknown-argument 9:25 action.args has no field 'amout'; did you mean 'amount'? Fields: amount, reason (for tool 'payments.void').",
      'error argument-type-mismatch 14:13 Type mismatch: compares action.args.amount (a number) with "100" (a string) (for tool \'payments.refund\').',
      'error argument-type-mismatch 14:44 Type mismatch: "eur" is never one of the allowed values "EUR", "USD" (for tool \'payments.refund\').',
      "error argument-type-mismatch 14:105 Type mismatch: compares l.sku (a string) with 3 (a whole number) (for tool 'payments.refund').",
      "error unknown-tool 23:7 Rule 'nowhere' matches none of the 2 known tools (payment.refund); did you mean 'payments.refund'?",
    ]);
  });

  it('reads MCP tools/list results and plain lists, and names what is wrong with a tools file', () => {
    expect(parseToolSchemas('[{"name": "a", "inputSchema": {"type": "object"}}]', 't.json')).toEqual([
      { name: 'a', inputSchema: { type: 'object' } },
    ]);
    expect(() => parseToolSchemas('{"tools": [{"name": "a"}]}', 't.json')).toThrow("Tool 'a' has no inputSchema object.");
    expect(() => parseToolSchemas('{"nope": 1}', 't.json')).toThrow('Tool schemas must be a list');
  });

  it('lints files, turning invalid documents into errors with positions', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'lint-'));
    await writeFile(join(directory, 'good.yaml'), policyText('good', 'default: deny'));
    await writeFile(
      join(directory, 'bad.yaml'),
      policyText(
        'bad',
        'default: deny\nrules:\n  - id: x\n    match: { kind: tool }\n    authority: deny\n    reason: r\n    when: "action.args.a ==="',
      ),
    );
    const report = await lintPolicyFiles([directory]);
    expect(report.errors).toBe(1);
    expect(report.findings[0]).toMatchObject({
      severity: 'error',
      code: 'invalid-policy',
      location: { file: join(directory, 'bad.yaml'), line: 11, path: 'spec.rules[0].when' },
    });
    expect(report.policies.map((policy) => policy.name)).toEqual(['good']);
  });
});
