// The governing MCP proxy's added latency per tools/call (issue #19): the official SDK client calls
// the reference `everything` server's `echo` tool (started over stdio) directly, and through the
// proxy (GoverningMcpProxy in this process, the client linked to it in memory, the same upstream
// connection kind), with every call decided and its decision + intent committed durably before
// the upstream sees it and its outcome recorded. A third path measures the floor any durable
// record costs on the same store: one one-row INSERT, one commit, sent as a prepared statement as
// the recorder sends its rows (one round trip; not store.query, whose drizzle statement is parsed
// and planned on every call, which once made the floor 0.3-0.7 ms higher). The paths take turns round by
// round, so a load swing falls on all of them. Added = a percentile of the proxied path minus the
// same percentile direct; "beyond the commit floor" takes the floor's p50 off that, leaving the
// proxy's own work; CPU is this process's time per call (the upstream's process is the same on
// both paths, the database server's is not counted).
// Engines: Postgres (AIFACTORY_TEST_DATABASE_URL or DATABASE_URL; the target, p50 added <= 1.5 ms)
// and PGlite in a data directory. BENCH_QUICK=1 for a smoke run. Figures go to bench/results/mcp-proxy.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { compilePolicies, parsePolicy } from '@aifactory/control';
import { resolvePackageBin } from '@aifactory/execution';
import { GoverningMcpProxy, connectUpstream, serveProxySession } from '@aifactory/server';
import { openStore, sql, type Store } from '@aifactory/store';
import { commitFloor } from './fixtures/commit-floor.ts';
import { openWorkspace, workspaceConfigAt } from '@aifactory/workspace';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';

const quick = process.env.BENCH_QUICK === '1';
const rounds = quick ? 200 : 2000;
const warmup = quick ? 30 : 200;
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repositoryRoot = path.resolve(benchDir, '..');
const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const everything = resolvePackageBin('@modelcontextprotocol/server-everything', {
  from: [path.join(repositoryRoot, 'packages', 'execution')],
}).script;

const policy = `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: {name: bench-proxy, version: 1}
spec:
  default: deny
  rules:
    - id: echo
      match: {kind: tool, name: everything.echo}
      when: "size(action.args.message) < 1000"
      authority: autonomous
`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

async function measure(engine: 'postgres' | 'pglite'): Promise<Record<string, unknown>> {
  const home = mkdtempSync(path.join(tmpdir(), 'aifactory-bench-proxy-'));
  const schema = `bench_proxy_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  // PGlite in a data directory, as `factory` runs it (an in-memory store would record nothing durable).
  const store: Store =
    engine === 'postgres'
      ? await openStore({ databaseUrl: postgresUrl!, schema })
      : await openStore({ dataDir: path.join(home, 'pglite') });
  const workspace = await openWorkspace(workspaceConfigAt(home), { store });
  const direct = new Client({ name: 'bench-direct', version: '1.0.0' });
  await direct.connect(new StdioClientTransport({ command: process.execPath, args: [everything, 'stdio'], stderr: 'ignore' }));
  const upstream = await connectUpstream({ kind: 'stdio', command: process.execPath, args: [everything, 'stdio'] });
  // Compiled once, as `factory mcp proxy` does (the gate asks for the set on every decision).
  const policySet = compilePolicies([parsePolicy(policy, 'policy.yaml')]);
  const proxy = new GoverningMcpProxy({ workspace, upstream, name: 'everything', policies: () => policySet });
  const [clientSide, proxySide] = InMemoryTransport.createLinkedPair();
  const { session } = await serveProxySession(proxy, { transport: proxySide, principal: { id: 'bench@example.com', roles: ['operator'] } });
  const proxied = new Client({ name: 'bench-proxied', version: '1.0.0' });
  await proxied.connect(clientSide);
  await proxied.listTools();
  // The floor: one durable one-row INSERT commit on the same store, the least any write-ahead
  // record costs here (on Postgres a WAL flush, fdatasync; on PGlite a write to the host file).
  await store.query(sql.raw('CREATE TABLE IF NOT EXISTS bench_commit_floor (n integer, at timestamptz)'));
  const floor = commitFloor(store);
  type PathName = 'direct' | 'proxied' | 'floor';
  const call = async (name: PathName, round: number): Promise<void> => {
    if (name === 'floor') {
      await floor(round);
      return;
    }
    const result = await (name === 'direct' ? direct : proxied).callTool({ name: 'echo', arguments: { message: `ping ${round}` } });
    if (result.isError) throw new Error(`${name} call failed: ${JSON.stringify(result.content)}`);
  };
  const names: PathName[] = ['direct', 'proxied', 'floor'];
  const times: Record<PathName, number[]> = { direct: [], proxied: [], floor: [] };
  const cpu: Record<PathName, number> = { direct: 0, proxied: 0, floor: 0 };
  try {
    for (let round = 0; round < warmup + rounds; round += 1) {
      for (let offset = 0; offset < names.length; offset += 1) {
        const name = names[(round + offset) % names.length]!;
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        await call(name, round);
        const elapsed = performance.now() - started;
        if (round >= warmup) {
          times[name].push(elapsed);
          const used = process.cpuUsage(cpuBefore);
          cpu[name] += (used.user + used.system) / 1000;
        }
      }
    }
    const runId = session.runId()!;
    await proxied.close();
    await session.close();
    const verified = await workspace.verifyRun(runId);
    const [counted] = await store.query<{ count: number }>(
      sql`SELECT count(*)::int AS count FROM events WHERE run_id = ${runId} AND type = 'tool.called'`,
    );
    const row = (name: PathName) => ({
      p50_ms: round3(percentile(times[name], 50)),
      p99_ms: round3(percentile(times[name], 99)),
      mean_ms: round3(times[name].reduce((sum, value) => sum + value, 0) / times[name].length),
      cpu_ms_per_call: round3(cpu[name] / rounds),
    });
    const added = (p: number) => percentile(times.proxied, p) - percentile(times.direct, p);
    return {
      direct: row('direct'),
      proxied: row('proxied'),
      commit_floor: row('floor'),
      added_p50_ms: round3(added(50)),
      added_p99_ms: round3(added(99)),
      // What the proxy adds beyond the one durable commit the record needs: its own work.
      added_p50_beyond_commit_floor_ms: round3(added(50) - percentile(times.floor, 50)),
      added_cpu_ms_per_call: round3((cpu.proxied - cpu.direct) / rounds),
      recorded_calls: Number(counted?.count ?? 0),
      run_verified: verified.ok,
    };
  } finally {
    await direct.close().catch(() => undefined);
    await proxy.close();
    await workspace.close();
    if (engine === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    await store.close();
    rmSync(home, { recursive: true, force: true });
  }
}

const results: Record<string, unknown> = {
  rounds,
  warmup,
  setup:
    'SDK client -> upstream (server-everything echo, stdio) directly, vs SDK client -> in-memory link -> GoverningMcpProxy (decide, durable policy.decided + tool.called, outcome recorded) -> same upstream kind over stdio',
};
const targets: Record<string, string> = {};
for (const engine of ['postgres', 'pglite'] as const) {
  if (engine === 'postgres' && !postgresUrl) {
    results.postgres = 'not measured: set AIFACTORY_TEST_DATABASE_URL or DATABASE_URL';
    continue;
  }
  const measured = await measure(engine);
  results[engine] = measured;
  process.stdout.write(`${engine}: ${JSON.stringify(measured)}\n`);
  if (engine === 'postgres')
    targets['postgres: p50 added <= 1.5 ms'] =
      `${String(measured.added_p50_ms)} ms (of which the durable commit floor ${String((measured.commit_floor as { p50_ms: number }).p50_ms)} ms): ${(measured.added_p50_ms as number) <= 1.5 ? 'met' : 'NOT met'}`;
}
results.targets = targets;
results.loadavg = loadavg().map((value) => Number(value.toFixed(2)));
process.stdout.write(`targets ${JSON.stringify(targets)}\nload average ${(results.loadavg as number[]).join(' ')}\n`);
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
writeFileSync(path.join(benchDir, 'results', 'mcp-proxy.json'), `${JSON.stringify(results, null, 2)}\n`);
