// Governance overhead per agent step (issue #4): the same LangGraph agent — scripted model, a
// trivial MCP tool over stdio — run ungoverned (no decision, no record, no checkpointer) and
// governed (decide, durable write-ahead record, outcomes group-committed, checkpoint at exit)
// on PGlite (data directory) and on Postgres, in one run. Reports ms per tool step, the ratio and
// the milliseconds governance adds per tool call. BENCH_QUICK=1 runs fewer steps.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { compilePolicies, parsePolicy, type Decision } from '@aifactory/control';
import { openStore, sql, type Store } from '@aifactory/store';
import {
  createAgentGraph,
  createModelGateway,
  createToolbox,
  createWorkspaceRuntime,
  parseScript,
  ToolHost,
  type Gate,
  type ModelGateway,
} from '@aifactory/execution';

const quick = process.env.BENCH_QUICK === '1';
const steps = quick ? 20 : 60;
const rounds = quick ? 3 : 7;
const postgresUrl = process.env.AIFACTORY_BENCH_DATABASE_URL ?? process.env.AIFACTORY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const here = path.dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'aifactory-bench-exec-'));

const turns = [
  ...Array.from({ length: steps }, (_, index) => ({ tool_calls: [{ name: 'echo.echo', args: { text: `step ${index}` } }] })),
  { say: 'done' },
];
const scriptText = JSON.stringify({ turns });
const policyText = `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: bench, version: 1 }
spec:
  default: deny
  rules:
    - id: echo
      match: { kind: tool, name: echo.echo }
      when: action.args.text.size() < 100
      authority: autonomous
    - id: models
      match: { kind: model, name: "scripted:*" }
      authority: autonomous
    - id: answers
      match: { kind: answer }
      authority: autonomous
`;
writeFileSync(path.join(work, 'policy.yaml'), policyText);
writeFileSync(
  path.join(work, 'bench-agent.yaml'),
  `apiVersion: aifactory/v1
kind: Agent
metadata: { name: bench-agent, description: Echoes in a loop., team: bench }
spec:
  model: { id: "scripted:bench" }
  system_prompt: Echo.
  tools:
    - server: echo
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(path.join(here, 'fixtures', 'echo-mcp-server.ts'))}]
  policies: [./policy.yaml]
`,
);

function gateway(): ModelGateway {
  return createModelGateway({ scripts: { bench: parseScript(scriptText, 'bench.script') } });
}

/** The same graph with a gate that lets everything through and records nothing. */
/** CPU milliseconds (user + system) this process spent per step in the last measured rounds. */
const cpuPerStep: Record<string, number> = {};

async function ungovernedMsPerStep(): Promise<number[]> {
  const host = await ToolHost.connect([{ name: 'echo', command: process.execPath, args: [path.join(here, 'fixtures', 'echo-mcp-server.ts')] }]);
  const policySet = compilePolicies([parsePolicy(policyText, 'policy.yaml')]);
  const decision = { authority: 'autonomous', rules: [], skipped: [], policies: [], obligations: { notify: [], redact: [] }, reason: 'ungoverned', defaulted: true } as unknown as Decision;
  const gate: Gate = {
    policySet,
    govern: async (_run, step) => ({ kind: 'execute', authority: 'autonomous', decision, step, argsHash: '' }),
    defer: () => {},
    commit: async () => {},
    flush: async () => {},
  };
  const graph = createAgentGraph({
    agent: { id: 'bench-agent', model: 'scripted:bench', systemPrompt: 'Echo.' },
    gate,
    models: gateway(),
    toolbox: createToolbox({ host }),
    requestApproval: async () => {
      throw new Error('never held');
    },
    notify: async () => {},
    markHeld: async () => {},
    emit: () => {},
  });
  const samples: number[] = [];
  let cpu = process.cpuUsage();
  for (let round = 0; round < rounds + 1; round += 1) {
    if (round === 1) cpu = process.cpuUsage();
    const started = performance.now();
    const state = await graph.invoke({ runId: `u${round}`, principal: { id: 'bench', roles: [] }, startedAtMs: Date.now(), messages: [{ role: 'user', content: 'go' }] }, { recursionLimit: 10_000 });
    if (state.status !== 'completed') throw new Error(`ungoverned run ended ${state.status}: ${state.error}`);
    if (round > 0) samples.push((performance.now() - started) / steps);
  }
  const used = process.cpuUsage(cpu);
  cpuPerStep.ungoverned = (used.user + used.system) / 1000 / (rounds * steps);
  await host.close();
  return samples;
}

async function governedMsPerStep(store: Store): Promise<number[]> {
  const workspace = await createWorkspaceRuntime({ store, dataDir: path.join(work, 'data'), agentsDir: work, gateway: gateway() });
  const samples: number[] = [];
  let cpu = process.cpuUsage();
  for (let round = 0; round < rounds + 1; round += 1) {
    if (round === 1) cpu = process.cpuUsage();
    const started = performance.now();
    const result = await workspace.runtime.start(path.join(work, 'bench-agent.yaml'), 'go', { principal: { id: 'bench', roles: [] } });
    if (result.status !== 'completed') throw new Error(`governed run ended ${result.status}`);
    if (round > 0) samples.push((performance.now() - started) / steps);
  }
  const used = process.cpuUsage(cpu);
  cpuPerStep[store.kind] = (used.user + used.system) / 1000 / (rounds * steps);
  await workspace.close();
  return samples;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const rows: Array<Record<string, string | number>> = [];
const results: Record<string, unknown> = { steps, rounds };
try {
  const ungoverned = median(await ungovernedMsPerStep());
  results.ungoverned_ms_per_step = ungoverned;
  rows.push({ variant: 'ungoverned LangGraph agent', 'ms/step': ungoverned.toFixed(3), ratio: '1.00', 'added ms/tool call': '-', 'cpu ms/step': cpuPerStep.ungoverned!.toFixed(3) });
  const engines: Array<{ name: string; open: () => Promise<Store> }> = [
    { name: 'governed, PGlite (data dir)', open: () => openStore({ dataDir: path.join(work, 'pglite') }) },
    { name: 'governed, Postgres', open: () => openStore({ databaseUrl: postgresUrl, schema: `bench_exec_${randomUUID().slice(0, 8)}` }) },
  ];
  for (const engine of engines) {
    let store: Store;
    try {
      store = await engine.open();
    } catch (error) {
      rows.push({ variant: engine.name, 'ms/step': `skipped: ${(error as Error).message}`, ratio: '-', 'added ms/tool call': '-' });
      continue;
    }
    try {
      const governed = median(await governedMsPerStep(store));
      results[engine.name] = { ms_per_step: governed, ratio: governed / ungoverned, added_ms_per_tool_call: governed - ungoverned, cpu_ms_per_step: cpuPerStep[store.kind] };
      rows.push({ variant: engine.name, 'ms/step': governed.toFixed(3), ratio: (governed / ungoverned).toFixed(2), 'added ms/tool call': (governed - ungoverned).toFixed(3), 'cpu ms/step': (cpuPerStep[store.kind] ?? 0).toFixed(3) });
    } finally {
      if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
      await store.close();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.table(rows);
console.log('A step is one model turn plus one MCP tool call; governed = decide + durable policy.decided/intent record before the call, outcomes group-committed, checkpoint at exit. Target: governed <= 1.3x on Postgres.');
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', 'execution.json'), `${JSON.stringify(results, null, 2)}\n`);
