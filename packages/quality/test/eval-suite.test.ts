// Suites are parsed with positions: a bad suite is refused before any run starts, with every
// problem's file, line and column, and the suite's defaults reach every case.
import { describe, expect, it } from 'vitest';
import { UserError } from '@aifactory/core';
import { parseEvalSuite } from '../src/index.ts';

const header = 'apiVersion: aifactory/v1\nkind: EvalSuite\nmetadata: { name: demo }\n';

function problems(text: string): Array<{ message: string; location: { file?: string; line?: number; column?: number; path?: string } }> {
  try {
    parseEvalSuite(text, 'evals/demo.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return ((error as UserError).details?.problems ?? []) as never;
  }
  throw new Error('expected the suite to be refused');
}

describe('parseEvalSuite', () => {
  it('reads cases with the suite defaults merged in, the principal, thresholds and retrieval queries', () => {
    const suite = parseEvalSuite(
      `${header}spec:
  agent: policy-copilot
  principal: { id: eve@acme.example, roles: [employee] }
  thresholds: { pass_rate: 0.5, scores: { recall_at_k: 0.8 } }
  defaults: { outcome: autonomous, max_cost_usd: 0.1 }
  cases:
    - id: one
      input: hello
      expect: { contains: hi }
    - id: two
      input: refund me
      as: { id: boss@acme.example }
      expect: { outcome: held }
  retrieval:
    collection: handbook
    queries:
      - { query: parental leave, relevant: [handbook/leave.md] }
`,
      'evals/demo.yaml',
    );
    expect(suite).toMatchObject({
      name: 'demo',
      agent: 'policy-copilot',
      concurrency: 4,
      thresholds: { passRate: 0.5, scores: { recall_at_k: 0.8 } },
    });
    expect(suite.cases[0]).toMatchObject({
      id: 'one',
      line: 10,
      principal: { id: 'eve@acme.example', roles: ['employee'] },
      expect: { outcome: 'autonomous', max_cost_usd: 0.1, contains: 'hi' },
    });
    expect(suite.cases[1]).toMatchObject({
      principal: { id: 'boss@acme.example', roles: [] },
      expect: { outcome: 'held', max_cost_usd: 0.1 },
    });
    expect(suite.retrieval).toEqual({
      collection: 'handbook',
      k: 5,
      queries: [{ id: 'query-1', query: 'parental leave', relevant: ['handbook/leave.md'] }],
    });
  });

  it('names file, line and column of an unknown key with a suggestion, and of a value outside the outcomes', () => {
    const found = problems(
      `${header}spec:\n  cases:\n    - id: one\n      input: hello\n      expect: { outcome: approved, contians: x }\n`,
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          message: expect.stringContaining("Unknown key 'contians' in spec.cases[0].expect; did you mean 'contains'?"),
          location: expect.objectContaining({ file: 'evals/demo.yaml', line: 8, column: 36 }),
        }),
        expect.objectContaining({
          message: expect.stringContaining("'approved' is not allowed here; use one of autonomous, completed, held, denied, failed"),
          location: expect.objectContaining({ line: 8, column: 26 }),
        }),
      ]),
    );
  });

  it('refuses duplicate case ids, regexes RE2 cannot compile, JSON Schemas that do not compile and a suite with nothing to evaluate', () => {
    const found = problems(
      `${header}spec:\n  cases:\n    - { id: one, input: a, expect: { regex: "(?<=a)b" } }\n    - { id: one, input: b, expect: { json_schema: { type: nonsense } } }\n`,
    );
    expect(found.map((problem) => [problem.location.line, problem.message])).toEqual([
      [6, expect.stringContaining('')],
      [7, expect.stringContaining("Case id 'one' is used twice")],
      [7, expect.stringContaining('The JSON Schema does not compile')],
    ]);
    expect(found[0]!.location.path).toBe('spec.cases[0].expect.regex');
    expect(problems(`${header}spec: { agent: x }\n`)[0]!.message).toBe(
      'The suite evaluates nothing; add spec.cases, spec.retrieval or both.',
    );
  });

  it('reports broken YAML with its position instead of guessing', () => {
    const [first] = problems(`${header}spec:\n  cases: [\n`);
    expect(first!.message).toMatch(/^YAML: /);
    expect(first!.location.file).toBe('evals/demo.yaml');
    expect(first!.location.line).toBeGreaterThan(3);
  });
});
