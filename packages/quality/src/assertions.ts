// The checks of one case against what its run showed. Each present expectation yields one named
// assertion with a score in [0, 1] (1 passed, 0 failed; a judge's own score) and, when it fails,
// one sentence saying what was expected and what came. Patterns are RE2 (linear time): suites
// are shared files and a regex must not stall the harness.
import { compileRegex } from '@aifactory/control/internal';
import { checkCitations } from './citations.ts';
import type { CaseExpectation, EvalOutcome, JudgeExpectation } from './eval-suite.ts';
import { schemaValidator } from './json-schema-check.ts';
import type { RunObservation } from './run-observation.ts';

/** The result of one expectation. */
export interface AssertionResult {
  /** `outcome`, `contains`, `judge` (or the judge's name), ... */
  name: string;
  passed: boolean;
  /** 1 or 0, or the judge's score. */
  score: number;
  /** Why it failed, or what the judge said. */
  message?: string;
}

/** What a judge said about an answer. */
export interface JudgeVerdict {
  score: number;
  reason: string;
  /** The judge's own governed run. */
  runId: string;
}

/** Runs a judge on a case's answer (the runner supplies it: the judge is itself a governed run). */
export type JudgeAnswer = (judge: JudgeExpectation, question: string, answer: string) => Promise<JudgeVerdict>;

/** Whether a run came to the governance outcome a case expects. */
export function outcomeOf(observation: RunObservation): { matches: (expected: EvalOutcome) => boolean; describe: string } {
  const denied = observation.decisions.some((decision) => decision.authority === 'deny');
  const allAutonomous = observation.decisions.every((decision) => decision.authority === 'autonomous');
  const describe = `${observation.status}${denied ? ', denied' : ''}${observation.status === 'completed' && allAutonomous ? ', autonomous' : ''}`;
  return {
    describe,
    matches: (expected) => {
      switch (expected) {
        case 'autonomous':
          return observation.status === 'completed' && allAutonomous;
        case 'denied':
          return denied;
        default:
          return observation.status === expected;
      }
    },
  };
}

/** Checks every expectation of a case; the judge, when asked for, runs last and only on an answer. */
export async function checkExpectations(
  expect: CaseExpectation,
  observation: RunObservation,
  question: string,
  judgeAnswer?: JudgeAnswer,
): Promise<AssertionResult[]> {
  const results: AssertionResult[] = [];
  const pass = (name: string, passed: boolean, failure: () => string): void => {
    results.push({ name, passed, score: passed ? 1 : 0, ...(passed ? {} : { message: failure() }) });
  };
  const answer = observation.answer ?? '';
  if (expect.outcome !== undefined) {
    const outcome = outcomeOf(observation);
    pass(
      'outcome',
      outcome.matches(expect.outcome),
      () => `Expected the run to be ${expect.outcome}; it was ${outcome.describe}${observation.error ? ` (${observation.error})` : ''}.`,
    );
  }
  if (expect.equals !== undefined)
    pass(
      'equals',
      answer.trim() === expect.equals.trim(),
      () => `Expected the answer to equal ${quote(expect.equals!)}; got ${quote(answer)}.`,
    );
  for (const text of list(expect.contains)) {
    pass(
      'contains',
      answer.toLowerCase().includes(text.toLowerCase()),
      () => `Expected the answer to contain ${quote(text)}; got ${quote(answer)}.`,
    );
  }
  for (const text of list(expect.not_contains)) {
    pass('not_contains', !answer.toLowerCase().includes(text.toLowerCase()), () => `Expected the answer not to contain ${quote(text)}.`);
  }
  if (expect.regex !== undefined)
    pass('regex', compileRegex(expect.regex).test(answer), () => `Expected the answer to match /${expect.regex}/; got ${quote(answer)}.`);
  if (expect.json_schema !== undefined) {
    const problem = jsonProblem(answer, expect.json_schema);
    pass('json_schema', problem === undefined, () => problem!);
  }
  if (expect.citations !== undefined && expect.citations !== false) {
    const options =
      expect.citations === true
        ? {}
        : {
            ...(expect.citations.sources ? { sources: expect.citations.sources } : {}),
            ...(expect.citations.min !== undefined ? { min: expect.citations.min } : {}),
          };
    const check = checkCitations(answer, observation.passages, options);
    pass('citations', check.supported, () => check.problems.join(' '));
  }
  if (expect.max_latency_ms !== undefined)
    pass(
      'latency',
      observation.latencyMs <= expect.max_latency_ms,
      () => `The run took ${Math.round(observation.latencyMs)} ms; the ceiling is ${expect.max_latency_ms} ms.`,
    );
  if (expect.max_cost_usd !== undefined)
    pass(
      'cost',
      observation.costUsd <= expect.max_cost_usd,
      () => `The run cost ${observation.costUsd.toFixed(6)} USD; the ceiling is ${expect.max_cost_usd} USD.`,
    );
  if (expect.judge !== undefined) results.push(await judged(expect.judge, question, observation, judgeAnswer));
  return results;
}

async function judged(
  judge: JudgeExpectation,
  question: string,
  observation: RunObservation,
  judgeAnswer: JudgeAnswer | undefined,
): Promise<AssertionResult> {
  const name = judge.name ?? 'judge';
  const minimum = judge.min_score ?? 0.7;
  if (observation.answer === undefined)
    return { name, passed: false, score: 0, message: `No answer to judge: the run is ${observation.status}.` };
  if (!judgeAnswer) return { name, passed: false, score: 0, message: 'No judge is available to this evaluation.' };
  try {
    const verdict = await judgeAnswer(judge, question, observation.answer);
    const passed = verdict.score >= minimum;
    return {
      name,
      passed,
      score: verdict.score,
      message: `${judge.agent} scored ${verdict.score} (minimum ${minimum}) in run ${verdict.runId}: ${verdict.reason}`,
    };
  } catch (error) {
    return {
      name,
      passed: false,
      score: 0,
      message: `The judge ${judge.agent} failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** Why an answer is not JSON satisfying the schema, or undefined when it is. */
function jsonProblem(answer: string, schema: Record<string, unknown>): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(answer);
  } catch {
    return `Expected the answer to be JSON; got ${quote(answer)}.`;
  }
  const validate = schemaValidator(schema);
  if (validate(value)) return undefined;
  const [first] = validate.errors ?? [];
  return `The answer does not satisfy the JSON Schema: ${first ? `${first.instancePath || '(root)'} ${first.message ?? 'is invalid'}` : 'invalid'}.`;
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function quote(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return `'${line.length > 120 ? `${line.slice(0, 117)}...` : line}'`;
}
