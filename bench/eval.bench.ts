// Evaluation harness figures: a suite of 1,000 cases (BENCH_QUICK=1: 100) run by runEvalSuite on
// Postgres, every case a governed run of a scripted agent — policy decided, hash-chained, sealed —
// then checked against its recorded trace (outcome, contains, regex, JSON Schema, latency). A tenth
// of the cases ask for a refund, which the policy holds for a support lead (expected `held`).
// Target: the 1,000 cases in under 10 s. Peers in the same run: the same inputs as governed runs
// started directly (no harness), so the ratio is what the harness adds to the runs themselves; the
// same inputs through the scripted model alone (no governance, no record); and, against one local
// OpenAI-compatible model server (the wire server of @aifactory/execution/testing, answering as
// the script does), the same suite through this harness (the official OpenAI SDK behind the
// gateway) and through promptfoo (its OpenAI provider), cases per second for both.
// promptfoo is pinned in bench/promptfoo/package.json and installed there with npm on first use
// (some minutes; BENCH_PROMPTFOO=0 skips it, and a BENCH_QUICK run skips it unless BENCH_PROMPTFOO=1 or it is
// installed already). It is kept out of the workspace: its 800-odd packages
// would weigh on every install and CI run for one comparison.
// Postgres: AIFACTORY_BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in a fresh
// schema dropped afterwards; when it is unreachable the figures are taken on PGlite and say so.
// CPU: process.cpuUsage of this process over each phase (Postgres's own CPU is not in it).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModelGateway } from '@aifactory/execution';
import { loadRecordedEvents } from '@aifactory/execution/replay';
import { startOpenAIWireServer, type WireRequest } from '@aifactory/execution/testing';
import { parseEvalSuite, runEvalSuite, type EvalReport, type EvalSuite } from '@aifactory/quality';
import { openStore, sql, type Store } from '@aifactory/store';
import { createWorkspaceRuntime, type WorkspaceRuntime } from '@aifactory/workspace';

const quick = process.env.BENCH_QUICK === '1';
const cases = quick ? 100 : 1000;
const concurrency = Number(process.env.BENCH_EVAL_CONCURRENCY ?? 16);
const databaseUrl = process.env.AIFACTORY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const promptfooDir = path.join(repository, 'bench', 'promptfoo');
const root = mkdtempSync(path.join(tmpdir(), 'aifactory-eval-bench-'));
const systemPrompt = 'Answer questions about orders.';

const refundAnswer = 'I will refund 40 EUR to your card within three days.';
const ticketAnswer = '{"ticket": "T-1042", "priority": "high", "queue": "billing"}';
const script = `scenarios:
  - when_user_contains: refund
    turns: [{ say: "${refundAnswer}" }]
  - when_user_contains: ticket
    turns: [{ say: '${ticketAnswer}' }]
  - turns: [{ say: "Thanks for your message: {{last_user_message}}" }]
`;

/** The model server answers as the script does. */
function scriptedAnswer(input: string): string {
  if (input.includes('refund')) return refundAnswer;
  if (input.includes('ticket')) return ticketAnswer;
  return `Thanks for your message: ${input}`;
}

interface BenchCase {
  id: string;
  input: string;
  kind: 'refund' | 'ticket' | 'echo';
  index: number;
}

const benchCases: BenchCase[] = Array.from({ length: cases }, (_, index) => {
  const kind = index % 10 === 0 ? 'refund' : index % 3 === 0 ? 'ticket' : 'echo';
  const input =
    kind === 'refund'
      ? `Please refund order ${index}`
      : kind === 'ticket'
        ? `Open a ticket for order ${index}`
        : `Where is order ${index}?`;
  return { id: `${kind}-${index}`, input, kind, index };
});

function suiteText(agent: string): string {
  const lines = [
    'apiVersion: aifactory/v1',
    'kind: EvalSuite',
    'metadata: { name: bench }',
    'spec:',
    `  agent: ${agent}`,
    `  concurrency: ${concurrency}`,
    '  thresholds: { pass_rate: 1 }',
    '  defaults: { max_latency_ms: 60000 }',
    '  cases:',
  ];
  for (const { id, input, kind, index } of benchCases) {
    if (kind === 'refund') lines.push(`    - { id: ${id}, input: "${input}", expect: { outcome: held } }`);
    else if (kind === 'ticket')
      lines.push(
        `    - { id: ${id}, input: "${input}", expect: { outcome: autonomous, json_schema: { type: object, required: [ticket, priority] } } }`,
      );
    else
      lines.push(
        `    - { id: ${id}, input: "${input}", expect: { outcome: autonomous, contains: "order ${index}", regex: "^Thanks for your message" } }`,
      );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The same suite for promptfoo: the same prompt (system and user message), inputs and text checks.
 * promptfoo has no governance, so a refund case checks the answer the policy would hold instead.
 */
function promptfooConfig(baseUrl: string): string {
  const config = {
    description: 'aifactory eval bench',
    prompts: [
      JSON.stringify([
        { role: 'system', content: systemPrompt },
        { role: 'user', content: '{{input}}' },
      ]),
    ],
    providers: [{ id: 'openai:chat:bench-model', config: { apiBaseUrl: baseUrl, apiKey: 'sk-bench-local' } }],
    tests: benchCases.map(({ input, kind, index }) => ({
      vars: { input },
      assert:
        kind === 'refund'
          ? [{ type: 'icontains', value: 'refund' }]
          : kind === 'ticket'
            ? [{ type: 'is-json', value: { type: 'object', required: ['ticket', 'priority'] } }]
            : [
                { type: 'icontains', value: `order ${index}` },
                { type: 'regex', value: '^Thanks for your message' },
              ],
    })),
  };
  return JSON.stringify(config);
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

/** Wall and CPU time (this process) of one phase. */
async function measured<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await work();
  const used = process.cpuUsage(cpu);
  return { value, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

/** The promptfoo CLI, installed on first use from the pinned package.json; undefined with the reason when it cannot be. */
function promptfooBinary(): { binary?: string; reason?: string } {
  const binary = path.join(promptfooDir, 'node_modules', '.bin', 'promptfoo');
  if (process.env.BENCH_PROMPTFOO === '0') return { reason: 'skipped (BENCH_PROMPTFOO=0)' };
  // A smoke run (CI's) does not spend minutes and 2 GB installing promptfoo unless asked to.
  if (quick && process.env.BENCH_PROMPTFOO !== '1' && !existsSync(binary))
    return { reason: 'skipped in a quick run (BENCH_PROMPTFOO=1 installs it)' };
  if (existsSync(binary)) return { binary };
  console.log(`Installing promptfoo into ${path.relative(repository, promptfooDir)} with npm (first use; some minutes)...`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const install = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--no-package-lock'], {
    cwd: promptfooDir,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 20 * 60_000,
  });
  if (install.status !== 0 || !existsSync(binary))
    return {
      reason: `not installed: npm install exited ${install.status ?? install.signal}: ${(install.stderr ?? '').trim().split('\n').at(-1)}`,
    };
  return { binary };
}

/** Runs promptfoo's CLI on the suite; resolves with its wall time and its own evaluation duration. */
async function runPromptfoo(
  binary: string,
  baseUrl: string,
): Promise<{ ms: number; evaluationMs: number; passed: number; failed: number; errors: number }> {
  const folder = path.join(root, 'promptfoo');
  mkdirSync(folder, { recursive: true });
  const configFile = path.join(folder, 'promptfooconfig.json');
  const output = path.join(folder, 'results.json');
  writeFileSync(configFile, promptfooConfig(baseUrl));
  const started = performance.now();
  const args = [
    'eval',
    '-c',
    configFile,
    '-o',
    output,
    '-j',
    String(concurrency),
    '--no-cache',
    '--no-write',
    '--no-table',
    '--no-progress-bar',
  ];
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(binary, args, {
      cwd: folder,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        PROMPTFOO_CONFIG_DIR: path.join(folder, 'home'),
        PROMPTFOO_DISABLE_TELEMETRY: '1',
        PROMPTFOO_DISABLE_UPDATE: '1',
        PROMPTFOO_DISABLE_REMOTE_GENERATION: '1',
        OPENAI_API_KEY: 'sk-bench-local',
      },
    });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  const ms = performance.now() - started;
  if (!existsSync(output)) throw new Error(`promptfoo exited ${exitCode} without writing ${output}`);
  const stats = (JSON.parse(readFileSync(output, 'utf8')) as { results: { stats: Record<string, number> } }).results.stats;
  return {
    ms,
    evaluationMs: stats.evaluationDurationMs ?? stats.durationMs ?? ms,
    passed: stats.successes ?? 0,
    failed: stats.failures ?? 0,
    errors: stats.errors ?? 0,
  };
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
const agentFile = (name: string, model: string) =>
  writeFileSync(
    path.join(agentsDir, `${name}.yaml`),
    `apiVersion: aifactory/v1
kind: Agent
metadata: { name: ${name}, description: Answers order questions (evaluation benchmark). }
spec:
  model: { id: "${model}"${model.startsWith('scripted:') ? ', script: ./scripts/bench-desk.script.yaml' : ''} }
  system_prompt: ${systemPrompt}
  policies: [../policy.yaml]
`,
  );
agentFile('bench-desk', 'scripted:bench-desk.script');
agentFile('bench-desk-openai', 'openai:bench-model');

// One OpenAI-compatible model server for both harnesses.
const modelServer = await startOpenAIWireServer({
  handler: (request: WireRequest) => {
    const messages = (request.body?.['messages'] ?? []) as Array<{ role?: string; content?: unknown }>;
    const last = [...messages].reverse().find((message) => message.role === 'user');
    return { type: 'answer', text: scriptedAnswer(typeof last?.content === 'string' ? last.content : '') };
  },
});

const { store, engine } = await openBenchStore();
let workspace: WorkspaceRuntime | undefined;
try {
  workspace = await createWorkspaceRuntime({
    store,
    dataDir: path.join(root, '.factory'),
    agentsDir,
    models: { providers: { openai: { apiKey: 'sk-bench-local', baseURL: modelServer.url } } },
  });
  const runtime = workspace.runtime;
  const target = {
    startRun: (request: { agent: string; input: string; principal: { id: string; roles: string[] }; feature?: string }) =>
      runtime.start(request.agent, request.input, {
        principal: request.principal,
        ...(request.feature ? { feature: request.feature } : {}),
      }),
    loadRun: async (runId: string) => ({ events: await loadRecordedEvents(store, runId) }),
  };
  const parsed = await measured(async () => parseEvalSuite(suiteText('bench-desk'), 'bench/eval-suite.yaml'));
  const suite = parsed.value;
  const passedOrThrow = (report: EvalReport, what: string): EvalReport => {
    if (!report.passed)
      throw new Error(
        `the bench suite failed ${what}: ${report.failures.join(' ')} ${JSON.stringify(report.cases.find((result) => !result.passed))}`,
      );
    return report;
  };
  const evaluate = async (agent: string, benchSuite: EvalSuite) =>
    measured(async () => passedOrThrow(await runEvalSuite(target, agent, benchSuite), `(${agent})`));
  // Warm-up: load both agents, compile their policy, fill the connection pool, open the SDK's connections.
  await runEvalSuite(target, 'bench-desk', { ...suite, cases: suite.cases.slice(0, concurrency) });
  await runEvalSuite(target, 'bench-desk-openai', { ...suite, agent: 'bench-desk-openai', cases: suite.cases.slice(0, concurrency) });

  const evaluation = await evaluate('bench-desk', suite);
  const report = evaluation.value;
  const held = report.cases.filter((result) => result.status === 'held').length;

  // Peers, as concurrently: (1) the same inputs as governed, recorded runs started directly (no
  // harness: no trace read back, no checks), so the ratio is the harness's own cost; (2) the same
  // inputs through the gateway's scripted model alone (ungoverned, unrecorded).
  const concurrently = (work: (input: string) => Promise<unknown>) =>
    measured(async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < benchCases.length) await work(benchCases[next++]!.input);
        }),
      );
    });
  const direct = await concurrently((input) => runtime.start('bench-desk', input, { principal: { id: 'eval@factory.local', roles: [] } }));
  const gateway = createModelGateway({ scriptDirectory: path.join(agentsDir, 'scripts') });
  const bare = await concurrently((input) =>
    gateway.call({
      model: 'scripted:bench-desk.script',
      messages: [
        { role: 'system', content: systemPrompt },
        { role: 'user', content: input },
      ],
    }),
  );

  // Against the local OpenAI-compatible server: this harness (governed, recorded), then promptfoo.
  const overWire = await evaluate('bench-desk-openai', { ...suite, agent: 'bench-desk-openai' });
  const wireRequestsBefore = modelServer.requests.length;
  const promptfoo = promptfooBinary();
  const promptfooRun = promptfoo.binary ? await runPromptfoo(promptfoo.binary, modelServer.url) : undefined;
  if (promptfooRun && promptfooRun.passed !== cases)
    throw new Error(
      `promptfoo passed ${promptfooRun.passed} of ${cases} cases (${promptfooRun.failed} failed, ${promptfooRun.errors} errors)`,
    );
  const promptfooRequests = modelServer.requests.length - wireRequestsBefore;

  const perSecond = (count: number, ms: number) => Math.round(count / (ms / 1000));
  const results = {
    quick,
    engine,
    cases: report.totals.cases,
    held,
    concurrency,
    parseMs: Number(parsed.ms.toFixed(1)),
    evalMs: Math.round(evaluation.ms),
    evalCpuMs: Math.round(evaluation.cpuMs),
    casesPerSecond: perSecond(cases, evaluation.ms),
    directRuns: {
      name: 'the same inputs as governed, recorded runs started directly (no harness)',
      ms: Math.round(direct.ms),
      cpuMs: Math.round(direct.cpuMs),
      runsPerSecond: perSecond(cases, direct.ms),
    },
    harnessToDirectRatio: Number((evaluation.ms / direct.ms).toFixed(2)),
    harnessToDirectCpuRatio: Number((evaluation.cpuMs / direct.cpuMs).toFixed(2)),
    bareModel: {
      name: 'the same inputs, scripted model through the gateway alone (ungoverned, unrecorded)',
      ms: Math.round(bare.ms),
      callsPerSecond: perSecond(cases, bare.ms),
    },
    openAIServer: {
      name: 'the same suite against one local OpenAI-compatible server',
      aifactory: { ms: Math.round(overWire.ms), cpuMs: Math.round(overWire.cpuMs), casesPerSecond: perSecond(cases, overWire.ms) },
      promptfoo: promptfooRun
        ? {
            version: (JSON.parse(readFileSync(path.join(promptfooDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> })
              .dependencies.promptfoo,
            processMs: Math.round(promptfooRun.ms),
            evaluationMs: Math.round(promptfooRun.evaluationMs),
            casesPerSecond: perSecond(cases, promptfooRun.evaluationMs),
            casesPerSecondWithStartup: perSecond(cases, promptfooRun.ms),
            modelRequests: promptfooRequests,
          }
        : { notRun: promptfoo.reason },
    },
    targetMs: quick ? null : 10_000,
    withinTarget: quick ? null : evaluation.ms < 10_000,
    loadAverage: loadavg().map((value) => Number(value.toFixed(2))),
  };
  const rows: Array<Record<string, string | number>> = [
    {
      figure: `${results.cases} eval cases, scripted model, governed and recorded on ${engine} (${held} held)`,
      ms: results.evalMs,
      'cpu ms': results.evalCpuMs,
      'cases/s': results.casesPerSecond,
    },
    {
      figure: 'peer: the same inputs as governed runs started directly (no harness)',
      ms: results.directRuns.ms,
      'cpu ms': results.directRuns.cpuMs,
      'cases/s': results.directRuns.runsPerSecond,
    },
    {
      figure: 'the same inputs, scripted model through the gateway alone',
      ms: results.bareModel.ms,
      'cpu ms': '',
      'cases/s': results.bareModel.callsPerSecond,
    },
    {
      figure: 'local OpenAI-compatible server: this harness (governed, recorded)',
      ms: results.openAIServer.aifactory.ms,
      'cpu ms': results.openAIServer.aifactory.cpuMs,
      'cases/s': results.openAIServer.aifactory.casesPerSecond,
    },
    promptfooRun
      ? {
          figure: `local OpenAI-compatible server: promptfoo eval (its own duration; ${Math.round(promptfooRun.ms)} ms with process start)`,
          ms: Math.round(promptfooRun.evaluationMs),
          'cpu ms': '(another process)',
          'cases/s': perSecond(cases, promptfooRun.evaluationMs),
        }
      : { figure: `promptfoo: ${promptfoo.reason}`, ms: '', 'cpu ms': '', 'cases/s': '' },
    { figure: `parsing the ${results.cases}-case suite`, ms: results.parseMs, 'cpu ms': Math.round(parsed.cpuMs), 'cases/s': '' },
  ];
  console.table(rows);
  console.log(
    `harness / direct governed runs: ${results.harnessToDirectRatio}x wall, ${results.harnessToDirectCpuRatio}x CPU; target < 10 s for 1,000 cases: ${results.withinTarget ?? 'n/a (quick)'}; load average ${results.loadAverage.join(' ')}`,
  );
  mkdirSync(path.join(repository, 'bench', 'results'), { recursive: true });
  writeFileSync(path.join(repository, 'bench', 'results', 'eval.json'), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  await workspace?.close();
  await modelServer.close();
  if (engine === 'postgres' && store.schemaName !== 'public')
    await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
  await store.close();
  rmSync(root, { recursive: true, force: true });
}
