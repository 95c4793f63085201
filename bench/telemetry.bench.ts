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
// The figures count only if the receiver got spans during the rounds. BENCH_QUICK=1 uses smaller sizes.
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@aifactory/store';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { startTelemetry } from '@aifactory/server';
import { createRecorder, loadOrCreateSigner } from '@aifactory/verification';
import { prepareBusinessWorkspace } from '../examples/business-app/business-workspace.ts';

const quick = process.env.BENCH_QUICK === '1';
const rounds = quick ? 3 : 15;
const runsPerRound = quick ? 10 : 40;
const benchDir = path.dirname(fileURLToPath(import.meta.url));

// The receiver: answers every export at once and counts what it got.
let exports = 0;
let bytes = 0;
const receiver = createServer((request, response) => {
  request.on('data', (chunk: Buffer) => (bytes += chunk.length));
  request.on('end', () => {
    exports += 1;
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
receiver.listen(0, '127.0.0.1');
await once(receiver, 'listening');
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
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
const exportsDuringRounds = exports;
await telemetry.shutdown();
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
receiver.close();
rmSync(workspace.root, { recursive: true, force: true });
