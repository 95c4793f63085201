// `factory eval <agent> --suite evals/<name>.yaml`: runs an evaluation suite, each case a governed
// run of the agent on the record, and reports it as a table, JSON or JUnit XML; exits 1 when the
// suite's thresholds are not met.
import { writeFile } from 'node:fs/promises';
import { ErrorCode, UserError } from '@aifactory/core';
import type { EvalSuite } from '@aifactory/quality';
import type { Command } from 'commander';
import { action, emit, ExitCode, withJson, type CommonOptions } from '../command-kit.ts';
import { describeServer, viaServerOrStore } from '../connection.ts';
import { openCliWorkspace } from './run.ts';

interface EvalOptions extends CommonOptions {
  suite: string;
  agents: string;
  concurrency?: string;
  case?: string[];
  junit?: string;
}

/** Registers `factory eval`. */
export function registerEvalCommand(program: Command): void {
  withJson(
    program
      .command('eval')
      .description("Evaluate an agent with a suite: every case is a governed run on the record, checked against the suite's expectations; reports a table, JSON or JUnit XML.")
      .argument('<agent>', 'agent name (looked up in --agents) or the path of an agent YAML file')
      .requiredOption('-s, --suite <file>', 'the evaluation suite, e.g. evals/policy-copilot.yaml')
      .option('--agents <dir>', 'folder of agent definitions', 'agents')
      .option('-c, --concurrency <n>', "cases run at once (default the suite's spec.concurrency, else 4)")
      .option('--case <id...>', 'run only these cases (retrieval queries are skipped)')
      .option('--junit <file>', 'also write the report as JUnit XML to this file')
      .addHelpText(
        'after',
        [
          '',
          'A suite (see docs/quality.md) lists cases with an input and what the run must show: equals, contains,',
          'not_contains, regex (RE2), json_schema, outcome (autonomous|completed|held|denied|failed), citations,',
          'judge (another agent scores the answer), max_latency_ms and max_cost_usd; and retrieval queries scored',
          "as recall@k and MRR. Runs are attributed to the feature 'eval:<suite>' ('factory runs list', 'factory usage').",
          '',
          'Exit codes: 0 every threshold met, 1 below a threshold, 2 bad suite or input (file:line:column), 3 store or system failure.',
          'Example: factory eval policy-copilot --suite evals/policy-copilot.yaml --junit reports/eval.xml',
        ].join('\n'),
      ),
  ).action(
    action(async (agent: string, options: EvalOptions) => {
      const { loadEvalSuite } = await import('@aifactory/quality');
      const suite = await loadEvalSuite(options.suite);
      const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
      if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)) {
        throw new UserError(ErrorCode.InputInvalid, `'${options.concurrency}' is not a whole number from 1 to 64.`, { location: { path: '--concurrency' } });
      }
      if (suite.agent && suite.agent !== agent && !agent.endsWith('.yaml') && !agent.endsWith('.yml')) {
        throw new UserError(ErrorCode.InputInvalid, `The suite '${suite.name}' is written for agent '${suite.agent}', not '${agent}'; run 'factory eval ${suite.agent} --suite ${options.suite}'.`, { location: { file: options.suite, path: 'spec.agent' } });
      }
      const unknown = (options.case ?? []).filter((id) => !suite.cases.some((evalCase) => evalCase.id === id));
      if (unknown.length > 0) throw new UserError(ErrorCode.InputInvalid, `No case '${unknown[0]}' in ${options.suite}; cases: ${suite.cases.map((evalCase) => evalCase.id).join(', ')}.`, { location: { path: '--case' } });
      return viaServerOrStore({
        server: (connection) => {
          throw new UserError(ErrorCode.InputInvalid, `'factory eval' drives the suite's runs in this process on the store and cannot run through ${describeServer(connection)}; stop it, or point DATABASE_URL at the shared Postgres store.`);
        },
        store: () => evaluateOnStore(agent, suite, { ...options, ...(concurrency !== undefined ? { concurrencyValue: concurrency } : {}) }),
      });
    }),
  );
}

async function evaluateOnStore(agent: string, suite: EvalSuite, options: EvalOptions & { concurrencyValue?: number }): Promise<number> {
  const [{ runEvalSuite, renderEvalJunit, renderEvalTable }, { openWorkspaceStore }, { loadRecordedRun }] = await Promise.all([
    import('@aifactory/quality'),
    import('@aifactory/workspace/config'),
    import('@aifactory/execution/replay'),
  ]);
  const store = await openWorkspaceStore();
  try {
    const workspace = await openCliWorkspace(store, options.agents);
    const knowledge = suite.retrieval ? (await import('@aifactory/knowledge')).createKnowledgeBase(store, { dataDir: workspace.config.home }) : undefined;
    try {
      const progress = !options.json && process.stderr.isTTY;
      const report = await runEvalSuite(
        {
          startRun: (request) => workspace.startRun(request),
          loadRun: (runId) => loadRecordedRun(store, runId),
          ...(knowledge
            ? {
                search: async (collection: string, query: string, k: number) =>
                  (await knowledge.search(collection, query, { topK: k })).map((result) => ({ source: result.citation.source, citation: result.citation.text ?? result.citation.source })),
              }
            : {}),
        },
        agent,
        suite,
        {
          ...(options.concurrencyValue !== undefined ? { concurrency: options.concurrencyValue } : {}),
          ...(options.case ? { only: options.case } : {}),
          ...(progress ? { onCase: (result) => process.stderr.write(`${result.passed ? '.' : 'F'}`) } : {}),
        },
      );
      if (progress && report.cases.length > 0) process.stderr.write('\n');
      if (options.junit) await writeFile(options.junit, renderEvalJunit(report));
      emit(options, report, renderEvalTable);
      return report.passed ? ExitCode.Ok : ExitCode.CheckFailed;
    } finally {
      await knowledge?.close();
      await workspace.close();
    }
  } finally {
    await store.close();
  }
}
