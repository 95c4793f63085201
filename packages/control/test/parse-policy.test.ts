import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex, UserError, type AiFactoryError } from '@aifactory/core';
import { describe, expect, it } from 'vitest';
import { loadPolicyFiles, parsePolicy } from '../src/index.ts';
import { policyText } from './helpers.ts';

const fixture = (path: string): string => new URL(`./fixtures/${path}`, import.meta.url).pathname;

/** Parses and returns the thrown error's problems as `line:column path: message`. */
function problems(text: string): string[] {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    const details = (error as UserError).details as {
      problems: Array<{ message: string; location: { file: string; line: number; column: number; path?: string } }>;
    };
    expect((error as UserError).code).toBe('POLICY_INVALID');
    return details.problems.map((problem) => {
      expect(problem.location.file).toBe('policy.yaml');
      return `${problem.location.line}:${problem.location.column} ${problem.location.path ?? ''}: ${problem.message}`;
    });
  }
  throw new Error('expected the policy to be rejected');
}

describe('parsePolicy', () => {
  it('reads every field of the released v1 fixture', () => {
    const text = readFileSync(fixture('v1/complete.yaml'), 'utf8');
    const policy = parsePolicy(text, 'complete.yaml');
    expect(policy.name).toBe('complete-v1');
    expect(policy.version).toBe('1');
    expect(policy.hash).toBe(sha256Hex(text));
    expect(policy.defaults).toEqual({
      tool: 'require_approval',
      model: 'autonomous',
      retrieval: 'notify_human',
      handoff: 'deny',
      answer: 'autonomous',
    });
    expect(policy.approvers).toEqual({
      roles: ['risk-officer'],
      count: 1,
      separation_of_duties: true,
      expires_in_ms: 5_400_000,
      on_expiry: 'deny',
    });
    expect(policy.limits).toEqual({
      max_steps: 10,
      max_tool_calls: 5,
      max_tokens: 1000,
      max_cost_usd: 0.5,
      max_duration_ms: 600_000,
      on_exceeded: 'hold',
    });
    expect(policy.verification).toEqual({ audit_trail: true, replay: true, seal: true, retention_days: 30 });
    const [everything, allKinds] = policy.rules;
    expect(everything).toMatchObject({
      id: 'everything',
      match: { kinds: ['tool', 'retrieval'], names: ['a.*', 'b'] },
      authority: 'require_approval',
      approvers: { roles: ['a', 'b'], count: 2, separation_of_duties: false, expires_in_ms: 86_400_000, on_expiry: 'approve' },
      redact: ['card.number', 'secret'],
      location: { file: 'complete.yaml', line: 18, column: 7, path: 'spec.rules[0]' },
    });
    expect(allKinds?.match.kinds).toEqual(['tool', 'model', 'retrieval', 'handoff', 'answer']);
  });

  it('names file, line, column and path of a YAML syntax error', () => {
    expect(problems('apiVersion: aifactory/v1\nkind: AutonomyPolicy\nspec:\n  rules: [1, 2\n')).toEqual([
      expect.stringMatching(/^\d+:\d+ : YAML: /),
    ]);
  });

  it('reports unknown keys at the key, with a suggestion and the valid keys', () => {
    const found = problems(
      policyText('p', 'rules:\n  - id: a\n    match: { kind: tool }\n    authority: deny\n    reason: r\n    whn: "true"'),
    );
    expect(found).toEqual([
      "10:7 spec.rules[0].whn: Unknown key 'whn' in spec.rules[0]; did you mean 'when'? Valid keys: id, description, match, when, authority, reason, notify, approvers, redact.",
    ]);
  });

  it('reports an unknown authority with the valid ones', () => {
    expect(problems(policyText('p', 'rules:\n  - id: a\n    match: { kind: tool }\n    authority: allow'))).toEqual([
      "8:18 spec.rules[0].authority: 'allow' is not an authority; use one of autonomous, notify_human, require_approval, deny.",
    ]);
  });

  it('reports wrong types and missing keys', () => {
    const found = problems(policyText('p', 'limits: { max_steps: lots }\nrules:\n  - id: a\n    authority: deny'));
    expect(found).toContain("5:24 spec.limits.max_steps: Expected a number, got 'lots'.");
    expect(found).toContain("7:7 spec.rules[0]: The required key 'match' is missing.");
  });

  it('reports duplicate rule ids at the second id', () => {
    expect(
      problems(
        policyText(
          'p',
          'rules:\n  - id: a\n    match: { kind: tool }\n    authority: deny\n    reason: r\n  - id: a\n    match: { kind: model }\n    authority: deny\n    reason: r',
        ),
      ),
    ).toEqual(["10:11 spec.rules[1].id: Rule id 'a' is already used by spec.rules[0]; rule ids must be unique in a policy."]);
  });

  it('reports bad globs at the glob', () => {
    expect(
      problems(policyText('p', 'rules:\n  - id: a\n    match: { kind: tool, name: [ok.*, "pay[ments"] }\n    authority: deny')),
    ).toEqual([expect.stringMatching(/^7:41 spec\.rules\[0\]\.match\.name\[1\]: The name glob "pay\[ments" is malformed/)]);
  });

  it('maps an invalid CEL position inside a plain, a quoted and a block condition to the file', () => {
    expect(
      problems(policyText('p', 'rules:\n  - id: a\n    match: { kind: tool }\n    when: action.args.amount >\n    authority: deny')),
    ).toEqual(['8:33 spec.rules[0].when: CEL: Unexpected token: EOF.']);
    expect(
      problems(policyText('p', 'rules:\n  - id: a\n    match: { kind: tool }\n    when: "agent.teem == \\"x\\""\n    authority: deny')),
    ).toEqual(["8:20 spec.rules[0].when: agent has no field 'teem'; did you mean 'team'? Fields: id, team, tags."]);
    const block = policyText(
      'p',
      'rules:\n  - id: a\n    match: { kind: tool }\n    when: |\n      action.args.amount > 5000 &&\n        principal.rolez == []\n    authority: deny',
    );
    expect(problems(block)).toEqual([
      expect.stringMatching(/^10:21 spec\.rules\[0\]\.when: principal has no field 'rolez'; did you mean 'roles'\?/),
    ]);
  });

  it('type-checks conditions against the documented context', () => {
    expect(
      problems(policyText('p', 'rules:\n  - id: a\n    match: { kind: tool }\n    when: run.steps > "3"\n    authority: deny')),
    ).toEqual(['8:13 spec.rules[0].when: Type mismatch: compares run.steps (a whole number) with "3" (a string).']);
    expect(
      problems(policyText('p', 'rules:\n  - id: a\n    match: { kind: tool }\n    when: size(action.args) + 1\n    authority: deny')),
    ).toEqual(['8:13 spec.rules[0].when: A condition must be true or false, but this one gives an int.']);
    expect(problems(policyText('p', 'rules:\n  - id: a\n    match: { kind: tool }\n    when: budget > 3\n    authority: deny'))).toEqual([
      '8:13 spec.rules[0].when: CEL: Unknown variable: budget.',
    ]);
  });

  it('reports every problem of a document in one pass, in reading order', () => {
    const found = problems(
      policyText(
        'p',
        'rules:\n  - id: a\n    match: { kind: tool }\n    when: agent.nam == "x"\n    authority: autonomous\n  - id: b\n    match: { kind: toool }\n    authority: deny',
      ),
    );
    expect(found.map((line) => line.split(' ')[0])).toEqual(['8:19', '11:22']);
  });

  it('refuses a future apiVersion instead of guessing', () => {
    const error = (() => {
      try {
        parsePolicy(readFileSync(fixture('invalid/future-version.yaml'), 'utf8'), 'future.yaml');
      } catch (caught) {
        return caught as UserError;
      }
      return undefined;
    })();
    expect(error?.format()).toBe(
      "future.yaml:1:13: apiVersion: apiVersion 'aifactory/v2' is not supported; this build reads aifactory/v1.",
    );
  });

  it('rejects prototype keys as unknown keys and pollutes nothing', () => {
    const error = (() => {
      try {
        parsePolicy(readFileSync(fixture('invalid/prototype-keys.yaml'), 'utf8'), 'proto.yaml');
      } catch (caught) {
        return caught as UserError;
      }
      return undefined;
    })();
    expect(error?.details?.problems).toEqual([
      expect.objectContaining({ message: expect.stringContaining("Unknown key '__proto__' in spec") }),
      expect.objectContaining({ message: expect.stringContaining("Unknown key 'constructor' in spec.rules[0]") }),
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).default).toBeUndefined();
  });

  it('refuses a document that is not a mapping, and unresolvable aliases, with positions', () => {
    expect(problems('- just\n- a list\n')).toEqual([expect.stringContaining('holds one AutonomyPolicy document')]);
    expect(problems('a: *missing\n')).toEqual([expect.stringContaining('YAML:')]);
  });
});

describe('loadPolicyFiles', () => {
  it('reads files and directories, skips other YAML kinds in directories, and reports every broken file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'policies-'));
    await mkdir(join(directory, 'team', 'tests'), { recursive: true });
    await writeFile(join(directory, 'org.yaml'), policyText('org', 'default: deny'));
    await writeFile(
      join(directory, 'team', 'team.yaml'),
      policyText('team', 'rules:\n  - id: a\n    match: { kind: tool }\n    authority: autonomous'),
    );
    await writeFile(join(directory, 'team', 'tests', 'deny.yaml'), 'cases: []\n');
    const policies = await loadPolicyFiles([directory]);
    expect(policies.map((policy) => policy.name)).toEqual(['org', 'team']);

    await writeFile(join(directory, 'broken.yaml'), policyText('broken', 'default: maybe'));
    await writeFile(join(directory, 'team', 'again.yaml'), policyText('org', 'default: deny'));
    const error = await loadPolicyFiles([directory]).catch((caught: unknown) => caught as AiFactoryError);
    expect(error).toBeInstanceOf(UserError);
    const found = (error as UserError).details?.problems as Array<{ message: string; location: { file: string } }>;
    expect(found.map((problem) => [problem.location.file.replace(directory, ''), problem.message])).toEqual([
      ['/broken.yaml', "'maybe' is not an authority; use one of autonomous, notify_human, require_approval, deny."],
      ['/team/again.yaml', `Policy name 'org' is already used by ${join(directory, 'org.yaml')}; names must be unique in a policy set.`],
    ]);
  });

  it('names a path that does not exist', async () => {
    await expect(loadPolicyFiles(['/nonexistent/policy.yaml'])).rejects.toThrow('No policy file or directory at /nonexistent/policy.yaml.');
  });
});
