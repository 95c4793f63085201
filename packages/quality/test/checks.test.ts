// The checks a case is judged by, on observations built by hand: governance outcomes, text and
// JSON checks, citations against what the run retrieved, judge verdicts, retrieval metrics and
// the JUnit report. Failure-safe: what cannot be checked fails, it never passes by default.
import { describe, expect, it } from 'vitest';
import {
  checkCitations,
  checkExpectations,
  evaluateRetrieval,
  parseVerdict,
  renderEvalJunit,
  renderEvalTable,
  traceFacts,
  type EvalReport,
  type RunObservation,
} from '../src/index.ts';

function observation(overrides: Partial<RunObservation> = {}): RunObservation {
  return {
    runId: 'run_1',
    status: 'completed',
    answer: 'ok',
    decisions: [{ kind: 'model', name: 'scripted:x', authority: 'autonomous' }],
    costUsd: 0,
    latencyMs: 10,
    passages: [],
    ...overrides,
  };
}

const answer =
  'Birth parents get 16 weeks [1]; second parents 4 weeks [2].\n\nSources:\n[1] handbook/leave-policy.md › Leave policy › Parental leave\n[2] handbook/leave-policy.md (section 2)\n';

describe('checkExpectations', () => {
  it('tells the governance outcomes apart: autonomous, held, denied, completed under a notification, failed', async () => {
    const names = async (expected: 'autonomous' | 'held' | 'denied' | 'completed' | 'failed', seen: RunObservation) =>
      (await checkExpectations({ outcome: expected }, seen, 'q'))[0]!.passed;
    const notified = observation({ decisions: [{ kind: 'tool', name: 'memory.create_entities', authority: 'notify_human' }] });
    const denied = observation({ decisions: [{ kind: 'tool', name: 'fs.move_file', authority: 'deny' }] });
    const held = observation({
      status: 'held',
      answer: undefined,
      decisions: [{ kind: 'tool', name: 'fs.write_file', authority: 'require_approval' }],
    });
    expect(await names('autonomous', observation())).toBe(true);
    expect(await names('autonomous', notified)).toBe(false);
    expect(await names('completed', notified)).toBe(true);
    expect(await names('denied', denied)).toBe(true);
    expect(await names('autonomous', denied)).toBe(false);
    expect(await names('held', held)).toBe(true);
    expect(await names('denied', held)).toBe(false);
    expect(await names('failed', observation({ status: 'failed', error: 'boom' }))).toBe(true);
    const [failure] = await checkExpectations({ outcome: 'autonomous' }, held, 'q');
    expect(failure!.message).toBe('Expected the run to be autonomous; it was held.');
  });

  it('checks equals, contains (case-insensitive), not_contains, RE2 regex, JSON Schema, latency and cost, one named result each', async () => {
    const seen = observation({ answer: '{"ticket": "TICKET-7", "priority": "high"}', latencyMs: 1500, costUsd: 0.02 });
    const results = await checkExpectations(
      {
        equals: ' {"ticket": "TICKET-7", "priority": "high"} ',
        contains: ['ticket-7', 'HIGH'],
        not_contains: 'low',
        regex: 'TICKET-\\d+',
        json_schema: { type: 'object', required: ['ticket', 'priority'], properties: { priority: { enum: ['high', 'normal'] } } },
        max_latency_ms: 1000,
        max_cost_usd: 0.05,
      },
      seen,
      'q',
    );
    expect(results.map((result) => [result.name, result.passed])).toEqual([
      ['equals', true],
      ['contains', true],
      ['contains', true],
      ['not_contains', true],
      ['regex', true],
      ['json_schema', true],
      ['latency', false],
      ['cost', true],
    ]);
    expect(results[6]!.message).toBe('The run took 1500 ms; the ceiling is 1000 ms.');
    const [schema] = await checkExpectations({ json_schema: { type: 'object', required: ['queue'] } }, seen, 'q');
    expect(schema!.message).toBe("The answer does not satisfy the JSON Schema: (root) must have required property 'queue'.");
    const [notJson] = await checkExpectations({ json_schema: { type: 'object' } }, observation({ answer: 'plain words' }), 'q');
    expect(notJson).toMatchObject({ passed: false, message: "Expected the answer to be JSON; got 'plain words'." });
  });

  it('fails what an answer must contain when the run gave no answer (held or failed)', async () => {
    const results = await checkExpectations({ not_contains: 'x', contains: 'y' }, observation({ status: 'held', answer: undefined }), 'q');
    expect(results.map((result) => result.passed)).toEqual([false, true]);
  });

  it('asks the judge for a score, passes at its minimum, and fails when the judge fails or there is nothing to judge', async () => {
    const judge = { agent: 'answer-judge', rubric: 'cites sources', min_score: 0.8, name: 'grounded' };
    const [scored] = await checkExpectations({ judge }, observation(), 'q', async () => ({
      score: 0.8,
      reason: 'fine',
      runId: 'run_judge',
    }));
    expect(scored).toMatchObject({ name: 'grounded', passed: true, score: 0.8, message: expect.stringContaining('run_judge') });
    const [low] = await checkExpectations({ judge }, observation(), 'q', async () => ({ score: 0.3, reason: 'weak', runId: 'run_judge' }));
    expect(low).toMatchObject({ passed: false, score: 0.3 });
    const [broken] = await checkExpectations({ judge }, observation(), 'q', async () => Promise.reject(new Error('its run run_j is held')));
    expect(broken).toMatchObject({ passed: false, score: 0, message: 'The judge answer-judge failed: its run run_j is held' });
    const [none] = await checkExpectations({ judge }, observation({ status: 'failed', answer: undefined }), 'q', async () => ({
      score: 1,
      reason: '',
      runId: 'r',
    }));
    expect(none).toMatchObject({ passed: false, message: 'No answer to judge: the run is failed.' });
  });
});

describe('citations', () => {
  const retrieved = [
    { source: 'handbook/leave-policy.md › Leave policy › Parental leave', location: null },
    { source: 'handbook/leave-policy.md', location: { section: 2 } },
  ];

  it('are supported when every cited source is among the passages the run retrieved and every [n] is listed', () => {
    const check = checkCitations(answer, retrieved, { sources: ['handbook/leave-policy.md'] });
    expect(check).toEqual({
      supported: true,
      problems: [],
      citations: [expect.objectContaining({ number: 1 }), expect.objectContaining({ number: 2 })],
    });
  });

  it('are unsupported when a cited source was never retrieved, a marker is unlisted, or there are none', () => {
    const invented = checkCitations('Ten weeks [1][3].\n\nSources:\n[1] handbook/made-up.md\n', retrieved);
    expect(invented.supported).toBe(false);
    expect(invented.problems).toEqual([
      'The answer marks [3] but its Sources block does not list it.',
      "Cited source 'handbook/made-up.md' is not among the passages the run retrieved (handbook/leave-policy.md › Leave policy › Parental leave, handbook/leave-policy.md).",
    ]);
    expect(checkCitations('No sources here.', retrieved).problems).toEqual([
      'The answer cites 0 sources; at least 1 expected in a "Sources:" block.',
    ]);
    expect(checkCitations(answer, [], {}).problems[0]).toContain('(it retrieved none)');
    expect(checkCitations(answer, retrieved, { sources: ['it/faq.jsonl'] }).problems).toEqual(["The answer does not cite 'it/faq.jsonl'."]);
  });
});

describe('trace facts', () => {
  it('read decisions, model cost and retrieved passages from recorded events, skipping erased payloads', () => {
    const facts = traceFacts({
      events: [
        {
          seq: 1,
          ts: new Date(),
          type: 'policy.decided',
          actor: 'control-plane',
          redacted: false,
          payload: { step: 1, action: { kind: 'retrieval', name: 'company-handbook' }, decision: { authority: 'autonomous', rules: [] } },
        },
        { seq: 2, ts: new Date(), type: 'model.responded', actor: 'agent', redacted: false, payload: { step: 1, cost_usd: 0.25 } },
        { seq: 3, ts: new Date(), type: 'model.responded', actor: 'agent', redacted: false, payload: { step: 2, cost_usd: 0.5 } },
        {
          seq: 4,
          ts: new Date(),
          type: 'retrieval.performed',
          actor: 'knowledge',
          redacted: false,
          payload: { step: 2, chunks: [{ id: 'c', content_hash: 'h', source: 'it/faq.jsonl', location: { line: 1 } }] },
        },
        { seq: 5, ts: new Date(), type: 'tool.returned', actor: 'agent', redacted: false, payload: null },
      ],
    });
    expect(facts).toEqual({
      decisions: [{ kind: 'retrieval', name: 'company-handbook', authority: 'autonomous' }],
      costUsd: 0.75,
      passages: [{ source: 'it/faq.jsonl', location: { line: 1 } }],
    });
  });
});

describe('judge verdicts', () => {
  it('are JSON with a score in [0, 1], or PASS / FAIL; anything else is refused', () => {
    expect(parseVerdict('Verdict: {"score": 0.9, "reason": "grounded"}')).toEqual({ score: 0.9, reason: 'grounded' });
    expect(parseVerdict(' pass ')).toEqual({ score: 1, reason: 'PASS' });
    expect(parseVerdict('FAIL')).toEqual({ score: 0, reason: 'FAIL' });
    expect(() => parseVerdict('{"score": 7}')).toThrow(/not a verdict/);
    expect(() => parseVerdict('looks good to me')).toThrow(/not a verdict/);
  });
});

describe('retrieval metrics', () => {
  it('compute recall@k over relevant sources and MRR from the first relevant rank', async () => {
    const ranked: Record<string, string[]> = {
      leave: ['handbook/expenses.md', 'handbook/leave-policy.md › Parental leave', 'it/faq.jsonl'],
      vpn: ['it/faq.jsonl (record vpn-token, line 1)', 'it/security.html'],
      missing: ['handbook/expenses.md', 'handbook/expenses.md', 'handbook/expenses.md'],
    };
    const report = await evaluateRetrieval(
      {
        collection: 'handbook',
        k: 2,
        queries: [
          { id: 'leave', query: 'leave', relevant: ['handbook/leave-policy.md', 'it/faq.jsonl'] },
          { id: 'vpn', query: 'vpn', relevant: ['it/faq.jsonl'] },
          { id: 'missing', query: 'missing', relevant: ['office/berlin-office.txt'] },
        ],
      },
      async (_collection, query) => ranked[query]!.map((citation) => ({ source: citation.split(' ')[0]!, citation })),
    );
    // leave: 1 of 2 relevant in the top 2 (faq is third), first at rank 2; vpn: found at rank 1; missing: none.
    expect(report.queries.map((query) => [query.recall, query.reciprocalRank])).toEqual([
      [0.5, 0.5],
      [1, 1],
      [0, 0],
    ]);
    expect(report.recallAtK).toBeCloseTo(0.5);
    expect(report.mrr).toBeCloseTo(0.5);
    await expect(evaluateRetrieval({ collection: 'handbook', k: 2, queries: [] }, undefined)).rejects.toThrow(/no knowledge base/);
  });
});

describe('reports', () => {
  const report: EvalReport = {
    suite: 'demo',
    file: 'evals/demo.yaml',
    agent: 'order-desk',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1234,
    cases: [
      {
        id: 'ok',
        input: 'a',
        line: 7,
        tags: [],
        passed: true,
        runId: 'run_a',
        status: 'completed',
        answer: 'fine',
        latencyMs: 12,
        costUsd: 0,
        assertions: [{ name: 'contains', passed: true, score: 1 }],
      },
      {
        id: 'bad <one>',
        input: 'b',
        line: 9,
        tags: [],
        passed: false,
        runId: 'run_b',
        status: 'held',
        latencyMs: 20,
        costUsd: 0.001,
        assertions: [{ name: 'outcome', passed: false, score: 0, message: 'Expected the run to be autonomous; it was held & waiting.' }],
      },
      {
        id: 'crashed',
        input: 'c',
        line: 11,
        tags: [],
        passed: false,
        status: 'error',
        latencyMs: 1,
        costUsd: 0,
        assertions: [],
        error: 'No agent named x',
      },
    ],
    scores: { accuracy: 0.3333 },
    totals: { cases: 3, passed: 1, failed: 2, costUsd: 0.001 },
    failures: ['1 of 3 cases passed (33.3%); the suite needs 100%.'],
    passed: false,
  };

  it('render as JUnit XML with a testcase per case and per threshold, escaped', () => {
    const xml = renderEvalJunit(report);
    expect(xml).toContain('<testsuite name="demo" tests="4" failures="2" errors="1"');
    expect(xml).toContain('name="bad &lt;one&gt;" file="evals/demo.yaml" line="9"');
    expect(xml).toContain('<failure message="outcome">outcome: Expected the run to be autonomous; it was held &amp; waiting.</failure>');
    expect(xml).toContain('<error message="No agent named x"/>');
    expect(xml).toContain('<failure message="1 of 3 cases passed (33.3%); the suite needs 100%.">');
  });

  it('render as a table that names each failure and the thresholds missed', () => {
    const table = renderEvalTable(report);
    expect(table).toContain('1/3 cases passed');
    expect(table).toMatch(/FAIL\s+bad <one>\s+held\s+20 ms\s+0\.001000\s+run_b\s+outcome: Expected the run to be autonomous/);
    expect(table).toContain('FAILED:\n  - 1 of 3 cases passed (33.3%); the suite needs 100%.');
  });
});
