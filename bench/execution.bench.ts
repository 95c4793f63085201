// Governance overhead per agent step (issue #4): the same LangGraph agent — scripted model, a
// trivial MCP tool over stdio — run ungoverned (no decision, no record, no checkpointer) and
// governed (decide, durable write-ahead record, outcomes group-committed, checkpoint at exit)
// on PGlite (data directory) and on Postgres, in one process. A fourth variant, for the breakdown
// only, runs the governed runtime on Postgres with a recorder that writes nothing: what deciding,
// the gate and the runtime cost without the durable trace.
//
// The variants take turns run by run (the order rotating each round), so drift in a shared
// machine's speed falls on all of them alike; each round yields a paired ratio governed /
// ungoverned, and the figure reported is the median over rounds. Reports ms per tool step, the
// ratio, the milliseconds governance adds per tool call and CPU milliseconds per step.
// BENCH_QUICK=1 runs fewer rounds.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { compilePolicies, parsePolicy, type Decision } from '@aifactory/control';
import { contentHash } from '@aifactory/core';
import { openStore, sql, type Store } from '@aifactory/store';
import { acquireRunLease, type Recorder } from '@aifactory/verification';
import {
  createAgentGraph,
  createModelGateway,
  createToolbox,
  parseScript,
  ToolHost,
  type Gate,
  type ModelGateway,
} from '@aifactory/execution';
import { createWorkspaceRuntime, type WorkspaceRuntime } from '@aifactory/workspace';

const quick = process.env.BENCH_QUICK === '1';
const steps = quick ? 20 : 60;
const rounds = quick ? 5 : 41;
const postgresUrl = process.env.AIFACTORY_BENCH_DATABASE_URL ?? process.env.AIFACTORY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const here = path.dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'aifactory-bench-exec-'));
const echoServer = path.join(here, 'fixtures', 'echo-mcp-server.ts');

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
const agentFile = path.join(work, 'bench-agent.yaml');
writeFileSync(
  agentFile,
  `apiVersion: aifactory/v1
kind: Agent
metadata: { name: bench-agent, description: Echoes in a loop., team: bench }
spec:
  model: { id: "scripted:bench" }
  system_prompt: Echo.
  tools:
    - server: echo
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(echoServer)}]
  policies: [./policy.yaml]
`,
);

function gateway(): ModelGateway {
  return createModelGateway({ scripts: { bench: parseScript(scriptText, 'bench.script') } });
}

/** One way of running the agent once, start to end. */
interface Variant {
  name: string;
  run(round: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The same graph with a gate that lets everything through and records nothing. Its verdicts
 * carry the arguments' hash, as the Gate contract says (a microsecond or two per action).
 */
async function ungovernedVariant(): Promise<Variant> {
  const host = await ToolHost.connect([{ name: 'echo', command: process.execPath, args: [echoServer] }]);
  const policySet = compilePolicies([parsePolicy(policyText, 'policy.yaml')]);
  const decision = { authority: 'autonomous', rules: [], skipped: [], policies: [], obligations: { notify: [], redact: [] }, reason: 'ungoverned', defaulted: true } as unknown as Decision;
  const gate: Gate = {
    policySet,
    govern: async (_run, step, proposed) => ({ kind: 'execute', authority: 'autonomous', decision, step, argsHash: contentHash(proposed.args) }),
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
  return {
    name: 'ungoverned LangGraph agent',
    async run(round) {
      const state = await graph.invoke({ runId: `u${round}`, principal: { id: 'bench', roles: [] }, startedAtMs: Date.now(), messages: [{ role: 'user', content: 'go' }] }, { recursionLimit: 10_000 });
      if (state.status !== 'completed') throw new Error(`ungoverned run ended ${state.status}: ${state.error}`);
    },
    close: () => host.close(),
  };
}

/**
 * A recorder that writes no trace (the breakdown variant). It still takes the run's lease when
 * asked, as the real one does in the start commit: every tool call checks that lease.
 */
const unrecordedOn = (store: Store) =>
  ({
    ...unrecorded,
    startRun: async (run: { id?: string }, options?: { lease?: { owner: string; ttlMs: number } }) => {
      if (run.id && options?.lease) await acquireRunLease(store, run.id, options.lease.owner, { ttlMs: options.lease.ttlMs, acquisition: 'new' });
      return {};
    },
  }) as unknown as Recorder;

const unrecorded = {
  keyId: 'none',
  startRun: async () => ({}),
  record: async () => ({}),
  recordBatch: async () => [],
  setStatus: async () => {},
  finishRun: async () => ({}),
  sealRun: async () => ({}),
  head: async () => ({ seq: 0, hash: '', ended: false }),
} as unknown as Recorder;

/** The governed runtime over a store: what `factory run` does. */
async function governedVariant(name: string, store: Store, recorder?: Recorder): Promise<Variant> {
  const workspace: WorkspaceRuntime = await createWorkspaceRuntime({
    store,
    dataDir: path.join(work, `data-${variantCount++}`),
    agentsDir: work,
    gateway: gateway(),
    ...(recorder ? { recorder } : {}),
  });
  return {
    name,
    async run() {
      const result = await workspace.runtime.start(agentFile, 'go', { principal: { id: 'bench', roles: [] } });
      if (result.status !== 'completed') throw new Error(`governed run on ${store.kind} ended ${result.status}`);
    },
    async close() {
      await workspace.close();
      if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
      await store.close();
    },
  };
}

let variantCount = 0;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const variants: Variant[] = [await ungovernedVariant()];
const skipped: Array<Record<string, string>> = [];
const engines: Array<{ name: string; open: () => Promise<Store> }> = [
  { name: 'governed, PGlite (data dir)', open: () => openStore({ dataDir: path.join(work, 'pglite') }) },
  { name: 'governed, Postgres', open: () => openStore({ databaseUrl: postgresUrl, schema: `bench_exec_${randomUUID().slice(0, 8)}` }) },
  { name: 'breakdown: governed, trace not written', open: () => openStore({ databaseUrl: postgresUrl, schema: `bench_exec_${randomUUID().slice(0, 8)}` }) },
];
for (const engine of engines) {
  try {
    const opened = await engine.open();
    variants.push(await governedVariant(engine.name, opened, engine.name.startsWith('breakdown') ? unrecordedOn(opened) : undefined));
  } catch (error) {
    skipped.push({ variant: engine.name, 'ms/step': `skipped: ${(error as Error).message}` });
  }
}

const wall = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
const cpu = new Map<string, number>(variants.map((variant) => [variant.name, 0]));
const results: Record<string, unknown> = { steps, rounds };
const rows: Array<Record<string, string>> = [];
try {
  // Warm-up: JIT, prepared statements, MCP connections.
  for (const variant of variants) for (let index = 0; index < 2; index += 1) await variant.run(-1 - index);
  for (let round = 0; round < rounds; round += 1) {
    for (let offset = 0; offset < variants.length; offset += 1) {
      const variant = variants[(round + offset) % variants.length]!;
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      await variant.run(round);
      wall.get(variant.name)!.push((performance.now() - started) / steps);
      const used = process.cpuUsage(cpuBefore);
      cpu.set(variant.name, cpu.get(variant.name)! + (used.user + used.system) / 1000 / steps);
    }
  }
  const baseline = wall.get(variants[0]!.name)!;
  for (const variant of variants) {
    const samples = wall.get(variant.name)!;
    const msPerStep = median(samples);
    const ratio = median(samples.map((value, index) => value / baseline[index]!));
    const added = median(samples.map((value, index) => value - baseline[index]!));
    const cpuPerStep = cpu.get(variant.name)! / rounds;
    results[variant.name] = { ms_per_step: msPerStep, ratio, added_ms_per_tool_call: added, cpu_ms_per_step: cpuPerStep };
    rows.push({
      variant: variant.name,
      'ms/step': msPerStep.toFixed(3),
      ratio: ratio.toFixed(2),
      'added ms/tool call': variant === variants[0] ? '-' : added.toFixed(3),
      'cpu ms/step': cpuPerStep.toFixed(3),
    });
  }
} finally {
  for (const variant of variants) await variant.close();
  rmSync(work, { recursive: true, force: true });
}
console.table([...rows, ...skipped]);
console.log(
  'A step is one model turn plus one MCP tool call; governed = decide + durable write-ahead record before each model and tool call (started ahead, overlapping LangGraph between nodes), outcomes group-committed, checkpoint at exit. Ratio and added ms are medians of per-round pairs; the breakdown row is the governed runtime with a recorder that writes nothing. Target: governed <= 1.3x on Postgres.',
);
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', 'execution.json'), `${JSON.stringify(results, null, 2)}\n`);
