// `factory policy`, run as a real process (the bundle, node packages/cli/dist/factory.mjs) on the example policies.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function factory(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['packages/cli/dist/factory.mjs', ...args],
      { cwd: root, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
      (error, stdout, stderr) => {
        resolve({ stdout, stderr, exitCode: error ? Number((error as { code?: number }).code ?? 1) : 0 });
      },
    );
  });
}

describe('factory policy', () => {
  it('lint passes the example policies and fails a condition that reads an argument the tool lacks, naming file, line and column', async () => {
    const clean = await factory('policy', 'lint', 'policies/finance-ops', '--tools', 'policies/finance-ops/tools.json');
    expect(clean).toMatchObject({
      exitCode: 0,
      stdout: 'ok: 1 file (checked against 7 tools in policies/finance-ops/tools.json), no findings\n',
    });

    const directory = await mkdtemp(join(tmpdir(), 'policy-cli-'));
    const text = (await readFile(join(root, 'policies/finance-ops/policy.yaml'), 'utf8')).replace(
      'when: action.args.amount > 5000',
      'when: action.args.amout > 5000',
    );
    await writeFile(join(directory, 'policy.yaml'), text);
    const broken = await factory('policy', 'lint', join(directory, 'policy.yaml'), '--tools', 'policies/finance-ops/tools.json', '--json');
    expect(broken.exitCode).toBe(1);
    const report = JSON.parse(broken.stdout) as {
      errors: number;
      findings: Array<{ code: string; message: string; location: { line: number; column: number; path: string } }>;
    };
    expect(report.errors).toBe(2);
    expect(report.findings[0]).toMatchObject({ code: 'unknown-argument', location: { line: 52, column: 25, path: 'spec.rules[3].when' } });
    expect(report.findings[0]!.message).toContain("action.args has no field 'amout'; did you mean 'amount'?");
  });

  it('test runs every case under policies/ and exits 0, or 1 with the failing case named', async () => {
    const passing = await factory('policy', 'test', 'policies');
    expect(passing.exitCode).toBe(0);
    expect(passing.stdout).toMatch(/ok {3}policies\/finance-ops \(\d+ cases\)/);
    expect(passing.stdout).toMatch(/PASS: (\d+)\/\1\n$/);

    const directory = await mkdtemp(join(tmpdir(), 'policy-cli-'));
    await writeFile(join(directory, 'policy.yaml'), await readFile(join(root, 'policies/finance-ops/policy.yaml'), 'utf8'));
    await import('node:fs/promises').then((fs) => fs.mkdir(join(directory, 'tests')));
    await writeFile(
      join(directory, 'tests', 'autonomous.yaml'),
      'cases:\n  - name: a big refund is not autonomous\n    action: { kind: tool, name: payments.refund, args: { amount: 9000, currency: EUR }, agent: { id: a, team: finance } }\n',
    );
    const failing = await factory('policy', 'test', directory);
    expect(failing.exitCode).toBe(1);
    expect(failing.stdout).toContain('FAIL a big refund is not autonomous');
    expect(failing.stdout).toContain(
      'expected autonomous, got require_approval: Held for approval by finance-ops/large-payments: Payments above 5,000 need two finance managers.',
    );
  });

  it('explain prints the decision with the values the condition saw, as text and as JSON', async () => {
    const actionJson = JSON.stringify({
      kind: 'tool',
      name: 'payments.refund',
      args: { order_id: 'A-1', amount: 7200, currency: 'EUR' },
      agent: { id: 'refund-bot', team: 'finance' },
    });
    const [text, json] = await Promise.all([
      factory('policy', 'explain', 'policies/finance-ops', '--action', actionJson),
      factory('policy', 'explain', 'policies/finance-ops', '--action', actionJson, '--json'),
    ]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain("require_approval  tool 'payments.refund'");
    expect(text.stdout).toContain('saw:    action.args.amount = 7200');
    expect(text.stdout).toContain('approvers  2 with role finance-manager, not the requester; expires in 4h, then deny');

    const body = JSON.parse(json.stdout) as {
      decision: {
        authority: string;
        rules: Array<{ ruleId: string; values: Record<string, unknown> }>;
        policies: Array<{ name: string; hash: string }>;
      };
    };
    expect(body.decision.authority).toBe('require_approval');
    expect(body.decision.rules).toEqual([expect.objectContaining({ ruleId: 'large-payments', values: { 'action.args.amount': 7200 } })]);
    expect(body.decision.policies[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('explain names the offending field of a bad action and exits 2 without a stack trace', async () => {
    const result = await factory('policy', 'explain', 'policies/finance-ops', '--action', '{"kind":"tol","name":"x"}');
    expect(result).toMatchObject({ exitCode: 2, stdout: '' });
    expect(result.stderr).toBe(
      "error: --action:1:9: kind: 'tol' is not allowed here; use one of tool, model, retrieval, handoff, answer.\n",
    );
  });

  it('diff lists changed rules and the decisions that move on sampled actions; --exit-code fails a gate', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'policy-cli-'));
    const proposed = (await readFile(join(root, 'policies/finance-ops/policy.yaml'), 'utf8'))
      .replace('version: 3', 'version: 4')
      .replace('when: action.args.amount > 5000', 'when: action.args.amount > 20000')
      .replace('action.args.amount <= 5000', 'action.args.amount <= 20000');
    await writeFile(join(directory, 'policy.yaml'), proposed);
    const result = await factory(
      'policy',
      'diff',
      'policies/finance-ops/policy.yaml',
      join(directory, 'policy.yaml'),
      '--json',
      '--exit-code',
    );
    expect(result.exitCode).toBe(1);
    const diff = JSON.parse(result.stdout) as {
      rules: Array<{ ruleId: string; change: string }>;
      sample: { changed: number; transitions: Record<string, number> };
    };
    expect(diff.rules.map((rule) => `${rule.change} ${rule.ruleId}`)).toEqual(['changed large-payments', 'changed mid-refunds']);
    expect(Object.keys(diff.sample.transitions)).toEqual(['require_approval -> notify_human']);
    expect(diff.sample.changed).toBeGreaterThan(0);
  });

  it('has --help everywhere and reports a broken policy with file, line and column', async () => {
    const help = await factory('policy', 'diff', '--help');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Usage: factory policy diff [options] <old> <new>');
    expect(help.stdout).toContain('--json');
    const directory = await mkdtemp(join(tmpdir(), 'policy-cli-'));
    await writeFile(
      join(directory, 'p.yaml'),
      'apiVersion: aifactory/v1\nkind: AutonomyPolicy\nmetadata: { name: p, version: 1 }\nspec:\n  default: alow\n',
    );
    const result = await factory('policy', 'explain', join(directory, 'p.yaml'), '--action', '{"kind":"tool","name":"x"}');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      `error: ${join(directory, 'p.yaml')}:5:12: spec.default: 'alow' is not an authority; use one of autonomous, notify_human, require_approval, deny.\n`,
    );
  });

  it('lint and test use the tools.json beside a policy: a misspelt argument or tool is an error with its field path, a case calling an unknown tool is refused', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'policy-tools-'));
    await mkdir(join(directory, 'tests'));
    await writeFile(join(directory, 'tools.json'), await readFile(join(root, 'policies/finance-ops/tools.json'), 'utf8'));
    await writeFile(
      join(directory, 'policy.yaml'),
      [
        'apiVersion: aifactory/v1',
        'kind: AutonomyPolicy',
        'metadata: { name: salaries, version: 1 }',
        'spec:',
        '  default: require_approval',
        '  rules:',
        '    - id: small-refunds',
        '      match: { kind: tool, name: payments.refund }',
        '      when: action.args.new_salry < 100',
        '      authority: autonomous',
        '    - id: no-drops',
        '      match: { kind: tool, name: db.drop_tabel }',
        '      authority: deny',
        '      reason: never',
        '',
      ].join('\n'),
    );
    const linted = await factory('policy', 'lint', directory);
    expect(linted.exitCode).toBe(1);
    expect(linted.stdout).toContain(
      `${join(directory, 'policy.yaml')}:9:25: error spec.rules[0].when: action.args has no field 'new_salry'`,
    );
    expect(linted.stdout).toMatch(
      /error spec\.rules\[1\]\.match: Rule 'no-drops' matches none of the \d+ known tools \(db\.drop_tabel\); did you mean 'db\.drop_table'\?/,
    );
    expect(JSON.parse((await factory('policy', 'lint', directory, '--json')).stdout)).toMatchObject({
      ok: false,
      toolsFile: join(directory, 'tools.json'),
    });

    await writeFile(
      join(directory, 'policy.yaml'),
      (await readFile(join(directory, 'policy.yaml'), 'utf8')).replace('new_salry', 'amount').replace('db.drop_tabel', 'db.drop_table'),
    );
    await writeFile(
      join(directory, 'tests', 'autonomous.yaml'),
      'cases:\n  - name: a typo in the tool\n    action: { kind: tool, name: payments.refnd, args: { amount: 5 } }\n',
    );
    const tested = await factory('policy', 'test', directory);
    expect(tested.exitCode).toBe(2);
    expect(tested.stderr).toMatch(
      /autonomous\.yaml:3:\d+: cases\[0\]\.action\.name: Case 'a typo in the tool' calls tool 'payments\.refnd', which .*tools\.json does not list/,
    );
  });
  it('lint rejects notify targets it cannot deliver: a Slack channel notifications.yaml does not configure, a malformed or foreign address', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'policy-cli-'));
    const text = (await readFile(join(root, 'policies/finance-ops/policy.yaml'), 'utf8')).replace(
      'notify: [slack:#finance-ops, refunds-lead@acme.example]',
      'notify: [slack:#finance, refunds-lead@acme, cfo@gmail.com]',
    );
    await writeFile(join(directory, 'policy.yaml'), text);
    const broken = await factory('policy', 'lint', join(directory, 'policy.yaml'), '--json');
    expect(broken.exitCode).toBe(1);
    const report = JSON.parse(broken.stdout) as {
      notifications: string;
      findings: Array<{
        code: string;
        severity: string;
        message: string;
        rule: string;
        location: { line: number; column: number; path: string };
      }>;
    };
    expect(report.notifications).toBe('notifications.yaml');
    const undeliverable = report.findings.filter((finding) => finding.code === 'undeliverable-notify-target');
    expect(
      undeliverable.map((finding) => [
        finding.severity,
        finding.rule,
        finding.location.path,
        finding.location.line,
        finding.location.column,
        finding.message,
      ]),
    ).toEqual([
      [
        'error',
        'mid-refunds',
        'spec.rules[2].notify[0]',
        46,
        16,
        "Undeliverable notify target: Slack channel '#finance' is not configured in notifications.yaml; configured channels: #finance-ops, #data-governance, #support-leads.",
      ],
      [
        'error',
        'mid-refunds',
        'spec.rules[2].notify[1]',
        46,
        32,
        "Undeliverable notify target: E-mail address 'refunds-lead@acme' in a notification target is malformed; expected name@domain.tld.",
      ],
      [
        'error',
        'mid-refunds',
        'spec.rules[2].notify[2]',
        46,
        51,
        "Undeliverable notify target: E-mail address 'cfo@gmail.com' is outside the configured domains (acme.example).",
      ],
    ]);
    // The text form names file:line:column and the field path, like every other finding.
    const text_ = await factory('policy', 'lint', join(directory, 'policy.yaml'));
    expect(text_.stdout).toContain(
      `${join(directory, 'policy.yaml')}:46:16: error spec.rules[2].notify[0]: Undeliverable notify target: Slack channel '#finance'`,
    );

    // Without a channels file nothing but inboxes, webhooks and the log is deliverable.
    const none = await factory('policy', 'lint', 'policies/finance-ops', '--notifications', join(directory, 'missing.yaml'));
    expect(none).toMatchObject({ exitCode: 2 });
    expect(none.stderr).toContain('--notifications: cannot read');
    await writeFile(join(directory, 'empty.yaml'), '{}\n');
    const empty = await factory('policy', 'lint', 'policies/finance-ops', '--notifications', join(directory, 'empty.yaml'), '--json');
    expect(empty.exitCode).toBe(1);
    expect((JSON.parse(empty.stdout) as { errors: number }).errors).toBe(4);
  });
});
