// The HTTP API: start runs and stream them (server-sent events), approvals, runs, verification
// and policies, behind bearer tokens with roles. Hono routes over web-standard Request/Response,
// so the same app serves Node (http-server.ts) and in-process tests (app.request).
//
// Access: no or a bad token gets 401 on every /v1 route before routing, so unauthenticated
// callers learn nothing. An authenticated caller whose roles do not reach a route or resource
// gets the same 404 an absent resource gets ("not visible to you"), so nobody learns whether a
// run or approval exists without the right to see it. Every decision is counted and logged;
// decisions about a held run are also recorded in its trace (auth.decided).
//
// This file is the composition root: options, the middleware every request passes (host guard,
// CORS, request log, body limit, hygiene, authentication) and the shared RouteContext. The routes
// live in routes/*.ts, one module per area, each a register...Routes(app, ctx) mounted by
// http-routes.ts:mountRoutes.
//
// The parts: http-errors.ts (how problems are answered), request-middleware.ts (host guard, CORS,
// request log, body limit, hygiene), http-auth.ts:HttpAuth (authentication, rate limit, roles,
// run visibility), request-input.ts (bodies and queries), run-stream.ts (server-sent events).
// Behind a Node server, the gateway's routes (gateway/gateway-fast-route.ts) and streaming starts
// (start-fast-route.ts) are answered in front of Hono by the same functions its routes run.
import { ErrorCode } from '@aifactory/core';
import type { RunEventListener, RunResult } from '@aifactory/execution';
import type { Store } from '@aifactory/store';
import type { Workspace } from '@aifactory/workspace';
import type { TokenPrincipal } from './api-tokens.ts';
import type { FailedAuthLimitOptions } from './failed-auth-limit.ts';
import { gatewayFastRoute } from './gateway/gateway-fast-route.ts';
import { registerGatewayRoutes } from './gateway/gateway-routes.ts';
import type { LlmGateway } from './gateway/llm-gateway.ts';
import { HttpAuth, heldRunRecorder, requestAuthenticator } from './http-auth.ts';
import { createApiApp, registerErrorHandling } from './http-errors.ts';
import type { ServerMetrics } from './metrics.ts';
import type { OidcOptions } from './oidc-auth.ts';
import { registerProtectedResourceRoutes } from './protected-resource.ts';
import { readBody, readQuery } from './request-input.ts';
import { maxBodyBytes, registerRequestMiddleware } from './request-middleware.ts';
import { HostCheck } from './host-guard.ts';
import { RateLimiter, type RateLimitOptions } from './rate-limit.ts';
import { documentGatewayRoutes } from './routes/gateway-docs.ts';
import type { ApiApp, RouteContext, RunDriver } from './routes/context.ts';
export type { RunDriver } from './routes/context.ts';
import { mountRoutes } from './http-routes.ts';
import { RunFollower } from './run-follower.ts';
import { RunHub } from './run-hub.ts';
import { RunsInFlight } from './runs-in-flight.ts';
import { startFastRoute } from './start-fast-route.ts';
import { nodeFetch, streamChannel } from './run-stream.ts';
import { createServerLog, type ServerLog, type ServerLogWithOwn } from './server-log.ts';

export { actAsHeaders } from './http-auth.ts';

/** A structured log line (JSON); secrets never go in. */
export type { ServerLog } from './server-log.ts';

/** Handles MCP Streamable HTTP requests for an authenticated principal. */
export type McpRequestHandler = (request: Request, principal: TokenPrincipal) => Promise<Response>;

/** What the HTTP app is made of. */
export interface HttpAppOptions {
  /** The open workspace: its parts (store, runtime, approvals, recorder, seal key), folders and use cases. */
  workspace: Workspace;
  /** Metrics; /metrics is served when given. */
  metrics?: ServerMetrics;
  /** Serve /metrics without a token (for a scraper on a private network). Default false. */
  publicMetrics?: boolean;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimitBytes?: number;
  /** Per-token rate limit (default burst 120, 60/s). */
  rateLimit?: RateLimitOptions;
  /** Structured log sink (default: JSON lines on stderr). */
  log?: ServerLog;
  /** MCP endpoint at /mcp (operator or admin). */
  mcp?: McpRequestHandler;
  /** Browser origins allowed to call the API (CORS), e.g. the business app embedding a copilot. */
  corsOrigins?: string[];
  /** How long a token lookup is cached (ms, default 2000); revocation through this server is immediate. */
  tokenCacheMs?: number;
  /**
   * The local credential `factory serve` writes into the home (mode 0600) for the CLI beside it:
   * it admits every route and may name the principal it acts for (X-Aifactory-As and
   * X-Aifactory-Roles headers), as a local administrator with direct store access could. Never
   * stored; it dies with the process.
   */
  localToken?: string;
  /** Host names (no port) requests may name in Host; when given, other Hosts and foreign Origins get 403 (DNS-rebinding protection). */
  allowedHosts?: readonly string[];
  /** Also accept OIDC access tokens (JWTs) of this issuer. */
  oidc?: OidcOptions;
  /** Failed authentications allowed per client address (default burst 20, one forgiven every 5 s). */
  failedAuthLimit?: FailedAuthLimitOptions;
  /** The server's public base URL (protected-resource metadata); default the origin each request reached. */
  publicUrl?: string;
  /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
  trustProxy?: boolean;
  /** The console's built files (packages/console/dist), served at `/`; absent: no console. */
  consoleDir?: string;
  /** The LLM gateway, served at /gateway/openai/v1 and /gateway/anthropic (see docs/gateway.md). */
  llmGateway?: LlmGateway;
  /** Who drives started and approved runs (default this process; `factory serve --queue`: workers, through the job queue). */
  runs?: RunDriver;
  /** Follows runs other processes drive, for every stream of this server (default one of its own). */
  follower?: RunFollower;
}

/** The app plus the handles a server needs to shut it down gracefully. */
export interface HttpApp {
  app: ApiApp;
  /** The app's fetch for a Node server (@hono/node-server's serve): event streams are written straight to Node's response. */
  nodeFetch: ReturnType<typeof nodeFetch>;
  hub: RunHub;
  /** Runs this process is driving now. */
  readonly inFlight: number;
  /** Refuses new runs (503) and ends open streams with a server.closing event. */
  beginShutdown(): void;
  /** Resolves when every run in flight has reached a checkpoint (held, completed, failed) or the timeout passed; returns how many were still running. */
  drain(timeoutMs: number): Promise<number>;
  /** Forgets a revoked token at once. */
  forgetToken(tokenId: string): void;
}

/** Creates the HTTP API over a workspace runtime. */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  const { workspace } = options;
  const store: Store = workspace.store;
  const write = options.log ?? createServerLog();
  // Log lines carry error messages and ids from requests: the workspace redactor masks them first.
  const redactor = workspace.redactor;
  const log: ServerLog = (line) => write(redactor ? redactor.redact(line).value : line);
  // The request log line's fields the server made itself are not redacted; every other field is.
  const logWithOwn: ServerLogWithOwn = (line, own) => write({ ...(redactor ? redactor.redact(line).value : line), ...own });
  const metrics = options.metrics;
  const hub = new RunHub();
  const limiter = new RateLimiter(options.rateLimit ?? { burst: 120, perSecond: 60 });
  const authenticator = requestAuthenticator(store, options);
  const inFlight = new RunsInFlight();
  const closing = new AbortController();
  const app = createApiApp();

  const authDecided = (principal: string, outcome: 'allowed' | 'denied', details: Record<string, unknown>) => {
    metrics?.authDecisions.inc({ outcome, reason: String(details.reason ?? 'role') });
    log({ event: 'auth.decided', principal, outcome, ...details });
  };

  const recordAgainstHeldRun = heldRunRecorder(workspace, log);

  const track = <T>(promise: Promise<T>): Promise<T> => inFlight.track(promise);

  registerErrorHandling(app, log);
  // One host check for the middleware and the gateway's route in front of Hono.
  const hostCheck = options.allowedHosts
    ? new HostCheck({ allowedHosts: options.allowedHosts, allowedOrigins: options.corsOrigins ?? [] })
    : undefined;
  registerRequestMiddleware(app, options, { log: logWithOwn, metrics, authDecided, hostCheck });
  registerProtectedResourceRoutes(app, {
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    issuer: () => authenticator.issuer,
    mcp: options.mcp !== undefined,
  });

  const auth = new HttpAuth({ store, options, authenticator, limiter, authDecided, log });
  const { authenticate, hasRole, requireRole, visibleRun } = auth;
  // The LLM gateway (OpenAI and Anthropic wire protocols, its own auth header and error shapes):
  // Hono's routes, and behind a Node server the same routes answered in front of Hono.
  let gatewayFast: ReturnType<typeof gatewayFastRoute> | undefined;
  if (options.llmGateway) {
    const gatewayOptions = { gateway: options.llmGateway, authenticate, authDecided, log };
    registerGatewayRoutes(app, gatewayOptions);
    documentGatewayRoutes(app);
    gatewayFast = gatewayFastRoute({
      ...gatewayOptions,
      hostCheck,
      cors: (options.corsOrigins?.length ?? 0) > 0,
      maxBodyBytes: maxBodyBytes(options),
      requestLog: logWithOwn,
      metrics,
      serverLog: log,
    });
  }

  app.use('/v1/*', async (c, next) => {
    if (c.req.path === '/v1/openapi.json') return next();
    c.set('principal', await authenticate(c));
    return next();
  });

  // Runs are driven here, or (serve --queue) by workers through the job queue.
  // A run driven here whose lease this process lost (it was paused or starved past it) goes on in
  // the process that took it over: its stream follows what that process records, from its
  // take-over (run.recovered by another owner) until the run completes, fails or is held.
  const follower = options.follower ?? new RunFollower({ store });
  const followElsewhere =
    (runId: string | undefined, onEvent: RunEventListener | undefined) =>
    (error: unknown): Promise<RunResult> => {
      if (!runId || (error as { code?: unknown })?.code !== ErrorCode.LeaseLost || closing.signal.aborted) throw error;
      const here = workspace.runtime.ownership.owner;
      return follower.follow(runId, 0, onEvent, { from: (type, payload) => type === 'run.recovered' && payload.owner !== here });
    };
  const runDriver: RunDriver = options.runs ?? {
    start: (request) => workspace.startRun(request).catch(followElsewhere(request.runId, request.onEvent)),
    resume: (runId, resume) => workspace.runtime.resume(runId, resume).catch(followElsewhere(runId, resume.onEvent)),
  };
  const ctx: RouteContext = {
    workspace,
    runs: runDriver,
    follower,
    store,
    log,
    metrics,
    hub,
    closing: closing.signal,
    authDecided,
    recordAgainstHeldRun,
    track,
    authenticate,
    hasRole,
    requireRole,
    visibleRun,
    readBody,
    readQuery,
    streamChannel: (c, channel, afterId, until) => streamChannel(closing.signal, c, channel, afterId, until),
  };

  mountRoutes(app, ctx, options, (tokenId) => authenticator.forget(tokenId));
  // Streaming starts (POST /v1/runs), the hottest of the API's own routes, served in front of Hono too.
  const startFast = startFastRoute({
    context: ctx,
    authenticate: (request) => authenticate(request),
    admit: auth.admit,
    hostCheck,
    cors: (options.corsOrigins?.length ?? 0) > 0,
    maxBodyBytes: maxBodyBytes(options),
    requestLog: logWithOwn,
    serverLog: log,
  });

  return {
    app,
    nodeFetch: nodeFetch((request, env) => gatewayFast?.(request, env) ?? startFast(request, env) ?? app.fetch(request, env)),
    hub,
    get inFlight() {
      return inFlight.size;
    },
    beginShutdown() {
      closing.abort();
      follower.close();
    },
    drain(timeoutMs: number): Promise<number> {
      return inFlight.drain(timeoutMs);
    },
    forgetToken(tokenId: string) {
      authenticator.forget(tokenId);
    },
  };
}
