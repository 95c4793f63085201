// Runs an evaluation suite: every case is a governed run of the agent (on the record, its cost
// attributed to the feature `eval:<suite>`), a bounded number at a time; then each case's
// expectations are checked against the recorded trace, a judge (itself a governed run of a judge
// agent) scores answers where asked, the retrieval queries are scored, and the suite's thresholds
// decide whether it passed.
import type { RunResult } from '@aifactory/execution';
import type { RecordedRun } from '@aifactory/execution/replay';
import { checkExpectations, type AssertionResult, type JudgeAnswer, type JudgeVerdict } from './assertions.ts';
import type { EvalCase, EvalSuite, JudgeExpectation } from './eval-suite.ts';
import { evaluateRetrieval, type RetrievalReport, type SearchPassages } from './retrieval-eval.ts';
import { traceFacts, type RunObservation } from './run-observation.ts';

/** What the harness needs from a workspace: start governed runs, read them back, search knowledge. */
export interface EvalTarget {
  /** Starts a governed run and resolves when it completes, fails or is held. */
  startRun(request: { agent: string; input: string; principal: { id: string; roles: string[] }; feature?: string }): Promise<RunResult>;
  /** Reads a run's recorded events. */
  loadRun(runId: string): Promise<Pick<RecordedRun, 'events'>>;
  /** Searches a knowledge collection (retrieval evaluations). */
  search?: SearchPassages;
}

/** The result of one case. */
export interface CaseResult {
  id: string;
  input: string;
  /** Line of the case in the suite file. */
  line: number;
  tags: string[];
  passed: boolean;
  runId?: string;
  status: RunObservation['status'] | 'error';
  answer?: string;
  latencyMs: number;
  costUsd: number;
  assertions: AssertionResult[];
  /** Set when the case could not run at all. */
  error?: string;
}

/** A suite's report. */
export interface EvalReport {
  suite: string;
  file: string;
  agent: string;
  startedAt: string;
  durationMs: number;
  cases: CaseResult[];
  retrieval?: RetrievalReport;
  /** `accuracy` (fraction of cases passed), the mean score of each assertion name, `recall_at_k` and `mrr`. */
  scores: Record<string, number>;
  totals: { cases: number; passed: number; failed: number; costUsd: number };
  /** Thresholds that were not met, one sentence each. */
  failures: string[];
  /** Every threshold met. */
  passed: boolean;
}

/** Options of runEvalSuite. */
export interface RunEvalOptions {
  /** Runs at most this many cases at once (default the suite's concurrency). */
  concurrency?: number;
  /** Only these case ids. */
  only?: readonly string[];
  /** Called as each case finishes (progress). */
  onCase?: (result: CaseResult) => void;
  /** The clock used for latencies (tests). */
  now?: () => number;
}

/** Runs a suite against an agent and reports it. */
export async function runEvalSuite(target: EvalTarget, agent: string, suite: EvalSuite, options: RunEvalOptions = {}): Promise<EvalReport> {
  const now = options.now ?? (() => performance.now());
  const startedAt = new Date();
  const started = now();
  const cases = options.only ? suite.cases.filter((evalCase) => options.only!.includes(evalCase.id)) : suite.cases;
  const feature = `eval:${suite.name}`;
  const judge = judgeThrough(target, feature);
  const results = await boundedMap(cases, Math.max(1, options.concurrency ?? suite.concurrency), async (evalCase) => {
    const result = await runCase(target, agent, evalCase, feature, judge, now);
    options.onCase?.(result);
    return result;
  });
  const retrieval = suite.retrieval && !options.only ? await evaluateRetrieval(suite.retrieval, target.search) : undefined;
  return summarise(suite, agent, results, retrieval, startedAt, now() - started);
}

async function runCase(
  target: EvalTarget,
  agent: string,
  evalCase: EvalCase,
  feature: string,
  judge: JudgeAnswer,
  now: () => number,
): Promise<CaseResult> {
  const base = { id: evalCase.id, input: evalCase.input, line: evalCase.line, tags: evalCase.tags };
  const started = now();
  let observation: RunObservation;
  try {
    const result = await target.startRun({ agent, input: evalCase.input, principal: evalCase.principal, feature });
    const latencyMs = now() - started;
    const facts = traceFacts(await target.loadRun(result.runId));
    observation = {
      runId: result.runId,
      status: result.status,
      ...(result.status === 'completed' ? { answer: result.answer } : {}),
      ...(result.status === 'failed' ? { error: result.error } : {}),
      latencyMs,
      ...facts,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ...base, passed: false, status: 'error', latencyMs: now() - started, costUsd: 0, assertions: [], error: message };
  }
  const assertions = await checkExpectations(evalCase.expect, observation, evalCase.input, judge);
  return {
    ...base,
    passed: assertions.every((assertion) => assertion.passed),
    runId: observation.runId,
    status: observation.status,
    ...(observation.answer !== undefined ? { answer: observation.answer } : {}),
    latencyMs: observation.latencyMs,
    costUsd: observation.costUsd,
    assertions,
    ...(observation.error ? { error: observation.error } : {}),
  };
}

/** A judge is an agent: its run is governed and recorded like any other, and its answer carries the score. */
function judgeThrough(target: EvalTarget, feature: string): JudgeAnswer {
  return async (judge: JudgeExpectation, question: string, answer: string): Promise<JudgeVerdict> => {
    const input = [
      `Rubric: ${judge.rubric}`,
      `Question: ${question}`,
      `Answer: ${answer}`,
      'Reply with JSON only: {"score": <number from 0 to 1>, "reason": "<one sentence>"}.',
    ].join('\n\n');
    const result = await target.startRun({
      agent: judge.agent,
      input,
      principal: { id: 'eval-judge@factory.local', roles: ['judge'] },
      feature: `${feature}:judge`,
    });
    if (result.status !== 'completed')
      throw new Error(`its run ${result.runId} is ${result.status}${result.status === 'failed' ? `: ${result.error}` : ''}`);
    return { ...parseVerdict(result.answer), runId: result.runId };
  };
}

/** Reads a judge's answer: JSON with a score in [0, 1] (PASS and FAIL alone count as 1 and 0); anything else is an error. */
export function parseVerdict(answer: string): { score: number; reason: string } {
  const json = /\{[\s\S]*\}/.exec(answer)?.[0];
  if (json) {
    try {
      const value = JSON.parse(json) as { score?: unknown; reason?: unknown };
      if (typeof value.score === 'number' && value.score >= 0 && value.score <= 1)
        return { score: value.score, reason: typeof value.reason === 'string' ? value.reason : '' };
    } catch {
      // fall through to the plain-word forms
    }
  }
  const word = answer.trim().toUpperCase();
  if (word === 'PASS') return { score: 1, reason: 'PASS' };
  if (word === 'FAIL') return { score: 0, reason: 'FAIL' };
  throw new Error(`its answer is not a verdict ({"score": 0..1, "reason": ...}): '${answer.slice(0, 80)}'`);
}

function summarise(
  suite: EvalSuite,
  agent: string,
  cases: CaseResult[],
  retrieval: RetrievalReport | undefined,
  startedAt: Date,
  durationMs: number,
): EvalReport {
  const passed = cases.filter((result) => result.passed).length;
  const scores: Record<string, number> = {};
  if (cases.length > 0) scores.accuracy = passed / cases.length;
  const byName = new Map<string, number[]>();
  for (const result of cases)
    for (const assertion of result.assertions) byName.set(assertion.name, [...(byName.get(assertion.name) ?? []), assertion.score]);
  for (const [name, values] of byName) scores[name] = values.reduce((sum, value) => sum + value, 0) / values.length;
  if (retrieval) {
    scores.recall_at_k = retrieval.recallAtK;
    scores.mrr = retrieval.mrr;
  }
  const failures: string[] = [];
  const passRate = cases.length > 0 ? passed / cases.length : 1;
  if (passRate < suite.thresholds.passRate)
    failures.push(
      `${passed} of ${cases.length} cases passed (${percent(passRate)}); the suite needs ${percent(suite.thresholds.passRate)}.`,
    );
  for (const [name, minimum] of Object.entries(suite.thresholds.scores)) {
    const score = scores[name];
    if (score === undefined) failures.push(`Score '${name}' was not measured; measured: ${Object.keys(scores).join(', ') || 'none'}.`);
    else if (score < minimum) failures.push(`Score '${name}' is ${round(score)}; the suite needs at least ${minimum}.`);
  }
  return {
    suite: suite.name,
    file: suite.file,
    agent,
    startedAt: startedAt.toISOString(),
    durationMs,
    cases,
    ...(retrieval ? { retrieval } : {}),
    scores: Object.fromEntries(Object.entries(scores).map(([name, value]) => [name, round(value)])),
    totals: { cases: cases.length, passed, failed: cases.length - passed, costUsd: cases.reduce((sum, result) => sum + result.costUsd, 0) },
    failures,
    passed: failures.length === 0,
  };
}

/** Maps with at most `limit` calls in flight, keeping the input order. */
async function boundedMap<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function percent(value: number): string {
  return `${Math.round(value * 1000) / 10}%`;
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
