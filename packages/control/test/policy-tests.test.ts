import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '@aifactory/core';
import { describe, expect, it } from 'vitest';
import { runPolicyTests } from '../src/index.ts';
import { policyText } from './helpers.ts';

async function suite(files: Record<string, string>): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'policy-tests-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(directory, path, '..'), { recursive: true });
    await writeFile(join(directory, path), text);
  }
  return directory;
}

const policy = policyText(
  'shop',
  'default: require_approval\nrules:\n  - id: small\n    match: { kind: tool, name: refund }\n    when: action.args.amount <= 10\n    authority: autonomous\n  - id: drop\n    match: { kind: tool, name: drop }\n    authority: deny\n    reason: never',
);

describe('runPolicyTests', () => {
  it('runs every case of every policy folder and reports failures with file, line and what differed', async () => {
    const directory = await suite({
      'shop/policy.yaml': policy,
      'shop/tests/autonomous.yaml':
        'cases:\n  - name: small refund\n    action: { kind: tool, name: refund, args: { amount: 5 } }\n    expect: { rules: [small] }\n  - name: wrongly expected\n    action: { kind: tool, name: refund, args: { amount: 50 } }\n',
      'shop/tests/deny.yaml':
        'cases:\n  - name: drop\n    action: { kind: tool, name: drop }\n    expect: { rules: [shop/drop], defaulted: false }\n',
    });
    const report = await runPolicyTests(directory);
    expect(report).toMatchObject({ total: 3, passed: 2, failed: 1 });
    const failed = report.suites[0]!.results.find((result) => !result.passed)!;
    expect(failed).toMatchObject({ name: 'wrongly expected', line: 5, expected: 'autonomous', actual: 'require_approval' });
    expect(failed.failures).toEqual([
      "expected autonomous, got require_approval: Held for approval: no rule applied to tool 'refund', so the default for tool actions applies (shop).",
    ]);
  });

  it('checks rules, obligations and failing conditions when a case lists them', async () => {
    const directory = await suite({
      'p/policy.yaml': policy,
      'p/tests/require_approval.yaml':
        'cases:\n  - name: missing amount\n    action: { kind: tool, name: refund }\n    expect: { rules: [small], condition_errors: [small], approvers: { count: 2 } }\n',
    });
    const [result] = (await runPolicyTests(directory)).suites[0]!.results;
    expect(result?.failures).toEqual(['expected rules [small], got []', 'expected approvers count 2, got 1']);
  });

  it('refuses test files that are not named after an outcome, and invalid cases, with positions', async () => {
    const directory = await suite({
      'p/policy.yaml': policy,
      'p/tests/allowed.yaml': 'cases: []\n',
      'p/tests/deny.yaml': 'cases:\n  - name: x\n    acton: { kind: tool, name: drop }\n',
    });
    const error = await runPolicyTests(directory).catch((caught: unknown) => caught as UserError);
    expect(error).toBeInstanceOf(UserError);
    const problems = (error as UserError).details?.problems as Array<{ message: string; location: { file: string; line?: number } }>;
    expect(problems.map((problem) => [problem.location.file.replace(directory, ''), problem.location.line, problem.message])).toEqual([
      [
        '/p/tests/allowed.yaml',
        undefined,
        "Test files are named after the outcome their cases expect (autonomous.yaml, notify_human.yaml, require_approval.yaml, deny.yaml), not 'allowed.yaml'.",
      ],
      ['/p/tests/deny.yaml', 2, "The required key 'action' is missing."],
      ['/p/tests/deny.yaml', 3, "Unknown key 'acton' in cases[0]; did you mean 'action'? Valid keys: name, action, context, expect."],
    ]);
  });

  it('says where to put cases when there are none', async () => {
    await expect(runPolicyTests(await suite({ 'p/policy.yaml': policy }))).rejects.toThrow(
      'put cases in <policy folder>/tests/<expected authority>.yaml',
    );
  });

  it('tests layered policies named by the test file', async () => {
    const directory = await suite({
      'org/policy.yaml': policyText(
        'org',
        'rules:\n  - id: no-drop\n    match: { kind: tool, name: "drop*" }\n    authority: deny\n    reason: r',
      ),
      'team/policy.yaml': policyText('team', 'default: autonomous'),
      'team/tests/deny.yaml':
        'policies: [../policy.yaml, ../../org/policy.yaml]\ncases:\n  - name: the org rule wins\n    action: { kind: tool, name: drop_table }\n    expect: { rules: [org/no-drop] }\n',
    });
    const report = await runPolicyTests(join(directory, 'team'));
    expect(report).toMatchObject({ total: 1, passed: 1 });
    expect(report.suites[0]!.policies.map((file) => file.replace(directory, ''))).toEqual(['/team/policy.yaml', '/org/policy.yaml']);
  });
});
