// Every evaluation suite shipped in evals/ passes against the example agent it is written for:
// each case a governed run on the record (Postgres when AIFACTORY_TEST_DATABASE_URL is set, else
// PGlite), the policy copilot's answers checked against the passages its own recorded retrievals
// returned and scored by the answer-judge agent (its verdicts are governed runs too), and its
// labelled handbook queries scored as recall@k and MRR.
import { cpSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKnowledgeBase, type KnowledgeBase } from '@aifactory/knowledge';
import { loadRecordedRun } from '@aifactory/execution/replay';
import { loadEvalSuite, runEvalSuite, type EvalTarget } from '@aifactory/quality';
import { sql, type Store } from '@aifactory/store';
import { createWorkspaceRuntime, type WorkspaceRuntime } from '@aifactory/workspace';
import { openStore } from '@aifactory/store';
import { prepareDemoWorkspace, repositoryRoot, type DemoWorkspace } from '../examples/demo/demo-workspace.ts';
import { freshSchema, postgresUrl } from '../packages/verification/test/engines.ts';

/** The agents folder each suite's agent lives in (the demo's copy of agents/, or the business app's). */
const businessAgents = path.join(repositoryRoot, 'examples', 'business-app', 'workspace', 'agents');

describe(`the shipped evaluation suites on ${postgresUrl ? 'Postgres' : 'PGlite'}`, () => {
  let demo: DemoWorkspace;
  let store: Store;
  let knowledge: KnowledgeBase;
  const workspaces = new Map<string, WorkspaceRuntime>();

  beforeAll(async () => {
    demo = prepareDemoWorkspace();
    // The judge's policy sits beside the suites (evals/judges), as agents/answer-judge.yaml names it.
    cpSync(path.join(repositoryRoot, 'evals'), path.join(demo.root, 'evals'), { recursive: true });
    store = await openStore(postgresUrl ? { databaseUrl: postgresUrl, schema: freshSchema('t_evals') } : {});
    knowledge = createKnowledgeBase(store, { dataDir: demo.dataDir });
    await knowledge.ingest(path.join(demo.root, 'examples', 'knowledge-copilot', 'docs'), {
      collection: 'company-handbook',
      classifications: ['internal'],
      jsonl: { textField: 'answer', titleField: 'question' },
    });
  }, 120_000);

  afterAll(async () => {
    for (const workspace of workspaces.values()) await workspace.close();
    await knowledge?.close();
    if (store?.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
    await store?.close();
    if (demo) rmSync(demo.root, { recursive: true, force: true });
  });

  async function target(agentsDir: string): Promise<EvalTarget> {
    let workspace = workspaces.get(agentsDir);
    if (!workspace) {
      workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir });
      workspaces.set(agentsDir, workspace);
    }
    const runtime = workspace.runtime;
    return {
      startRun: (request) =>
        runtime.start(request.agent, request.input, {
          principal: request.principal,
          ...(request.feature ? { feature: request.feature } : {}),
        }),
      loadRun: (runId) => loadRecordedRun(store, runId),
      search: async (collection, query, k) =>
        (await knowledge.search(collection, query, { topK: k })).map((result) => ({
          source: result.citation.source,
          citation: result.citation.text ?? result.citation.source,
        })),
    };
  }

  const suites = readdirSync(path.join(repositoryRoot, 'evals')).filter((name) => name.endsWith('.yaml'));

  it('cover every example agent', () => {
    expect(suites.sort()).toEqual(['file-clerk.yaml', 'front-desk.yaml', 'order-desk.yaml', 'policy-copilot.yaml', 'support-triage.yaml']);
  });

  it.each(suites)('%s passes every case and threshold', async (file) => {
    const suite = await loadEvalSuite(path.join(demo.root, 'evals', file));
    const agentsDir = suite.agent === 'order-desk' ? businessAgents : demo.agentsDir;
    const report = await runEvalSuite(await target(agentsDir), suite.agent!, suite);
    const failures = report.cases
      .filter((result) => !result.passed)
      .map(
        (result) =>
          `${result.id}: ${
            result.error ??
            result.assertions
              .filter((assertion) => !assertion.passed)
              .map((assertion) => assertion.message)
              .join(' | ')
          }`,
      );
    expect(failures).toEqual([]);
    expect(report.failures).toEqual([]);
    expect(report.passed).toBe(true);
    // Each case is a run on the record, attributed to the suite.
    for (const result of report.cases) {
      const run = await loadRecordedRun(store, result.runId!);
      expect(run.metadata.feature).toBe(`eval:${suite.name}`);
    }
    if (suite.name === 'policy-copilot') {
      expect(report.scores).toMatchObject({ citations: 1, grounded: 0.9, recall_at_k: 1 });
      expect(report.retrieval?.queries).toHaveLength(6);
      const judged = report.cases
        .find((result) => result.id === 'parental-leave')!
        .assertions.find((assertion) => assertion.name === 'grounded')!;
      const judgeRun = /in run (run_\S+):/.exec(judged.message ?? '')?.[1];
      expect(judgeRun).toBeDefined();
      const recorded = await loadRecordedRun(store, judgeRun!);
      expect(recorded).toMatchObject({ agent: 'answer-judge', status: 'completed', metadata: { feature: 'eval:policy-copilot:judge' } });
    }
  });
});
