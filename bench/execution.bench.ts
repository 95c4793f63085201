// Governance overhead per agent step (issues #4 and #21): the same LangGraph agent — a model, a
// trivial MCP tool over stdio — run ungoverned (no decision, no record, no checkpointer) and
// governed (decide, durable write-ahead record, outcomes group-committed; no checkpoint, as none is
// kept of a run's end), in one process. Three parts:
//
// 1. One run at a time, scripted model: ungoverned, governed on PGlite (data directory) and on
//    Postgres, and, for the breakdown only, the governed runtime on Postgres with a recorder that
//    writes nothing (what deciding, the gate and the runtime cost without the durable trace) and
//    with one that records as always but has its event INSERTs answered at once, unsent (what
//    recording costs apart from awaiting its commits).
// 2. One run at a time, the model reached over HTTP through the official `openai` SDK, at a local
//    OpenAI-compatible server in a process of its own: a realistic step. Ungoverned and Postgres.
// 3. 16 runs at once on Postgres (scripted model): steps per second, governed against ungoverned.
// Beside them, the floor on each engine: the client CPU of a bare one-row INSERT through the store's
// own driver (awaited prepared, awaited not prepared, 16 in flight), of a round trip that commits
// nothing, of one governed action alone outside any graph and of that action's INSERT alone (the
// same rows, without deciding and recording), and of one sleep and wake of the event loop with no
// database — since a governed step cannot commit less than twice, awaited (write-ahead of its
// model call and of its tool call), and every awaited commit is a sleep and a wake.
//
// Each variant first runs 10 times unmeasured (2 with BENCH_QUICK), so the JIT has settled and
// PGlite's WebAssembly is optimised before anything is counted. The variants then take turns run
// by run (the order rotating each round), so drift in a shared machine's speed falls on all of
// them alike; each round yields a paired ratio governed / ungoverned, and the figure reported is
// the median over rounds. Reports ms per tool step, the
// ratio, the milliseconds governance adds per tool call, this process's CPU milliseconds per step
// (process.cpuUsage, user + system, all threads, over every measured run; of which off the main
// thread: V8's GC and compiler workers, libuv's pool) and the CPU a governed action costs
// beyond the ungoverned agent: a run of N steps governs 2N + 2 actions (N + 1 model calls, N tool
// calls, the answer), each decided and durably recorded.
//
// BENCH_QUICK=1 runs fewer rounds (BENCH_ROUNDS=n sets part 1's). BENCH_VARIANTS=postgres,pglite,breakdown keeps only the part-1
// variants whose names contain one of the words, plus part 2 with `http`, part 3 with
// `concurrent` and the floors with `postgres`, `pglite` or `floor` (the ungoverned peers always run). BENCH_CPU_PROFILE=<file>
// writes a V8 CPU profile of the governed variants of part 1 (after warm-up), for `node --cpu-prof`
// without the start-up, and one of the ungoverned peer over as many runs beside it
// (<file>.ungoverned.cpuprofile), so the two can be compared frame by frame.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { compilePolicies, decide, parsePolicy } from '@aifactory/control';
import { contentHash } from '@aifactory/core';
import { openStore, sql, type Store } from '@aifactory/store';
import { createRecorder, createRedactor, type Recorder } from '@aifactory/verification';
import { acquireRunLease } from '@aifactory/verification/internal';
import {
  createAgentGraph,
  createModelGateway,
  createToolbox,
  GovernanceGate,
  parseScript,
  ToolHost,
  type Gate,
  type ModelGateway,
} from '@aifactory/execution';
import { createWorkspaceRuntime, type WorkspaceRuntime } from '@aifactory/workspace';

const quick = process.env.BENCH_QUICK === '1';
const steps = quick ? 20 : 60;
const rounds = Number(process.env.BENCH_ROUNDS) || (quick ? 5 : 41);
const httpRounds = quick ? 3 : 15;
/** Runs of each variant before anything is measured (see measureSerial). */
const warmUpRuns = quick ? 2 : 10;
const concurrency = 16;
const concurrentRounds = quick ? 3 : 11;
/** Governed actions per run: N + 1 model calls, N tool calls and the answer. */
const actionsPerRun = 2 * steps + 2;
const postgresUrl =
  process.env.AIFACTORY_BENCH_DATABASE_URL ?? process.env.AIFACTORY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const here = path.dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'aifactory-bench-exec-'));
const echoServer = path.join(here, 'fixtures', 'echo-mcp-server.ts');
const only = process.env.BENCH_VARIANTS?.split(',')
  .map((word) => word.trim().toLowerCase())
  .filter(Boolean);
const wanted = (name: string) => !only || only.some((word) => name.toLowerCase().includes(word));

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
    - id: local-models
      match: { kind: model, name: "local:*" }
      authority: autonomous
    - id: answers
      match: { kind: answer }
      authority: autonomous
`;
writeFileSync(path.join(work, 'policy.yaml'), policyText);

/** An agent file for a model id: the same agent whatever its model. */
function agentFileFor(name: string, modelId: string): string {
  const file = path.join(work, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: aifactory/v1
kind: Agent
metadata: { name: ${name}, description: Echoes in a loop., team: bench }
spec:
  model: { id: "${modelId}" }
  system_prompt: Echo.
  tools:
    - server: echo
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(echoServer)}]
  policies: [./policy.yaml]
`,
  );
  return file;
}

/** Where the model is: a script in this process, or an OpenAI-compatible server over HTTP. */
interface Workload {
  name: string;
  modelId: string;
  agentFile: string;
  gateway(): ModelGateway;
}

const scripted: Workload = {
  name: 'scripted model',
  modelId: 'scripted:bench',
  agentFile: agentFileFor('bench-agent', 'scripted:bench'),
  gateway: () => createModelGateway({ scripts: { bench: parseScript(scriptText, 'bench.script') } }),
};

/** Starts the local OpenAI-compatible server (bench/fixtures/openai-echo-server.ts) in its own process. */
async function startModelServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(here, 'fixtures', 'openai-echo-server.ts')], {
    env: { ...process.env, STEPS: String(steps) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the OpenAI-compatible server exited (${code}) before it listened`)));
  });
  lines.close();
  return { url, child };
}

function httpWorkload(url: string): Workload {
  return {
    name: 'openai SDK over HTTP',
    modelId: 'local:bench',
    agentFile: agentFileFor('bench-agent-http', 'local:bench'),
    gateway: () => createModelGateway({ providers: { local: { kind: 'openai-compatible', baseURL: url } }, maxRetries: 0 }),
  };
}

/** One way of running the agent once, start to end. */
interface Variant {
  name: string;
  run(round: number, index?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The same graph with a gate that lets everything through and records nothing. Its verdicts
 * carry the arguments' hash, as the Gate contract says (a microsecond or two per action).
 */
async function ungovernedVariant(workload: Workload): Promise<Variant> {
  const host = await ToolHost.connect([{ name: 'echo', command: process.execPath, args: [echoServer] }]);
  const policySet = compilePolicies([parsePolicy(policyText, 'policy.yaml')]);
  // The verdict every action gets: the decision the bench policy reaches for its tool call.
  const decision = decide(policySet, {
    kind: 'tool',
    name: 'echo.echo',
    args: { text: 'step 0' },
    agent: { id: 'bench-agent' },
    principal: { id: 'bench', roles: [] },
    run: { id: 'ungoverned', steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
  });
  if (decision.authority !== 'autonomous') throw new Error(`the bench policy does not allow its tool call: ${decision.reason}`);
  const gate: Gate = {
    policySet,
    govern: async (_run, step, proposed) => ({
      kind: 'execute',
      authority: 'autonomous',
      decision,
      step,
      argsHash: contentHash(proposed.args),
      notified: [],
    }),
    hold: async () => {
      throw new Error('never held');
    },
    defer: () => {},
    commit: async () => {},
    flush: async () => {},
  };
  const graph = createAgentGraph({
    agent: { id: 'bench-agent', model: workload.modelId, systemPrompt: 'Echo.' },
    gate,
    models: workload.gateway(),
    toolbox: createToolbox({ host }),
    markHeld: async () => {},
    emit: () => {},
  });
  return {
    name: 'ungoverned LangGraph agent',
    async run(round, index = 0) {
      const state = await graph.invoke(
        {
          runId: `u${round}_${index}`,
          principal: { id: 'bench', roles: [] },
          startedAtMs: Date.now(),
          messages: [{ role: 'user', content: 'go' }],
        },
        { recursionLimit: 10_000 },
      );
      if (state.status !== 'completed') throw new Error(`ungoverned run ended ${state.status}: ${state.error}`);
    },
    close: () => host.close(),
  };
}

/**
 * A recorder that writes no trace (the first breakdown variant). It still takes the run's lease when
 * asked, as the real one does in the start commit: every tool call checks that lease.
 */
const unrecordedOn = (store: Store) =>
  ({
    ...unrecorded,
    startRun: async (run: { id?: string }, options?: { lease?: { owner: string; ttlMs: number } }) => {
      if (run.id && options?.lease)
        await acquireRunLease(store, run.id, options.lease.owner, { ttlMs: options.lease.ttlMs, acquisition: 'new' });
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

/**
 * The store as the recorder sees it, with every events INSERT answered at once as committed and
 * never sent (the second breakdown variant): the trace is checked, redacted, hashed and serialised
 * as always, and the run's start, its seal and its lease still go to Postgres, but no awaited
 * commit stands before an action. Beside "governed, Postgres" it shows what awaiting the commits
 * costs the client; beside "trace not written", what recording them does.
 */
function eventCommitsAnsweredAtOnce(store: Store): Store {
  if (store.driver.kind !== 'postgres') return store;
  const client = store.driver.client;
  const unsafe = client.unsafe.bind(client) as (...args: unknown[]) => unknown;
  const answering = new Proxy(client, {
    get(target, key, receiver) {
      if (key !== 'unsafe') return Reflect.get(target, key, receiver);
      return (text: string, ...rest: unknown[]) =>
        text.startsWith('INSERT INTO events')
          ? // Each of the recorder's JSON rows names its fence once, so one row per '"fence":'.
            Promise.resolve(Object.assign([], { count: String(rest[0]).split('"fence":').length - 1 }))
          : unsafe(text, ...rest);
    },
  });
  return { ...store, driver: { kind: 'postgres', client: answering } };
}

/** The governed runtime over a store: what `factory run` does. */
async function governedVariant(name: string, workload: Workload, store: Store, recorder?: Recorder): Promise<Variant> {
  const workspace: WorkspaceRuntime = await createWorkspaceRuntime({
    store,
    dataDir: path.join(work, `data-${variantCount++}`),
    agentsDir: work,
    gateway: workload.gateway(),
    ...(recorder ? { recorder } : {}),
  });
  return {
    name,
    async run() {
      const result = await workspace.runtime.start(workload.agentFile, 'go', { principal: { id: 'bench', roles: [] } });
      if (result.status !== 'completed')
        throw new Error(`governed run on ${store.kind} ended ${result.status}${result.status === 'failed' ? `: ${result.error}` : ''}`);
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
const openPostgres = () => openStore({ databaseUrl: postgresUrl, schema: `bench_exec_${randomUUID().slice(0, 8)}`, maxConnections: 10 });

/** Opens the governed variants asked for; a store that cannot be opened is reported as skipped. */
async function governedVariants(
  workload: Workload,
  engines: Array<{ name: string; open: () => Promise<Store>; unrecorded?: boolean }>,
  skipped: Array<Record<string, string>>,
  filtered = false,
): Promise<Variant[]> {
  const variants: Variant[] = [];
  for (const engine of engines) {
    if (filtered && !wanted(engine.name)) continue;
    try {
      const opened = await engine.open();
      variants.push(await governedVariant(engine.name, workload, opened, engine.unrecorded ? unrecordedOn(opened) : undefined));
    } catch (error) {
      skipped.push({ variant: engine.name, 'ms/step': `skipped: ${(error as Error).message}` });
    }
  }
  return variants;
}

/**
 * BENCH_CPU_PROFILE=<file>: a V8 CPU profile of the governed variants only (with BENCH_VARIANTS
 * to pick them), over as many runs as the measured rounds and after warm-up, so start-up does not
 * drown the steps.
 */
async function profileGoverned(variants: Variant[], file: string): Promise<void> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  for (let round = 0; round < rounds; round += 1) for (const variant of variants.slice(1)) await variant.run(10_000 + round);
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(file, JSON.stringify(profile));
  // The ungoverned peer's profile beside it, so the two can be compared frame by frame.
  await session.post('Profiler.start');
  for (let round = 0; round < rounds; round += 1) await variants[0]!.run(10_000 + round);
  const { profile: peer } = await session.post('Profiler.stop');
  const peerFile = file.replace(/(\.cpuprofile)?$/, '.ungoverned.cpuprofile');
  writeFileSync(peerFile, JSON.stringify(peer));
  session.disconnect();
  console.log(
    `CPU profile of ${variants
      .slice(1)
      .map((variant) => variant.name)
      .join(', ')} (${rounds} runs each): ${file}; of the ungoverned peer: ${peerFile}`,
  );
}

/** One run at a time, variants taking turns; rows for the table, figures for the JSON. */
async function measureSerial(
  part: string,
  variants: Variant[],
  partRounds: number,
  results: Record<string, unknown>,
): Promise<Array<Record<string, string>>> {
  const wall = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
  const cpu = new Map<string, number>(variants.map((variant) => [variant.name, 0]));
  const offMain = new Map<string, number>(variants.map((variant) => [variant.name, 0]));
  // Warm-up: JIT, prepared statements, MCP connections, and PGlite's WebAssembly, which V8 first
  // runs from its baseline compiler and optimises in the background as it gets hot: on this
  // machine a PGlite run's CPU kept falling for its first 8-10 runs (1.2 s, then ~0.5 s, then
  // ~0.25-0.3 s), the other variants' for about 5. Every variant gets the same warm-up runs.
  for (const variant of variants) for (let index = 0; index < warmUpRuns; index += 1) await variant.run(-1 - index);
  if (process.env.BENCH_CPU_PROFILE && part === scripted.name) await profileGoverned(variants, process.env.BENCH_CPU_PROFILE);
  for (let round = 0; round < partRounds; round += 1) {
    for (let offset = 0; offset < variants.length; offset += 1) {
      const variant = variants[(round + offset) % variants.length]!;
      const cpuBefore = process.cpuUsage();
      const mainBefore = process.threadCpuUsage();
      const started = performance.now();
      await variant.run(round);
      wall.get(variant.name)!.push((performance.now() - started) / steps);
      const used = process.cpuUsage(cpuBefore);
      const usedMain = process.threadCpuUsage(mainBefore);
      cpu.set(variant.name, cpu.get(variant.name)! + (used.user + used.system) / 1000);
      offMain.set(variant.name, offMain.get(variant.name)! + (used.user + used.system - usedMain.user - usedMain.system) / 1000);
    }
  }
  const baseline = wall.get(variants[0]!.name)!;
  const baselineCpuPerRun = cpu.get(variants[0]!.name)! / partRounds;
  const rows: Array<Record<string, string>> = [];
  for (const variant of variants) {
    const samples = wall.get(variant.name)!;
    const msPerStep = median(samples);
    const ratio = median(samples.map((value, index) => value / baseline[index]!));
    const added = median(samples.map((value, index) => value - baseline[index]!));
    const cpuPerRun = cpu.get(variant.name)! / partRounds;
    const cpuPerAction = (cpuPerRun - baselineCpuPerRun) / actionsPerRun;
    const offMainPerStep = offMain.get(variant.name)! / partRounds / steps;
    results[`${part}: ${variant.name}`] = {
      ms_per_step: msPerStep,
      ratio,
      added_ms_per_tool_call: added,
      cpu_ms_per_step: cpuPerRun / steps,
      cpu_ms_per_step_off_main_thread: offMainPerStep,
      cpu_ms_per_governed_action: variant === variants[0] ? null : cpuPerAction,
    };
    rows.push({
      workload: part,
      variant: variant.name,
      'ms/step': msPerStep.toFixed(3),
      ratio: ratio.toFixed(2),
      'added ms/tool call': variant === variants[0] ? '-' : added.toFixed(3),
      'cpu ms/step': (cpuPerRun / steps).toFixed(3),
      'of which off main thread': offMainPerStep.toFixed(3),
      'cpu ms/governed action': variant === variants[0] ? '-' : cpuPerAction.toFixed(3),
    });
  }
  return rows;
}

/** `concurrency` runs at once, ungoverned and governed taking turns; steps per second of each. */
async function measureConcurrent(
  part: string,
  variants: Variant[],
  results: Record<string, unknown>,
): Promise<Array<Record<string, string>>> {
  const rates = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
  const cpu = new Map<string, number>(variants.map((variant) => [variant.name, 0]));
  const offMain = new Map<string, number>(variants.map((variant) => [variant.name, 0]));
  const runAll = (variant: Variant, round: number) =>
    Promise.all(Array.from({ length: concurrency }, (_, index) => variant.run(round, index)));
  for (const variant of variants) await runAll(variant, -1);
  for (let round = 0; round < concurrentRounds; round += 1) {
    for (let offset = 0; offset < variants.length; offset += 1) {
      const variant = variants[(round + offset) % variants.length]!;
      const cpuBefore = process.cpuUsage();
      const mainBefore = process.threadCpuUsage();
      const started = performance.now();
      await runAll(variant, 20_000 + round);
      rates.get(variant.name)!.push((concurrency * steps) / ((performance.now() - started) / 1000));
      const used = process.cpuUsage(cpuBefore);
      const usedMain = process.threadCpuUsage(mainBefore);
      cpu.set(variant.name, cpu.get(variant.name)! + (used.user + used.system) / 1000);
      offMain.set(variant.name, offMain.get(variant.name)! + (used.user + used.system - usedMain.user - usedMain.system) / 1000);
    }
  }
  const baseline = rates.get(variants[0]!.name)!;
  const baselineCpuPerRun = cpu.get(variants[0]!.name)! / (concurrentRounds * concurrency);
  return variants.map((variant) => {
    const samples = rates.get(variant.name)!;
    const share = median(samples.map((value, index) => value / baseline[index]!));
    const cpuPerRun = cpu.get(variant.name)! / (concurrentRounds * concurrency);
    const cpuPerAction = (cpuPerRun - baselineCpuPerRun) / actionsPerRun;
    const offMainPerStep = offMain.get(variant.name)! / (concurrentRounds * concurrency) / steps;
    results[`${part}: ${variant.name}`] = {
      steps_per_second: median(samples),
      share_of_ungoverned: share,
      cpu_ms_per_step: cpuPerRun / steps,
      cpu_ms_per_step_off_main_thread: offMainPerStep,
      cpu_ms_per_governed_action: variant === variants[0] ? null : cpuPerAction,
    };
    return {
      workload: part,
      variant: variant.name,
      'steps/s': median(samples).toFixed(0),
      'share of ungoverned': variant === variants[0] ? '1.00' : share.toFixed(2),
      'cpu ms/step': (cpuPerRun / steps).toFixed(3),
      'of which off main thread': offMainPerStep.toFixed(3),
      'cpu ms/governed action': variant === variants[0] ? '-' : cpuPerAction.toFixed(3),
    };
  });
}

/** One way of paying for a durable record, repeated `count` times (awaited unless it says otherwise). */
interface Floor {
  name: string;
  run(count: number): Promise<void>;
}

/**
 * The floor under a governed action, per engine: the client CPU of a bare one-row INSERT through
 * the store's own driver (awaited, prepared as the recorder prepares its statement; not prepared;
 * 16 in flight at once), of a round trip that commits nothing (SELECT 1: what is left once the
 * write and its fsync are gone), and of a governed action alone outside any graph (the gate decides
 * and the recorder commits policy.decided, tool.called and the previous tool.returned in one
 * INSERT). Floors take turns round by round; figures are medians over rounds, per statement.
 */
async function measureFloors(engine: 'postgres' | 'pglite'): Promise<Array<Record<string, string>>> {
  const store = engine === 'postgres' ? await openPostgres() : await openStore({ dataDir: path.join(work, 'pglite-floor') });
  try {
    const payload = 'x'.repeat(300);
    let seq = 0;
    const floors: Floor[] = [];
    if (store.driver.kind === 'postgres') {
      const client = store.driver.client;
      await client.unsafe('CREATE TABLE floor (run_id text, seq int, payload text)');
      const insert = (prepare: boolean) => client.unsafe('INSERT INTO floor VALUES ($1, $2, $3)', ['run', seq++, payload], { prepare });
      floors.push(
        {
          name: 'INSERT one row, awaited, prepared',
          run: async (count) => {
            for (let index = 0; index < count; index += 1) await insert(true);
          },
        },
        {
          name: 'INSERT one row, awaited, not prepared',
          run: async (count) => {
            for (let index = 0; index < count; index += 1) await insert(false);
          },
        },
        {
          name: 'INSERT one row, 16 in flight at once',
          run: async (count) => {
            for (let index = 0; index < count; index += 16) await Promise.all(Array.from({ length: 16 }, () => insert(true)));
          },
        },
        {
          name: 'SELECT 1, awaited (round trip, no commit)',
          run: async (count) => {
            for (let index = 0; index < count; index += 1) await client.unsafe('SELECT 1', [], { prepare: true });
          },
        },
      );
    } else {
      const client = store.driver.client;
      await client.exec('CREATE TABLE floor (run_id text, seq int, payload text)');
      floors.push({
        name: 'INSERT one row, awaited',
        run: async (count) => {
          for (let index = 0; index < count; index += 1)
            await client.query('INSERT INTO floor VALUES ($1, $2, $3)', ['run', seq++, payload]);
        },
      });
    }
    const recorder = createRecorder(store, { redactor: createRedactor({ key: randomBytes(32) }) });
    const policySet = compilePolicies([parsePolicy(policyText, 'policy.yaml')]);
    const gate = new GovernanceGate({ policies: () => policySet, recorder });
    let runs = 0;
    floors.push({
      name: 'governed action alone: decide + record, awaited',
      async run(count) {
        const runId = `floor_${runs++}`;
        await recorder.startRun({ id: runId, agent: 'bench-agent', principal: 'bench' });
        const context = {
          runId,
          agent: { id: 'bench-agent' },
          principal: { id: 'bench', roles: [] },
          counters: { steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0 },
          startedAtMs: Date.now(),
          classifications: [],
        };
        for (let step = 1; step <= count; step += 1) {
          const call = { step, call_id: `call_${step}`, name: 'echo.echo' };
          const verdict = await gate.govern(context, step, { kind: 'tool', name: 'echo.echo', args: { text: `step ${step}` } }, (args) => ({
            type: 'tool.called',
            actor: 'bench-agent',
            payload: { ...call, kind: 'tool', args },
          }));
          if (verdict.kind !== 'execute') throw new Error(`the floor's tool call was not allowed: ${verdict.kind}`);
          gate.defer(runId, {
            type: 'tool.returned',
            actor: 'bench-agent',
            payload: { ...call, result: { content: [{ type: 'text', text: `step ${step}` }] } },
          });
        }
      },
    });
    if (store.driver.kind === 'postgres') {
      // The governed action's own statements without the gate and recorder around them: the rows
      // the floor above committed (three a statement: the previous tool.returned, policy.decided,
      // tool.called), re-inserted into a copy of the events table through the recorder's statement
      // shape (the rows as one json_to_recordset parameter, their payloads as one text). Beside "governed action alone" it splits that
      // action's client CPU into the round trip of its INSERT and the work of deciding and recording.
      const client = store.driver.client;
      const columns = 'run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, redactions, prev_hash, hash';
      await client.unsafe('CREATE TABLE floor_events (LIKE events INCLUDING ALL)');
      const insertRows = `INSERT INTO floor_events (${columns}) SELECT ${columns} FROM ROWS FROM (json_to_recordset($1::json) AS (run_id text, seq int, ts timestamptz, type text, actor text, payload_salt text, payload_hash text, schema_version int, redactions jsonb, prev_hash text, hash text), unnest(string_to_array($2::text, chr(30)))) AS x(run_id, seq, ts, type, actor, payload_salt, payload_hash, schema_version, redactions, prev_hash, hash, payload)`;
      let statements: Array<[string, string]> = [];
      floors.push({
        name: "the governed action's INSERT alone (same rows, raw), awaited",
        async run(count) {
          if (statements.length < count) {
            // postgres.js reads ts as a Date, which JSON writes back as the same ISO text.
            const rows = await client.unsafe(`SELECT ${columns} FROM events WHERE run_id = 'floor_0' AND seq > 1 ORDER BY seq`);
            statements = [];
            // Enough statements for `count`: the run's rows again under another run id when it has too few.
            for (let pass = 0; statements.length < count; pass += 1)
              for (let index = 0; index + 3 <= rows.length && statements.length < count; index += 3)
                statements.push([
                  JSON.stringify(rows.slice(index, index + 3).map(({ payload: _, ...row }) => ({ ...row, run_id: `floor_0_${pass}` }))),
                  rows
                    .slice(index, index + 3)
                    .map((row) => row.payload as string)
                    .join('\u001e'),
                ]);
          }
          await client.unsafe('TRUNCATE floor_events');
          for (let index = 0; index < count; index += 1) await client.unsafe(insertRows, statements[index]!, { prepare: true });
        },
      });
    }
    // What one sleep and wake of the event loop costs this process, with no database at all: every
    // awaited commit pays at least this, and on a loaded machine (caches cold after the sleep) it
    // is a large part of what an awaited INSERT costs the client.
    floors.push({
      name: 'event loop sleep and wake, awaited (setTimeout 1 ms, no database)',
      run: async (count) => {
        for (let index = 0; index < count; index += 1) await new Promise((resolve) => setTimeout(resolve, 1));
      },
    });
    const count = quick ? 200 : 500;
    const floorRounds = quick ? 3 : 9;
    const samples = new Map(floors.map((floor) => [floor.name, { cpu: [] as number[], main: [] as number[], wall: [] as number[] }]));
    for (const floor of floors) await floor.run(count);
    for (let round = 0; round < floorRounds; round += 1) {
      for (let offset = 0; offset < floors.length; offset += 1) {
        const floor = floors[(round + offset) % floors.length]!;
        const cpuBefore = process.cpuUsage();
        const mainBefore = process.threadCpuUsage();
        const started = performance.now();
        await floor.run(count);
        const wallMs = performance.now() - started;
        const used = process.cpuUsage(cpuBefore);
        const usedMain = process.threadCpuUsage(mainBefore);
        const sample = samples.get(floor.name)!;
        sample.cpu.push((used.user + used.system) / 1000 / count);
        sample.main.push((usedMain.user + usedMain.system) / 1000 / count);
        sample.wall.push(wallMs / count);
      }
    }
    return floors.map((floor) => {
      const sample = samples.get(floor.name)!;
      const figures = { cpu_ms: median(sample.cpu), main_thread_cpu_ms: median(sample.main), wall_ms: median(sample.wall) };
      results[`floor, ${store.kind}: ${floor.name}`] = figures;
      return {
        store: store.kind,
        'per statement': floor.name,
        'cpu ms': figures.cpu_ms.toFixed(3),
        'main thread cpu ms': figures.main_thread_cpu_ms.toFixed(3),
        'wall ms': figures.wall_ms.toFixed(3),
      };
    });
  } finally {
    if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
    await store.close();
  }
}

const floorRows: Array<Record<string, string>> = [];
const results: Record<string, unknown> = {
  steps,
  rounds,
  http_rounds: httpRounds,
  concurrency,
  concurrent_rounds: concurrentRounds,
  actions_per_run: actionsPerRun,
};
const serialRows: Array<Record<string, string>> = [];
const concurrentRows: Array<Record<string, string>> = [];
const skipped: Array<Record<string, string>> = [];
const opened: Variant[] = [];
let modelServer: ChildProcess | undefined;
try {
  // Part 1: scripted model, one run at a time.
  const part1 = [await ungovernedVariant(scripted)];
  opened.push(part1[0]!);
  const part1Governed = await governedVariants(
    scripted,
    [
      { name: 'governed, PGlite (data dir)', open: () => openStore({ dataDir: path.join(work, 'pglite') }) },
      { name: 'governed, Postgres', open: openPostgres },
      { name: 'breakdown: governed, trace not written', open: openPostgres, unrecorded: true },
      { name: 'breakdown: governed, event INSERTs answered at once', open: async () => eventCommitsAnsweredAtOnce(await openPostgres()) },
    ],
    skipped,
    true,
  );
  opened.push(...part1Governed);
  part1.push(...part1Governed);
  if (part1.length > 1) serialRows.push(...(await measureSerial(scripted.name, part1, rounds, results)));

  // The floor under a governed action, on each engine (bare INSERTs, a round trip, the action alone).
  for (const engine of ['postgres', 'pglite'] as const) {
    if (only && !only.some((word) => word === engine || word === 'floor')) continue;
    floorRows.push(
      ...(await measureFloors(engine).catch((error: Error) => [{ store: engine, 'per statement': `skipped: ${error.message}` }])),
    );
  }

  // Part 2: the model over HTTP through the openai SDK, one run at a time.
  if (!only || only.some((word) => ['http', 'openai'].includes(word))) {
    const server = await startModelServer();
    modelServer = server.child;
    const http = httpWorkload(server.url);
    const part2 = [await ungovernedVariant(http)];
    opened.push(part2[0]!);
    const part2Governed = await governedVariants(http, [{ name: 'governed, Postgres', open: openPostgres }], skipped);
    opened.push(...part2Governed);
    part2.push(...part2Governed);
    if (part2.length > 1) serialRows.push(...(await measureSerial(http.name, part2, httpRounds, results)));
  }

  // Part 3: 16 runs at once on Postgres, scripted model.
  if (!only || only.includes('concurrent')) {
    const part3 = [await ungovernedVariant(scripted)];
    opened.push(part3[0]!);
    const part3Governed = await governedVariants(
      scripted,
      [{ name: `governed, Postgres, ${concurrency} runs at once`, open: openPostgres }],
      skipped,
    );
    opened.push(...part3Governed);
    part3.push(...part3Governed);
    if (part3.length > 1) concurrentRows.push(...(await measureConcurrent(`${scripted.name}, ${concurrency} at once`, part3, results)));
  }
} finally {
  for (const variant of opened) await variant.close();
  modelServer?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
if (serialRows.length + skipped.length > 0) console.table([...serialRows, ...skipped]);
if (concurrentRows.length > 0) console.table(concurrentRows);
if (serialRows.length + concurrentRows.length > 0)
  console.log(
    `A step is one model turn plus one MCP tool call; governed = decide + durable write-ahead record before each model and tool call (started ahead, overlapping LangGraph between nodes), outcomes group-committed, no checkpoint of a run's end. Ratio and added ms are medians of per-round pairs; the breakdown rows are the governed runtime with a recorder that writes nothing, and with one that records as always but has its event INSERTs answered at once, unsent (what awaiting the commits costs: the rest of "governed, Postgres"). cpu ms/governed action = (this process's CPU per governed run - per ungoverned run) / ${actionsPerRun} actions per run. Targets (issue #21): cpu <= 0.15 ms per governed action on Postgres; governed <= 1.3x on Postgres, <= 1.6x on PGlite; ${concurrency} runs at once >= 70% of ungoverned steps/s.`,
  );
if (floorRows.length > 0) {
  console.table(floorRows);
  console.log(
    'The floor under a governed action: a governed step commits twice, awaited, before its model call and before its tool call (write-ahead), so each governed action pays at least one awaited INSERT. "governed action alone" is the gate and recorder outside any graph: one decision and one INSERT of three events; "INSERT alone" is that INSERT of the same rows without them (the difference is deciding and recording); "event loop sleep and wake" is what any awaited wait costs this process on this machine. cpu = this process (all threads), main thread = process.threadCpuUsage; medians of per-round figures.',
  );
}
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', 'execution.json'), `${JSON.stringify(results, null, 2)}\n`);
