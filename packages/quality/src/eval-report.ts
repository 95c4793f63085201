// A suite's report as people and CI read it: a plain-text table (one row per case, then the
// retrieval queries, scores and thresholds) and JUnit XML (one testcase per case and per
// threshold, so a CI dashboard shows which case failed and why).
import type { EvalReport } from './eval-runner.ts';

/** Renders the report as a text table. */
export function renderEvalTable(report: EvalReport): string {
  const lines: string[] = [];
  lines.push(
    `Suite ${report.suite} (${report.file}) on agent ${report.agent}: ${report.totals.passed}/${report.totals.cases} cases passed in ${Math.round(report.durationMs)} ms, cost ${report.totals.costUsd.toFixed(6)} USD.`,
  );
  if (report.cases.length > 0) {
    const rows = report.cases.map((result) => [
      result.passed ? 'pass' : 'FAIL',
      result.id,
      result.status,
      `${Math.round(result.latencyMs)} ms`,
      result.costUsd.toFixed(6),
      result.runId ?? '-',
      failureSummary(result),
    ]);
    lines.push('', ...table(['result', 'case', 'status', 'latency', 'cost USD', 'run', 'detail'], rows));
  }
  if (report.retrieval) {
    const retrieval = report.retrieval;
    lines.push(
      '',
      `Retrieval from ${retrieval.collection}: recall@${retrieval.k} ${retrieval.recallAtK.toFixed(3)}, MRR ${retrieval.mrr.toFixed(3)}.`,
    );
    lines.push(
      ...table(
        ['query', 'recall', 'first relevant', 'missing'],
        retrieval.queries.map((query) => [
          query.id,
          query.recall.toFixed(2),
          query.firstRelevantRank === undefined ? '-' : `#${query.firstRelevantRank}`,
          query.relevant.filter((relevant) => !query.found.includes(relevant)).join(', ') || '-',
        ]),
      ),
    );
  }
  lines.push(
    '',
    `Scores: ${
      Object.entries(report.scores)
        .map(([name, value]) => `${name} ${value}`)
        .join(', ') || 'none'
    }.`,
  );
  lines.push(report.passed ? 'PASSED: every threshold met.' : `FAILED:\n${report.failures.map((failure) => `  - ${failure}`).join('\n')}`);
  return lines.join('\n');
}

function failureSummary(result: EvalReport['cases'][number]): string {
  if (result.error && result.status === 'error') return result.error;
  const failed = result.assertions.filter((assertion) => !assertion.passed);
  if (failed.length === 0) return [...new Set(result.assertions.map((assertion) => assertion.name))].join(', ');
  return failed.map((assertion) => `${assertion.name}: ${assertion.message ?? 'failed'}`).join(' | ');
}

function table(header: string[], rows: string[][]): string[] {
  const clip = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 3)}...` : text);
  const cells = [header, ...rows].map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : clip(cell, 44))));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  return cells.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** Renders the report as JUnit XML: a testcase per case, per retrieval query and per threshold. */
export function renderEvalJunit(report: EvalReport): string {
  const testcases: string[] = [];
  const classname = `eval.${report.suite}`;
  for (const result of report.cases) {
    const failed = result.assertions.filter((assertion) => !assertion.passed);
    const body = result.passed
      ? ''
      : result.status === 'error'
        ? `<error message="${xml(result.error ?? 'error')}"/>`
        : `<failure message="${xml(failed.map((assertion) => assertion.name).join(', '))}">${xml(failed.map((assertion) => `${assertion.name}: ${assertion.message ?? 'failed'}`).join('\n'))}</failure>`;
    const output = result.runId
      ? `<system-out>${xml(`run ${result.runId} (${result.status})${result.answer ? `\n${result.answer}` : ''}`)}</system-out>`
      : '';
    testcases.push(
      `    <testcase classname="${xml(classname)}" name="${xml(result.id)}" file="${xml(report.file)}" line="${result.line}" time="${(result.latencyMs / 1000).toFixed(3)}">${body}${output}</testcase>`,
    );
  }
  for (const query of report.retrieval?.queries ?? []) {
    testcases.push(
      `    <testcase classname="${xml(`${classname}.retrieval`)}" name="${xml(query.id)}" time="0"><system-out>${xml(`recall ${query.recall.toFixed(3)}, reciprocal rank ${query.reciprocalRank.toFixed(3)}`)}</system-out></testcase>`,
    );
  }
  testcases.push(
    `    <testcase classname="${xml(`${classname}.thresholds`)}" name="thresholds" time="0">${report.passed ? '' : `<failure message="${xml(report.failures[0] ?? 'thresholds not met')}">${xml(report.failures.join('\n'))}</failure>`}</testcase>`,
  );
  const failures = report.cases.filter((result) => !result.passed && result.status !== 'error').length + (report.passed ? 0 : 1);
  const errors = report.cases.filter((result) => result.status === 'error').length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="factory eval" tests="${testcases.length}" failures="${failures}" errors="${errors}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${xml(report.suite)}" tests="${testcases.length}" failures="${failures}" errors="${errors}" timestamp="${report.startedAt}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    `    <properties><property name="agent" value="${xml(report.agent)}"/>${Object.entries(report.scores)
      .map(([name, value]) => `<property name="score.${xml(name)}" value="${value}"/>`)
      .join('')}</properties>`,
    ...testcases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** Escapes text for an XML attribute or element, dropping characters XML 1.0 cannot hold. */
function xml(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}
