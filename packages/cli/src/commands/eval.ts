// `factory eval <agent> --suite evals/<name>.yaml`: runs an evaluation suite, each case a governed
// run of the agent on the record, and reports it as a table, JSON or JUnit XML; exits 1 when the
// suite's thresholds are not met.
import { writeFile } from 'node:fs/promises';
import { ErrorCode, UserError } from '@aifactory/core';
import type { AgentDefinition } from '@aifactory/execution';
import type { EvalReport, EvalSubject, EvalSuite } from '@aifactory/quality';
import type { Store } from '@aifactory/store';
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
  prompt?: string;
  model?: string;
  topK?: string;
  compare?: string[];
  as: string;
}

/** One setting an evaluation runs under: a registry prompt version, a model or a retrieval top_k. */
interface Variant {
  prompt?: string;
  model?: string;
  topK?: number;
}

/** Registers `factory eval`. */
export function registerEvalCommand(program: Command): void {
  withJson(
    program
      .command('eval')
      .description(
        "Evaluate an agent with a suite: every case is a governed run on the record, checked against the suite's expectations; reports a table, JSON or JUnit XML.",
      )
      .argument('<agent>', 'agent name (looked up in --agents) or the path of an agent YAML file')
      .requiredOption('-s, --suite <file>', 'the evaluation suite, e.g. evals/policy-copilot.yaml')
      .option('--agents <dir>', 'folder of agent definitions', 'agents')
      .option('-c, --concurrency <n>', "cases run at once (default the suite's spec.concurrency, else 4)")
      .option('--case <id...>', 'run only these cases (retrieval queries are skipped)')
      .option('--junit <file>', 'also write the report as JUnit XML to this file')
      .option('--prompt <name@version>', 'run the agent with this registry prompt version or label instead of its own prompt')
      .option('--model <provider:model>', 'run the agent with this model instead of its own')
      .option('--top-k <n>', "retrieve this many passages per search instead of the agent's top_k")
      .option(
        '--compare <variant...>',
        'run the suite twice, side by side, under two variants: prompt=<name@version>, model=<provider:model> or top_k=<n>',
      )
      .option('--as <principal>', 'who the eval record names', process.env.USER ? `${process.env.USER}@local` : 'cli@local')
      .addHelpText(
        'after',
        [
          '',
          'A suite (see docs/quality.md) lists cases with an input and what the run must show: equals, contains,',
          'not_contains, regex (RE2), json_schema, outcome (autonomous|completed|held|denied|failed), citations,',
          'judge (another agent scores the answer), max_latency_ms and max_cost_usd; and retrieval queries scored',
          "as recall@k and MRR. Runs are attributed to the feature 'eval:<suite>' ('factory runs list', 'factory usage').",
          "Each evaluation is recorded as a sealed eval record (agent 'eval') with its scores and the prompt version and",
          "model it tested; 'factory prompts promote' reads it. --compare exits 1 when the second variant regresses a case or fails where the first passed.",
          '',
          'Exit codes: 0 every threshold met, 1 below a threshold, 2 bad suite or input (file:line:column), 3 store or system failure.',
          'Example: factory eval policy-copilot --suite evals/policy-copilot.yaml --junit reports/eval.xml',
          '         factory eval policy-copilot --suite evals/policy-copilot.yaml --compare prompt=policy-copilot@1 prompt=policy-copilot@2',
        ].join('\n'),
      ),
  ).action(
    action(async (agent: string, options: EvalOptions) => {
      const { loadEvalSuite } = await import('@aifactory/quality');
      const suite = await loadEvalSuite(options.suite);
      const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
      if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)) {
        throw new UserError(ErrorCode.InputInvalid, `'${options.concurrency}' is not a whole number from 1 to 64.`, {
          location: { path: '--concurrency' },
        });
      }
      if (suite.agent && suite.agent !== agent && !agent.endsWith('.yaml') && !agent.endsWith('.yml')) {
        throw new UserError(
          ErrorCode.InputInvalid,
          `The suite '${suite.name}' is written for agent '${suite.agent}', not '${agent}'; run 'factory eval ${suite.agent} --suite ${options.suite}'.`,
          { location: { file: options.suite, path: 'spec.agent' } },
        );
      }
      const unknown = (options.case ?? []).filter((id) => !suite.cases.some((evalCase) => evalCase.id === id));
      if (unknown.length > 0)
        throw new UserError(
          ErrorCode.InputInvalid,
          `No case '${unknown[0]}' in ${options.suite}; cases: ${suite.cases.map((evalCase) => evalCase.id).join(', ')}.`,
          { location: { path: '--case' } },
        );
      const base: Variant = {
        ...(options.prompt !== undefined ? { prompt: parseVariant(`prompt=${options.prompt}`).prompt! } : {}),
        ...(options.model !== undefined ? { model: parseVariant(`model=${options.model}`).model! } : {}),
        ...(options.topK !== undefined ? { topK: parseVariant(`top_k=${options.topK}`).topK! } : {}),
      };
      let variants: Variant[] = [base];
      if (options.compare !== undefined) {
        if (options.compare.length !== 2)
          throw new UserError(
            ErrorCode.InputInvalid,
            `--compare takes exactly two variants (found ${options.compare.length}), e.g. --compare prompt=policy-copilot@1 prompt=policy-copilot@2.`,
            { location: { path: '--compare' } },
          );
        variants = options.compare.map((text) => ({ ...base, ...parseVariant(text) }));
      }
      if (options.compare !== undefined && options.junit)
        throw new UserError(
          ErrorCode.InputInvalid,
          '--junit writes one report; run the variants one at a time to get JUnit XML for each.',
          { location: { path: '--junit' } },
        );
      return viaServerOrStore({
        server: (connection) => {
          throw new UserError(
            ErrorCode.InputInvalid,
            `'factory eval' drives the suite's runs in this process on the store and cannot run through ${describeServer(connection)}; stop it, or point DATABASE_URL at the shared Postgres store.`,
          );
        },
        store: () =>
          evaluateOnStore(agent, suite, variants, { ...options, ...(concurrency !== undefined ? { concurrencyValue: concurrency } : {}) }),
      });
    }),
  );
}

async function evaluateOnStore(
  agent: string,
  suite: EvalSuite,
  variants: Variant[],
  options: EvalOptions & { concurrencyValue?: number },
): Promise<number> {
  const [{ compareEvalReports, recordEvalResult, renderEvalComparison, renderEvalJunit, renderEvalTable }, { openWorkspaceStore }] =
    await Promise.all([import('@aifactory/quality'), import('@aifactory/workspace/config')]);
  const store = await openWorkspaceStore();
  try {
    const reports: Array<{ report: EvalReport; record: string; variant: Variant }> = [];
    for (const variant of variants) {
      const report = await evaluateVariant(store, agent, suite, variant, options);
      const subject = await testedSubject(store, report);
      const workspace = await openCliWorkspace(store, options.agents);
      try {
        reports.push({ report, variant, record: await recordEvalResult(workspace.recorder, report, subject, options.as) });
      } finally {
        await workspace.close();
      }
    }
    if (reports.length === 2) {
      const [first, second] = reports as [(typeof reports)[0], (typeof reports)[0]];
      const comparison = compareEvalReports(first.report, second.report, [describeVariant(first.variant), describeVariant(second.variant)]);
      emit(
        options,
        { ...comparison, records: [first.record, second.record], reports: [first.report, second.report] },
        renderEvalComparison,
      );
      // What a comparison gates on is the difference: B regressing a case, or failing where A passed.
      return comparison.totals.regressed > 0 || (comparison.passed[0] && !comparison.passed[1]) ? ExitCode.CheckFailed : ExitCode.Ok;
    }
    const { report, record } = reports[0]!;
    if (options.junit) await writeFile(options.junit, renderEvalJunit(report));
    emit(options, { ...report, record }, (value) => `${renderEvalTable(value)}\nRecorded as ${value.record}.`);
    return report.passed ? ExitCode.Ok : ExitCode.CheckFailed;
  } finally {
    await store.close();
  }
}

/** Runs the suite once under one variant, each case a governed run on the record. */
async function evaluateVariant(
  store: Store,
  agent: string,
  suite: EvalSuite,
  variant: Variant,
  options: EvalOptions & { concurrencyValue?: number },
): Promise<EvalReport> {
  const [{ runEvalSuite }, { loadRecordedEvents }] = await Promise.all([
    import('@aifactory/quality'),
    import('@aifactory/execution/replay'),
  ]);
  const workspace = await openCliWorkspace(store, options.agents, { adaptAgent: (definition) => applyVariant(definition, variant) });
  const knowledge = suite.retrieval
    ? (await import('@aifactory/knowledge')).createKnowledgeBase(store, { dataDir: workspace.config.home })
    : undefined;
  try {
    const progress = !options.json && process.stderr.isTTY;
    const topK = variant.topK;
    const report = await runEvalSuite(
      {
        startRun: (request) => workspace.startRun(request),
        loadRun: async (runId) => ({ events: await loadRecordedEvents(store, runId) }),
        ...(knowledge
          ? {
              search: async (collection: string, query: string, k: number) =>
                (await knowledge.search(collection, query, { topK: topK ?? k })).map((result) => ({
                  source: result.citation.source,
                  citation: result.citation.text ?? result.citation.source,
                })),
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
    return report;
  } finally {
    await knowledge?.close();
    await workspace.close();
  }
}

/** The agent under a variant: a registry prompt reference (resolved by the workspace), a model, a top_k. */
function applyVariant(definition: AgentDefinition, variant: Variant): AgentDefinition {
  let adapted = definition;
  if (variant.prompt !== undefined) {
    const at = variant.prompt.lastIndexOf('@');
    adapted = {
      ...adapted,
      promptReference: {
        name: variant.prompt.slice(0, at),
        ref: variant.prompt.slice(at + 1),
        variables: definition.promptReference?.variables ?? {},
      },
    };
  }
  if (variant.model !== undefined) adapted = { ...adapted, model: { ...adapted.model, id: variant.model } };
  if (variant.topK !== undefined)
    adapted = { ...adapted, knowledge: adapted.knowledge.map((entry) => ({ ...entry, topK: variant.topK! })) };
  return adapted;
}

/** What the runs of a report tested, as their run.started metadata recorded it. */
async function testedSubject(store: Store, report: EvalReport): Promise<EvalSubject> {
  const runId = report.cases.find((result) => result.runId)?.runId;
  if (!runId) return {};
  const { findRun } = await import('@aifactory/verification/internal');
  const row = await findRun(store, runId);
  const metadata = (row?.metadata ?? {}) as { prompt?: { name?: unknown; version?: unknown }; model?: unknown };
  const prompt =
    metadata.prompt && typeof metadata.prompt.name === 'string' && typeof metadata.prompt.version === 'number'
      ? { name: metadata.prompt.name, version: metadata.prompt.version }
      : undefined;
  return { ...(prompt ? { prompt } : {}), ...(typeof metadata.model === 'string' ? { model: metadata.model } : {}) };
}

// The agent format's spec.prompt grammar (promptReferencePattern of @aifactory/execution), kept here
// so registering the command does not load the execution plane.
const promptReference = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?@(?:[1-9][0-9]{0,8}|[a-z][a-z0-9-]{0,31})$/;

/** `prompt=<name@version>`, `model=<provider:model>` or `top_k=<n>`. */
function parseVariant(text: string): Variant {
  const equals = text.indexOf('=');
  const key = equals < 0 ? text : text.slice(0, equals);
  const value = equals < 0 ? '' : text.slice(equals + 1);
  if (key === 'prompt' && promptReference.test(value)) return { prompt: value };
  if (key === 'model' && /^[a-z][a-z0-9-]*:\S+$/.test(value)) return { model: value };
  if ((key === 'top_k' || key === 'top-k') && /^[1-9][0-9]?$/.test(value)) return { topK: Number(value) };
  throw new UserError(
    ErrorCode.InputInvalid,
    `'${text}' is not a variant; use prompt=<name>@<version or label>, model=<provider:model> or top_k=<1-99>.`,
    { location: { path: '--compare' } },
  );
}

function describeVariant(variant: Variant): string {
  return (
    [
      variant.prompt ? `prompt=${variant.prompt}` : '',
      variant.model ? `model=${variant.model}` : '',
      variant.topK ? `top_k=${variant.topK}` : '',
    ]
      .filter(Boolean)
      .join(' ') || 'as defined'
  );
}
