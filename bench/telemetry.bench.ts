// What live OpenTelemetry costs a governed run: the order-desk copilot (scripted model, every
// action decided and recorded durably) on one store, with the recorder plain and with live GenAI
// spans exported by the official Node SDK over OTLP/HTTP protobuf to a local receiver. The two
// variants take turns round by round (the order rotating), and the ratio is the median of the
// per-round throughput ratios (target: traced / plain >= 0.95). Each traced batch ends by flushing
// the exporter inside its timing, so every span it made is serialised and sent — and paid for —
// in its own round, never in the plain round after it nor at shutdown (in-memory PGlite keeps the
// event loop so busy that the batch processor's timer otherwise only fires at shutdown, and the
// traced variant would look free). The store is Postgres, the production store, when
// AIFACTORY_BENCH_DATABASE_URL or AIFACTORY_TEST_DATABASE_URL names one, else PGlite in memory.
// The receiver is a process of its own, as a collector is: what it spends decoding is not charged to
// the traced variant. The figures count only if the receiver got spans during the rounds.
// BENCH_QUICK=1 uses smaller sizes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openStore } from '@aifactory/store';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { startTelemetry } from '@aifactory/server';
import { createRecorder, loadOrCreateSigner } from '@aifactory/verification';
import { prepareBusinessWorkspace } from '../examples/business-app/business-workspace.ts';

const quick = process.env.BENCH_QUICK === '1';
// Enough turns that a shared machine's noise averages out of the median (each round is about half a second a variant).
const rounds = quick ? 3 : 31;
const runsPerRound = quick ? 10 : 50;
const benchDir = path.dirname(fileURLToPath(import.meta.url));

// The receiver, in its own process: answers every export at once, counts what it got, and reports
// its counts on each line of its standard output when asked (a line on its standard input).
const receiver = spawn(
  process.execPath,
  [
    '-e',
    `const http = require('node:http');
let exports = 0, bytes = 0;
const server = http.createServer((request, response) => {
  request.on('data', (chunk) => (bytes += chunk.length));
  request.on('end', () => { exports += 1; response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(); });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.stdin.on('data', () => console.log(JSON.stringify({ exports, bytes })));
process.stdin.on('end', () => process.exit(0));`,
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const receiverLines = createInterface({ input: receiver.stdout! })[Symbol.asyncIterator]();
async function receiverSays(): Promise<{ port?: number; exports?: number; bytes?: number }> {
  const line = await receiverLines.next();
  if (line.done) throw new Error('the OTLP receiver exited');
  return JSON.parse(line.value) as { port?: number; exports?: number; bytes?: number };
}
async function receiverCounts(): Promise<{ exports: number; bytes: number }> {
  receiver.stdin!.write('\n');
  const counts = await receiverSays();
  return { exports: counts.exports ?? 0, bytes: counts.bytes ?? 0 };
}
const { port } = await receiverSays();
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
process.env.OTEL_SERVICE_NAME = 'aifactory-bench';
const telemetry = (await startTelemetry())!;

const workspace = prepareBusinessWorkspace();
const databaseUrl = process.env.AIFACTORY_BENCH_DATABASE_URL ?? process.env.AIFACTORY_TEST_DATABASE_URL;
const store = await openStore(databaseUrl ? { databaseUrl, schema: `bench_otel_${process.pid}` } : {});
const signer = await loadOrCreateSigner(workspace.dataDir);
const plain = await createWorkspaceRuntime({
  store,
  dataDir: workspace.dataDir,
  agentsDir: workspace.agentsDir,
  recorder: createRecorder(store, { signer }),
});
const traced = await createWorkspaceRuntime({
  store,
  dataDir: workspace.dataDir,
  agentsDir: workspace.agentsDir,
  recorder: telemetry.trace(createRecorder(store, { signer })),
});
const variants = { plain, traced } as const;
const principal = { id: 'alice@shop.example', roles: ['operator'] };

/** Governed runs per second for one batch of sequential runs (a traced batch's spans all exported within it). */
async function batch(runtime: typeof plain): Promise<{ runsPerSecond: number; cpuMsPerRun: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let index = 0; index < runsPerRound; index += 1) {
    const result = await runtime.runtime.start('order-desk', 'Where is my order 1042?', { principal });
    if (result.status !== 'completed') throw new Error(`run ${result.runId} ended ${result.status}`);
  }
  if (runtime === traced) await telemetry.flush();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { runsPerSecond: runsPerRound / seconds, cpuMsPerRun: (used.user + used.system) / 1000 / runsPerRound };
}

// Warm both paths (module loading, prepared statements, the SDK's exporter connection).
await batch(plain);
await batch(traced);
const figures: Record<'plain' | 'traced', Array<{ runsPerSecond: number; cpuMsPerRun: number }>> = { plain: [], traced: [] };
const ratios: number[] = [];
for (let round = 0; round < rounds; round += 1) {
  const order = round % 2 === 0 ? (['plain', 'traced'] as const) : (['traced', 'plain'] as const);
  const result: Partial<Record<'plain' | 'traced', { runsPerSecond: number; cpuMsPerRun: number }>> = {};
  for (const name of order) result[name] = await batch(variants[name]);
  figures.plain.push(result.plain!);
  figures.traced.push(result.traced!);
  ratios.push(result.traced!.runsPerSecond / result.plain!.runsPerSecond);
}
const exportsDuringRounds = (await receiverCounts()).exports;
await telemetry.shutdown();
const { exports, bytes } = await receiverCounts();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const results = {
  store: databaseUrl ? 'postgres' : 'pglite',
  rounds,
  runsPerRound,
  plain: {
    runsPerSecond: median(figures.plain.map((item) => item.runsPerSecond)),
    cpuMsPerRun: median(figures.plain.map((item) => item.cpuMsPerRun)),
  },
  traced: {
    runsPerSecond: median(figures.traced.map((item) => item.runsPerSecond)),
    cpuMsPerRun: median(figures.traced.map((item) => item.cpuMsPerRun)),
  },
  ratio: median(ratios),
  ratios,
  cpuRatio: 0,
  target: 0.95,
  receiver: { exports, exportsDuringRounds, bytes },
};
// CPU time per run, the figure load on a shared machine disturbs least: plain / traced.
results.cpuRatio = results.plain.cpuMsPerRun / results.traced.cpuMsPerRun;
console.table({ plain: results.plain, traced: results.traced });
console.log(
  `traced / plain runs per second: median ${results.ratio.toFixed(3)} over ${rounds} rounds (target >= 0.95), CPU per run plain / traced ${results.cpuRatio.toFixed(3)}, on ${results.store}; the receiver got ${exportsDuringRounds} exports during the rounds, ${exports} in all, ${bytes} bytes`,
);
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
writeFileSync(path.join(benchDir, 'results', 'telemetry.json'), `${JSON.stringify(results, null, 2)}\n`);
if (exportsDuringRounds === 0) throw new Error('the receiver got no spans during the rounds: live tracing is not exporting as runs happen');

await plain.close();
await traced.close();
if (databaseUrl) await store.query((await import('@aifactory/store')).sql.raw(`DROP SCHEMA IF EXISTS "bench_otel_${process.pid}" CASCADE`));
await store.close();
receiver.stdin!.end();
await once(receiver, 'exit');
rmSync(workspace.root, { recursive: true, force: true });
