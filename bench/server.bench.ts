// Serving figures, in one run on loopback:
//  1. MCP tool calls per second through our governed MCP server (the order-desk agent, scripted
//     model, autonomous decisions, every call a recorded, sealed run on PGlite) against a bare
//     @modelcontextprotocol/sdk server answering the same tool with a constant, both over
//     Streamable HTTP, sequential and 8 in flight.
//  2. Run-start latency under load: N concurrent streaming runs (POST /v1/runs, SSE), time to
//     the first event, all runs complete with every event id in order, heap before and after.
// BENCH_QUICK=1 uses smaller sizes. Figures go to bench/results/server.json.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { openStore } from '@aifactory/store';
import { createApiToken, startServer } from '@aifactory/server';
import { parseServerSentEvents } from '@aifactory/client';
import { prepareBusinessWorkspace } from '../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

const quick = process.env.BENCH_QUICK === '1';
const calls = quick ? 40 : 400;
const concurrentRuns = quick ? 40 : 200;
const benchDir = path.dirname(fileURLToPath(import.meta.url));

/** A bare SDK server with one trivial tool: the SDK's Node Streamable HTTP transport on node:http. */
async function startBareServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const server = createServer((request, response) => {
    void (async () => {
      const id = request.headers['mcp-session-id'];
      const existing = typeof id === 'string' ? sessions.get(id) : undefined;
      if (existing) return existing.handleRequest(request, response);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => void sessions.set(sessionId, transport),
      });
      const mcp = new McpServer({ name: 'bare', version: '1.0.0' });
      mcp.registerTool('order-desk', { inputSchema: { input: z.string() } }, async () => ({
        content: [{ type: 'text', text: 'Order 1042 left our warehouse yesterday and arrives on Friday.' }],
      }));
      await mcp.connect(transport);
      return transport.handleRequest(request, response);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Calls the tool `total` times with `parallel` in flight; returns calls per second. */
async function toolCallsPerSecond(url: string, headers: Record<string, string>, total: number, parallel: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: parallel }, async () => {
      const client = new Client({ name: 'bench', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
      return client;
    }),
  );
  await Promise.all(clients.map((client) => client.callTool({ name: 'order-desk', arguments: { input: 'Where is my order?' } })));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < total) {
        next += 1;
        const result = await client.callTool({ name: 'order-desk', arguments: { input: 'Where is my order?' } });
        if (result.isError) throw new Error(`tool call failed: ${JSON.stringify(result.content)}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((client) => client.close()));
  return total / seconds;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

const workspace = prepareBusinessWorkspace();
const store = await openStore();
const api = await startServer({
  store,
  config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir }),
  port: 0,
  mcpAgents: ['order-desk'],
  log: () => undefined,
  rateLimit: { burst: 100_000, perSecond: 100_000 },
});
const { token } = await createApiToken(store, { principal: 'bench@acme.example', roles: ['operator', 'auditor'] });
const bare = await startBareServer();
const auth = { authorization: `Bearer ${token}` };

const governedSequential = await toolCallsPerSecond(`${api.url}/mcp`, auth, calls, 1);
const bareSequential = await toolCallsPerSecond(bare.url, {}, calls, 1);
const governedParallel = await toolCallsPerSecond(`${api.url}/mcp`, auth, calls, 8);
const bareParallel = await toolCallsPerSecond(bare.url, {}, calls, 8);

// Run-start latency under load: all runs start at once and stream to the end.
(globalThis as { gc?: () => void }).gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const firstEventMs: number[] = [];
const totalMs: number[] = [];
let lost = 0;
let errors = 0;
const loadStarted = performance.now();
await Promise.all(
  Array.from({ length: concurrentRuns }, async (_, index) => {
    const started = performance.now();
    try {
      const response = await fetch(`${api.url}/v1/runs`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ agent: 'order-desk', input: `Customer ${index} asks: where is my order?` }),
      });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      const ids: number[] = [];
      let last = '';
      for await (const event of parseServerSentEvents(response.body)) {
        if (ids.length === 0) firstEventMs.push(performance.now() - started);
        ids.push(Number(event.id));
        last = event.event;
      }
      totalMs.push(performance.now() - started);
      if (last !== 'run.completed' || ids.some((id, position) => id !== position + 1)) lost += 1;
    } catch {
      errors += 1;
    }
  }),
);
const loadSeconds = (performance.now() - loadStarted) / 1000;
const completed = (await (await fetch(`${api.url}/v1/runs?status=completed&limit=1000`, { headers: auth })).json()) as { runs: unknown[] };
(globalThis as { gc?: () => void }).gc?.();
const heapAfter = process.memoryUsage().heapUsed;

await bare.close();
await api.close();
await store.close();
rmSync(workspace.root, { recursive: true, force: true });

const results = {
  quick,
  mcp: {
    calls,
    governed_calls_per_second_sequential: Math.round(governedSequential),
    bare_calls_per_second_sequential: Math.round(bareSequential),
    ratio_sequential: Number((bareSequential / governedSequential).toFixed(1)),
    governed_calls_per_second_8_in_flight: Math.round(governedParallel),
    bare_calls_per_second_8_in_flight: Math.round(bareParallel),
    ratio_8_in_flight: Number((bareParallel / governedParallel).toFixed(1)),
  },
  load: {
    concurrent_streaming_runs: concurrentRuns,
    errors,
    lost_or_out_of_order: lost,
    runs_completed_in_store: completed.runs.length,
    first_event_ms_p50: Math.round(percentile(firstEventMs, 50)),
    first_event_ms_p95: Math.round(percentile(firstEventMs, 95)),
    run_ms_p50: Math.round(percentile(totalMs, 50)),
    run_ms_p95: Math.round(percentile(totalMs, 95)),
    runs_per_second: Number((concurrentRuns / loadSeconds).toFixed(1)),
    heap_mb_before: Number((heapBefore / 2 ** 20).toFixed(1)),
    heap_mb_after: Number((heapAfter / 2 ** 20).toFixed(1)),
  },
  loadavg: (await import('node:os')).loadavg().map((value) => Number(value.toFixed(2))),
};
console.table(results.mcp);
console.table(results.load);
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
writeFileSync(path.join(benchDir, 'results', 'server.json'), `${JSON.stringify(results, null, 2)}\n`);
if (errors > 0 || lost > 0) {
  process.stderr.write(`server bench: ${errors} errors, ${lost} runs lost or out of order\n`);
  process.exit(1);
}
