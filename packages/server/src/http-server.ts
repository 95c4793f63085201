// `factory serve`: the HTTP API on a Node HTTP server over one workspace, with metrics, the MCP
// endpoint and a graceful shutdown — new runs are refused, open streams told, runs in flight
// reach a checkpoint (held, completed or failed; the trace and the LangGraph checkpoint are
// durable at each), then connections close.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { RunSupervisor, loadAgents, type ModelGateway } from '@aifactory/execution';
import { ErrorCode, SystemError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { openWorkspace, openWorkspaceStore, type RunQueue, type Workspace, type WorkspaceConfig } from '@aifactory/workspace';
import { createAdaptorServer } from '@hono/node-server';
import { isLoopbackHost, loopbackHostnames } from './host-guard.ts';
import { createHttpApp, type HttpApp, type HttpAppOptions, type McpRequestHandler, type ServerLog } from './http-app.ts';
import { validateOidcOptions } from './oidc-auth.ts';
import { loadGatewayConfig, type GatewayConfig } from './gateway/gateway-config.ts';
import { LlmGateway } from './gateway/llm-gateway.ts';
import { agentMcpHttpHandler } from './mcp-server.ts';
import { createServerMetrics, observingRecorder, type ServerMetrics } from './metrics.ts';
import { QueuedRuns } from './queued-runs.ts';
import { RunFollower } from './run-follower.ts';
import { startTelemetry } from './telemetry.ts';

/** Options of startServer. */
export interface StartServerOptions {
  /** The workspace served: store, seal key, redaction, agents and policies folders (`workspaceConfigFromEnv()` for `factory serve`). */
  config: WorkspaceConfig;
  /** An open store to serve (the caller closes it); default: opened from `config` and closed with the server. */
  store?: Store;
  /** Port (default 8787; 0 picks a free one). */
  port?: number;
  /** Interface (default 127.0.0.1). */
  host?: string;
  /**
   * Share the port with other servers that set it too (SO_REUSEPORT, Linux): the kernel spreads new
   * connections between them, so N API processes on one machine use N cores without a load balancer.
   */
  reusePort?: boolean;
  /** A ready model gateway (tests, benchmarks). */
  gateway?: ModelGateway;
  /** Agents served at /mcp (names); default none (no MCP endpoint). */
  mcpAgents?: string[];
  /** Another MCP endpoint to serve at /mcp (e.g. the governing proxy), built over the server's workspace; instead of mcpAgents. */
  mcpEndpoint?: (workspace: Workspace) => { handle: McpRequestHandler; close(): Promise<void> };
  /** How long shutdown waits for runs in flight (ms, default 30 s). */
  shutdownTimeoutMs?: number;
  log?: ServerLog;
  publicMetrics?: boolean;
  bodyLimitBytes?: number;
  rateLimit?: HttpAppOptions['rateLimit'];
  durability?: 'exit' | 'sync' | 'async';
  /** Browser origins allowed to call the API (CORS). */
  corsOrigins?: string[];
  /** Host names requests may name in Host (besides localhost, 127.0.0.1 and [::1] on loopback); checked on loopback always, elsewhere when given. */
  allowedHosts?: string[];
  /** Accept OIDC access tokens (JWTs) of this issuer besides our own tokens. */
  oidc?: HttpAppOptions['oidc'];
  /** Failed authentications allowed per client address. */
  failedAuthLimit?: HttpAppOptions['failedAuthLimit'];
  /** The public base URL clients reach this server at (protected-resource metadata). */
  publicUrl?: string;
  /** Take client addresses from X-Forwarded-For (behind a proxy only). */
  trustProxy?: boolean;
  /** How long a verified token is remembered (ms, default 2000). */
  tokenCacheMs?: number;
  /** The local credential's secret (see HttpAppOptions.localToken). */
  localToken?: string;
  /** The console's built files, served at `/` (`factory serve` passes packages/console/dist). */
  consoleDir?: string;
  /** Recover orphaned runs (owner gone, lease lapsed) in this process: how often to look (default every second); false to leave it to others. */
  recovery?: { intervalMs?: number } | false;
  /** The LLM gateway's configuration (default: AIFACTORY_GATEWAY_CONFIG, else <home>/gateway.yaml, over the environment's provider keys); false serves no gateway. */
  llmGateway?: GatewayConfig | false;
  /**
   * Hand runs to `factory worker` processes through this job queue instead of driving them here
   * (`factory serve --queue`, Postgres only): starts, resumes after approval and recoveries become
   * jobs; the server records each start and streams the trace the worker writes. The caller closes it.
   */
  queue?: RunQueue;
}

/** A running server. */
export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8787. */
  url: string;
  port: number;
  http: HttpApp;
  workspace: Workspace;
  metrics: ServerMetrics;
  /** The LLM gateway, unless it was turned off. */
  llmGateway?: LlmGateway;
  /** Graceful shutdown; resolves with how many runs were still in flight at the deadline. */
  close(): Promise<{ unfinishedRuns: number }>;
}

/** Starts the HTTP API over `store`. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  if (options.oidc) validateOidcOptions(options.oidc); // before anything is opened
  const host = options.host ?? '127.0.0.1';
  // A loopback server is what DNS rebinding targets: it answers to its own names only.
  const allowedHosts = isLoopbackHost(host) ? [...loopbackHostnames, ...(options.allowedHosts ?? [])] : options.allowedHosts;
  const store = options.store ?? (await openWorkspaceStore(options.config));
  const metrics = createServerMetrics({ store });
  // Live GenAI spans when OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard OTEL_* variables).
  const telemetry = await startTelemetry();
  // The one composition root builds the parts, so serve seals with the key `factory run` uses.
  const workspace = await openWorkspace(options.config, {
    store,
    observeRecorder: (durable) => observingRecorder(telemetry ? telemetry.trace(durable, store) : durable, metrics),
    ...(options.gateway ? { gateway: options.gateway } : {}),
    ...(options.durability ? { durability: options.durability } : {}),
    ...(options.queue ? { queue: options.queue } : {}),
  }).catch(async (error: unknown) => {
    if (!options.store) await store.close();
    throw error;
  });
  const agentsDir = workspace.config.agentsDir;
  const serverLog = options.log ?? ((line: Record<string, unknown>) => process.stderr.write(`${JSON.stringify(line)}\n`));
  // Opened before recovery starts, so the gateway seals its own orphaned session runs first.
  const llmGateway =
    options.llmGateway === false
      ? undefined
      : await LlmGateway.open({
          config: options.llmGateway ?? loadGatewayConfig({ home: workspace.config.home, policiesDir: workspace.config.policiesDir }),
          store,
          recorder: workspace.recorder,
          approvals: workspace.approvals,
          redactor: workspace.redactor,
          notify: workspace.notify,
          ...(workspace.modelRegistry ? { modelRegistry: workspace.modelRegistry } : {}),
          log: (line) => serverLog(workspace.redactor.redact(line).value as Record<string, unknown>),
        }).catch(async (error: unknown) => {
          await workspace.close();
          if (!options.store) await store.close();
          throw error;
        });
  const queue = options.queue;
  // One follower of runs in the store serves every stream of this server: one read a poll.
  const follower = new RunFollower({ store });
  const queued = queue
    ? new QueuedRuns({ workspace, follower, enqueue: (job) => queue.enqueueDrive(job), startJob: (job) => queue.driveJobRows(job) })
    : undefined;
  // Runs whose process died are continued here once their lease lapses (any number of servers
  // and workers may look at once: the lease take-over picks exactly one).
  const supervisor =
    options.recovery === false
      ? undefined
      : new RunSupervisor({
          store,
          runtime: workspace.runtime,
          intervalMs: options.recovery?.intervalMs ?? 1_000,
          ...(queue
            ? {
                dispatch: (runId: string, reason: 'orphaned' | 'stalled') => queue.enqueueDrive({ runId, reason }),
                waiting: (runIds: readonly string[]) => queue.waitingDrives(runIds),
              }
            : {}),
          onRecovery: (result) =>
            (options.log ?? ((line) => process.stderr.write(`${JSON.stringify(line)}\n`)))({
              event: 'run.recovery',
              runId: result.runId,
              outcome: result.outcome,
              ...('error' in result ? { error: result.error.message } : {}),
            }),
        });
  supervisor?.start();
  let mcp: { handle: McpRequestHandler; close(): Promise<void> } | undefined;
  if (options.mcpEndpoint) mcp = options.mcpEndpoint(workspace);
  else if (options.mcpAgents && options.mcpAgents.length > 0) {
    const wanted = new Set(options.mcpAgents);
    const agents = (await loadAgents(agentsDir)).filter((agent) => wanted.has(agent.name));
    mcp = agentMcpHttpHandler({ workspace, agents, store: workspace.store });
  }
  const http = createHttpApp({
    workspace,
    metrics,
    ...(mcp ? { mcp: (request, principal) => mcp.handle(request, principal) } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.publicMetrics ? { publicMetrics: true } : {}),
    ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
    ...(allowedHosts ? { allowedHosts } : {}),
    ...(options.oidc ? { oidc: options.oidc } : {}),
    ...(options.failedAuthLimit ? { failedAuthLimit: options.failedAuthLimit } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.trustProxy ? { trustProxy: true } : {}),
    ...(options.tokenCacheMs === undefined ? {} : { tokenCacheMs: options.tokenCacheMs }),
    ...(options.localToken ? { localToken: options.localToken } : {}),
    ...(options.consoleDir ? { consoleDir: options.consoleDir } : {}),
    ...(llmGateway ? { llmGateway } : {}),
    follower,
    ...(queued
      ? {
          runs: {
            start: (request) => queued.start(request),
            resume: (runId, resume) => queued.resume(runId, resume),
            resolve: (runId, decision) => queued.resolve(runId, decision),
          },
        }
      : {}),
  });
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const created = createAdaptorServer({ fetch: http.nodeFetch }) as Server;
      // reusePort: several servers on one port, the kernel spreading connections between them (Linux SO_REUSEPORT).
      created.listen({ port: options.port ?? 8787, host, reusePort: options.reusePort === true }, () => resolve(created));
      created.once('error', (error) => {
        created.close();
        reject(error);
      });
    });
  } catch (error) {
    supervisor?.stop();
    await mcp?.close();
    await llmGateway?.close();
    await workspace.close();
    if (!options.store) await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${host}:${options.port ?? 8787}`;
    const reason =
      code === 'EADDRINUSE'
        ? `${where} is already in use (another server?); choose another --port or stop that process`
        : code === 'EACCES'
          ? `listening on ${where} is not permitted; use a port above 1023 or another --host`
          : code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this machine; give another --host`
            : (error as Error).message;
    throw new SystemError(ErrorCode.Internal, `Cannot listen on ${where}: ${reason}.`, { cause: error });
  }
  // Streams are long-lived; Node's default request timeout would cut them.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<{ unfinishedRuns: number }> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    http,
    workspace,
    metrics,
    ...(llmGateway ? { llmGateway } : {}),
    close() {
      closed ??= (async () => {
        http.beginShutdown();
        supervisor?.stop();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const unfinishedRuns = await http.drain(options.shutdownTimeoutMs ?? 30_000);
        // Runs still going (streamed ones past the deadline, recovered ones) stop at their next step
        // boundary with a fresh checkpoint and are handed back: their leases are released, so
        // another process continues them at once. One still mid-step after the grace keeps its
        // lease (never handed back mid-step): it lapses, and the run is recovered as after a crash.
        const grace = options.shutdownTimeoutMs === undefined ? 2_000 : Math.min(2_000, options.shutdownTimeoutMs);
        await workspace.runtime.drain(grace);
        // A recovery the supervisor had begun before it stopped (taking a lease, opening the agent)
        // finds the runtime draining and hands its run back; wait for it before the store closes.
        await Promise.race([supervisor?.idle(), new Promise((resolve) => setTimeout(resolve, grace).unref())]);
        queued?.close();
        // Gateway requests in flight finish; every session run is sealed.
        await llmGateway?.close();
        // Responses of the drained runs are being written now; give them a moment to finish
        // (the server closes each connection once its response is done), then cut the rest.
        server.closeIdleConnections();
        await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
        await mcp?.close();
        server.closeAllConnections();
        await stopped;
        await workspace.close();
        await telemetry?.shutdown();
        if (!options.store) await store.close();
        http.hub.clear();
        return { unfinishedRuns };
      })();
      return closed;
    },
  };
}
