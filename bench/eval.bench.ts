// Evaluation harness figures: a suite of 1,000 cases (BENCH_QUICK=1: 100) run by runEvalSuite on
// Postgres, every case a governed run of a scripted agent — policy decided, hash-chained, sealed —
// then checked against its recorded trace (outcome, contains, regex, JSON Schema, latency). A tenth
// of the cases ask for a refund, which the policy holds for a support lead (expected `held`).
// Target: the 1,000 cases in under 10 s. Peer in the same run: the same inputs as governed runs
// started directly (no harness), so the ratio is what the harness adds to the runs themselves; and,
// for scale, the same inputs through the scripted model alone (no governance, no record).
// Postgres: AIFACTORY_BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in a fresh
// schema dropped afterwards; when it is unreachable the figures are taken on PGlite and say so.
// promptfoo is not run beside it: see docs/quality.md (benchmark) for why.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModelGateway } from '@aifactory/execution';
import { loadRecordedRun } from '@aifactory/execution/replay';
import { parseEvalSuite, runEvalSuite } from '@aifactory/quality';
import { openStore, sql, type Store } from '@aifactory/store';
import { createWorkspaceRuntime } from '@aifactory/workspace';

const quick = process.env.BENCH_QUICK === '1';
const cases = quick ? 100 : 1000;
const concurrency = Number(process.env.BENCH_EVAL_CONCURRENCY ?? 16);
const databaseUrl = process.env.AIFACTORY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(path.join(tmpdir(), 'aifactory-eval-bench-'));

const script = `scenarios:
  - when_user_contains: refund
    turns: [{ say: "I will refund 40 EUR to your card within three days." }]
  - when_user_contains: ticket
    turns: [{ say: '{"ticket": "T-1042", "priority": "high", "queue": "billing"}' }]
  - turns: [{ say: "Thanks for your message: {{last_user_message}}" }]
`;

function suiteText(): string {
  const lines = [
    'apiVersion: aifactory/v1',
    'kind: EvalSuite',
    'metadata: { name: bench }',
    'spec:',
    '  agent: bench-desk',
    `  concurrency: ${concurrency}`,
    '  thresholds: { pass_rate: 1 }',
    '  defaults: { max_latency_ms: 60000 }',
    '  cases:',
  ];
  for (let index = 0; index < cases; index += 1) {
    if (index % 10 === 0) lines.push(`    - { id: refund-${index}, input: "Please refund order ${index}", expect: { outcome: held } }`);
    else if (index % 3 === 0)
      lines.push(
        `    - { id: ticket-${index}, input: "Open a ticket for order ${index}", expect: { outcome: autonomous, json_schema: { type: object, required: [ticket, priority] } } }`,
      );
    else
      lines.push(
        `    - { id: echo-${index}, input: "Where is order ${index}?", expect: { outcome: autonomous, contains: "order ${index}", regex: "^Thanks for your message" } }`,
      );
  }
  return `${lines.join('\n')}\n`;
}

async function openBenchStore(): Promise<{ store: Store; engine: 'postgres' | 'pglite' }> {
  try {
    const store = await openStore({
      databaseUrl,
      schema: `bench_eval_${Date.now().toString(36)}`,
      maxConnections: Math.max(4, concurrency),
    });
    return { store, engine: 'postgres' };
  } catch (error) {
    console.warn(
      `Postgres at ${new URL(databaseUrl).host} is unavailable (${error instanceof Error ? error.message : String(error)}); measuring on PGlite.`,
    );
    return { store: await openStore(), engine: 'pglite' };
  }
}

const agentsDir = path.join(root, 'agents');
mkdirSync(path.join(agentsDir, 'scripts'), { recursive: true });
writeFileSync(path.join(agentsDir, 'scripts', 'bench-desk.script.yaml'), script);
writeFileSync(
  path.join(root, 'policy.yaml'),
  `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: bench-desk, version: 1 }
spec:
  default: autonomous
  rules:
    - id: refunds-need-a-support-lead
      match: { kind: answer }
      when: action.args.text.contains("refund")
      authority: require_approval
      approvers: { roles: [support-lead], count: 1, expires_in: 1h }
`,
);
writeFileSync(
  path.join(agentsDir, 'bench-desk.yaml'),
  `apiVersion: aifactory/v1
kind: Agent
metadata: { name: bench-desk, description: Answers order questions (evaluation benchmark). }
spec:
  model: { id: "scripted:bench-desk.script", script: ./scripts/bench-desk.script.yaml }
  system_prompt: Answer questions about orders.
  policies: [../policy.yaml]
`,
);

const { store, engine } = await openBenchStore();
try {
  const workspace = await createWorkspaceRuntime({ store, dataDir: path.join(root, '.factory'), agentsDir });
  const target = {
    startRun: (request: { agent: string; input: string; principal: { id: string; roles: string[] }; feature?: string }) =>
      workspace.runtime.start(request.agent, request.input, {
        principal: request.principal,
        ...(request.feature ? { feature: request.feature } : {}),
      }),
    loadRun: (runId: string) => loadRecordedRun(store, runId),
  };
  const parseStarted = performance.now();
  const suite = parseEvalSuite(suiteText(), 'bench/eval-suite.yaml');
  const parseMs = performance.now() - parseStarted;
  // Warm-up: load the agent, compile its policy, fill the connection pool.
  await runEvalSuite(target, 'bench-desk', { ...suite, cases: suite.cases.slice(0, concurrency) });

  const report = await runEvalSuite(target, 'bench-desk', suite);
  if (!report.passed)
    throw new Error(
      `the bench suite failed: ${report.failures.join(' ')} ${JSON.stringify(report.cases.find((result) => !result.passed))}`,
    );
  const held = report.cases.filter((result) => result.status === 'held').length;

  // Peers, as concurrently: (1) the same inputs as governed, recorded runs started directly (no
  // harness: no trace read back, no checks), so the ratio is the harness's own cost; (2) the same
  // inputs through the gateway's scripted model alone (ungoverned, unrecorded).
  const concurrently = async (work: (input: string) => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < suite.cases.length) await work(suite.cases[next++]!.input);
      }),
    );
    return performance.now() - started;
  };
  const directMs = await concurrently((input) =>
    workspace.runtime.start('bench-desk', input, { principal: { id: 'eval@factory.local', roles: [] } }),
  );
  const gateway = createModelGateway({ scriptDirectory: path.join(agentsDir, 'scripts') });
  const peerMs = await concurrently((input) =>
    gateway.call({
      model: 'scripted:bench-desk.script',
      messages: [
        { role: 'system', content: 'Answer questions about orders.' },
        { role: 'user', content: input },
      ],
    }),
  );
  await workspace.close();

  const results = {
    quick,
    engine,
    cases: report.totals.cases,
    held,
    concurrency,
    parseMs: Number(parseMs.toFixed(1)),
    evalMs: Math.round(report.durationMs),
    casesPerSecond: Math.round(report.totals.cases / (report.durationMs / 1000)),
    directRuns: {
      name: 'the same inputs as governed, recorded runs started directly (no harness)',
      ms: Math.round(directMs),
      runsPerSecond: Math.round(suite.cases.length / (directMs / 1000)),
    },
    harnessToDirectRatio: Number((report.durationMs / directMs).toFixed(2)),
    bareModel: {
      name: 'the same inputs, scripted model through the gateway alone (ungoverned, unrecorded)',
      ms: Math.round(peerMs),
      callsPerSecond: Math.round(suite.cases.length / (peerMs / 1000)),
    },
    targetMs: quick ? null : 10_000,
    withinTarget: quick ? null : report.durationMs < 10_000,
    promptfoo: 'not run: see docs/quality.md (benchmark)',
    loadAverage: loadavg().map((value) => Number(value.toFixed(2))),
  };
  console.table([
    {
      figure: `${results.cases} eval cases, governed and recorded on ${engine} (${held} held)`,
      ms: results.evalMs,
      'cases/s': results.casesPerSecond,
    },
    {
      figure: 'peer: the same inputs as governed runs started directly (no harness)',
      ms: results.directRuns.ms,
      'cases/s': results.directRuns.runsPerSecond,
    },
    {
      figure: 'the same inputs, scripted model through the gateway alone',
      ms: results.bareModel.ms,
      'cases/s': results.bareModel.callsPerSecond,
    },
    { figure: `parsing the ${results.cases}-case suite`, ms: results.parseMs, 'cases/s': '' },
  ]);
  console.log(
    `harness / direct governed runs: ${results.harnessToDirectRatio}x; target < 10 s for 1,000 cases: ${results.withinTarget ?? 'n/a (quick)'}; load average ${results.loadAverage.join(' ')}`,
  );
  mkdirSync(path.join(repository, 'bench', 'results'), { recursive: true });
  writeFileSync(path.join(repository, 'bench', 'results', 'eval.json'), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  if (engine === 'postgres' && store.schemaName !== 'public')
    await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
  await store.close();
  rmSync(root, { recursive: true, force: true });
}
