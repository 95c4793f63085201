// `factory eval --compare`: the same suite run under two variants (two prompt versions, two
// models, two retrieval settings), side by side: per case, whether it passed under each and
// which assertions changed; per score, both values and the difference.
import type { EvalReport } from './eval-runner.ts';

/** One case under both variants. */
export interface CaseComparison {
  id: string;
  /** Passed under the first and second variant (null when the case did not run under one). */
  passed: [boolean | null, boolean | null];
  /** `same`, `fixed` (failed, then passed), `regressed` (passed, then failed). */
  change: 'same' | 'fixed' | 'regressed';
  runIds: [string | null, string | null];
  latencyMs: [number | null, number | null];
  /** Assertions whose result differs, with both scores. */
  assertions: Array<{ name: string; scores: [number | null, number | null]; passed: [boolean | null, boolean | null] }>;
  answers: [string | null, string | null];
}

/** Two reports of one suite side by side. */
export interface EvalComparison {
  suite: string;
  agent: string;
  variants: [string, string];
  cases: CaseComparison[];
  /** Every score of either report: both values and second minus first. */
  scores: Array<{ name: string; values: [number | null, number | null]; delta: number | null }>;
  passed: [boolean, boolean];
  totals: { fixed: number; regressed: number; same: number };
}

/** Compares two reports of the same suite. */
export function compareEvalReports(first: EvalReport, second: EvalReport, variants: [string, string]): EvalComparison {
  const ids = [...new Set([...first.cases.map((result) => result.id), ...second.cases.map((result) => result.id)])];
  const cases = ids.map((id): CaseComparison => {
    const left = first.cases.find((result) => result.id === id);
    const right = second.cases.find((result) => result.id === id);
    const names = [...new Set([...(left?.assertions ?? []), ...(right?.assertions ?? [])].map((assertion) => assertion.name))];
    const assertions = names
      .map((name) => {
        const a = left?.assertions.find((assertion) => assertion.name === name);
        const b = right?.assertions.find((assertion) => assertion.name === name);
        return {
          name,
          scores: [a?.score ?? null, b?.score ?? null] as [number | null, number | null],
          passed: [a?.passed ?? null, b?.passed ?? null] as [boolean | null, boolean | null],
        };
      })
      .filter((assertion) => assertion.scores[0] !== assertion.scores[1] || assertion.passed[0] !== assertion.passed[1]);
    const passed: [boolean | null, boolean | null] = [left?.passed ?? null, right?.passed ?? null];
    return {
      id,
      passed,
      change: passed[0] === true && passed[1] !== true ? 'regressed' : passed[0] !== true && passed[1] === true ? 'fixed' : 'same',
      runIds: [left?.runId ?? null, right?.runId ?? null],
      latencyMs: [left ? Math.round(left.latencyMs) : null, right ? Math.round(right.latencyMs) : null],
      assertions,
      answers: [left?.answer ?? null, right?.answer ?? null],
    };
  });
  const scoreNames = [...new Set([...Object.keys(first.scores), ...Object.keys(second.scores)])];
  const scores = scoreNames.map((name) => {
    const values: [number | null, number | null] = [first.scores[name] ?? null, second.scores[name] ?? null];
    return { name, values, delta: values[0] === null || values[1] === null ? null : Math.round((values[1] - values[0]) * 10_000) / 10_000 };
  });
  const count = (change: CaseComparison['change']) => cases.filter((entry) => entry.change === change).length;
  return {
    suite: first.suite,
    agent: first.agent,
    variants,
    cases,
    scores,
    passed: [first.passed, second.passed],
    totals: { fixed: count('fixed'), regressed: count('regressed'), same: count('same') },
  };
}

/** The comparison as a table: one row per case, then the scores. */
export function renderEvalComparison(comparison: EvalComparison): string {
  const [a, b] = comparison.variants;
  const mark = (value: boolean | null) => (value === null ? '-' : value ? 'pass' : 'FAIL');
  const width = Math.max(4, ...comparison.cases.map((entry) => entry.id.length));
  const lines = [`Suite ${comparison.suite} on ${comparison.agent}: A = ${a}, B = ${b}`, '', `${'case'.padEnd(width)}  A     B     change`];
  for (const entry of comparison.cases) {
    lines.push(
      `${entry.id.padEnd(width)}  ${mark(entry.passed[0]).padEnd(5)} ${mark(entry.passed[1]).padEnd(5)} ${entry.change === 'same' ? '' : entry.change}`,
    );
    for (const assertion of entry.assertions)
      lines.push(`${''.padEnd(width)}    ${assertion.name}: ${assertion.scores[0] ?? '-'} -> ${assertion.scores[1] ?? '-'}`);
  }
  lines.push('', 'score'.padEnd(16) + 'A'.padEnd(10) + 'B'.padEnd(10) + 'B - A');
  for (const score of comparison.scores)
    lines.push(
      `${score.name.padEnd(16)}${String(score.values[0] ?? '-').padEnd(10)}${String(score.values[1] ?? '-').padEnd(10)}${score.delta === null ? '-' : score.delta > 0 ? `+${score.delta}` : String(score.delta)}`,
    );
  lines.push(
    '',
    `A ${comparison.passed[0] ? 'passed' : 'failed'}, B ${comparison.passed[1] ? 'passed' : 'failed'}; ${comparison.totals.fixed} fixed, ${comparison.totals.regressed} regressed, ${comparison.totals.same} unchanged.`,
  );
  return lines.join('\n');
}
