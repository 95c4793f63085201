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
// live in routes/*.ts, one module per area, each a register...Routes(app, ctx) mounted below.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { AiFactoryError, ErrorCode, UserError, sha256Hex } from '@aifactory/core';
import type { RunEvent } from '@aifactory/execution';
import type { Store } from '@aifactory/store';
import { findRun } from '@aifactory/verification';
import type { Workspace } from '@aifactory/workspace';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { streamSSE } from 'hono/streaming';
import type { z } from 'zod';
import { touchApiToken, type ServerRole, type TokenPrincipal } from './api-tokens.ts';
import type { FailedAuthLimitOptions } from './failed-auth-limit.ts';
import { registerGatewayRoutes } from './gateway/gateway-routes.ts';
import type { LlmGateway } from './gateway/llm-gateway.ts';
import { hostGuard } from './host-guard.ts';
import type { ServerMetrics } from './metrics.ts';
import type { OidcOptions } from './oidc-auth.ts';
import { bearerChallenge, registerProtectedResourceRoutes } from './protected-resource.ts';
import { clientAddress, RequestAuthenticator } from './request-auth.ts';
import { requestHygiene } from './request-hygiene.ts';
import { RateLimiter, type RateLimitOptions } from './rate-limit.ts';
import { registerConsoleAssets } from './console-assets.ts';
import { registerConsoleRoutes } from './routes/console.ts';
import { registerAgentRoutes } from './routes/agents.ts';
import { registerApprovalRoutes } from './routes/approvals.ts';
import { registerFeedbackRoutes } from './routes/feedback.ts';
import { documentGatewayRoutes } from './routes/gateway-docs.ts';
import {
  HttpProblem,
  notVisible,
  parseWith,
  runReaders,
  validationProblem,
  type ApiApp,
  type RouteContext,
  type RunDriver,
} from './routes/context.ts';
export type { RunDriver } from './routes/context.ts';
import { registerPolicyRoutes } from './routes/policies.ts';
import { registerRunRoutes } from './routes/runs.ts';
import { registerMcpRoute, registerMetricsRoute, registerSystemRoutes } from './routes/system.ts';
import { registerTokenRoutes } from './routes/tokens.ts';
import { registerUsageRoutes } from './routes/usage.ts';
import { RunHub, type RunChannel } from './run-hub.ts';
import { registerOperatorRoutes } from './operator-routes.ts';
import { createServerLog, requestIdFrom, traceIdsOf, type ServerLog } from './server-log.ts';

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
}

/** The app plus the handles a server needs to shut it down gracefully. */
export interface HttpApp {
  app: ApiApp;
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

const statusByCode: Record<string, number> = {
  [ErrorCode.InputInvalid]: 400,
  [ErrorCode.PolicyInvalid]: 400,
  [ErrorCode.AgentInvalid]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.ApprovalInvalid]: 409,
  [ErrorCode.Forbidden]: 403,
};

/** Creates the HTTP API over a workspace runtime. */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  const { workspace } = options;
  const store: Store = workspace.store;
  const write = options.log ?? createServerLog();
  // Log lines carry error messages and ids from requests: the workspace redactor masks them first.
  const log: ServerLog = (line) => write(workspace.redactor ? workspace.redactor.redact(line).value : line);
  const metrics = options.metrics;
  const hub = new RunHub();
  const limiter = new RateLimiter(options.rateLimit ?? { burst: 120, perSecond: 60 });
  const authenticator = new RequestAuthenticator({
    store,
    ...(options.tokenCacheMs === undefined ? {} : { cacheMs: options.tokenCacheMs }),
    ...(options.oidc ? { oidc: options.oidc } : {}),
    ...(options.failedAuthLimit ? { failedAuthLimit: options.failedAuthLimit } : {}),
  });
  const lastTouched = new Map<string, number>();
  const inFlight = new Set<Promise<unknown>>();
  const closing = new AbortController();
  // Requests that fail their route's schema are answered like every other problem: 400 naming each field.
  const validationTargets: Record<string, string> = { json: 'body', query: 'query', param: 'path', header: 'header' };
  const app: ApiApp = new OpenAPIHono<{ Variables: { principal: TokenPrincipal } }>({
    defaultHook: (result) => {
      if (!result.success) throw validationProblem(result.error, validationTargets[result.target] ?? result.target);
    },
  });

  const authDecided = (principal: string, outcome: 'allowed' | 'denied', details: Record<string, unknown>) => {
    metrics?.authDecisions.inc({ outcome, reason: String(details.reason ?? 'role') });
    log({ event: 'auth.decided', principal, outcome, ...details });
  };

  /** Records an auth decision in a held run's trace (nothing else writes to it while it waits). */
  const recordAgainstHeldRun = async (runId: string, payload: Record<string, unknown>) => {
    try {
      const row = await findRun(store, runId);
      if (row?.status === 'held') await workspace.recorder.record(runId, { type: 'auth.decided', actor: 'server', payload });
    } catch (error) {
      log({ event: 'auth.record_failed', runId, error: (error as Error).message });
    }
  };

  const track = <T>(promise: Promise<T>): Promise<T> => {
    inFlight.add(promise);
    const remove = () => inFlight.delete(promise);
    promise.then(remove, remove);
    return promise;
  };

  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status < 500) {
      // From the request validators: a body that is not JSON (400) or not declared JSON (415).
      const message =
        error.status === 400
          ? `The request body is not valid JSON (${error.message}).`
          : error.status === 415
            ? 'Send the request body as application/json.'
            : error.message;
      return c.json({ error: { code: error.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : ErrorCode.InputInvalid, message } }, error.status);
    }
    if (error instanceof HttpProblem)
      return c.json(
        { error: { code: error.code, message: error.message, ...(error.path ? { path: error.path } : {}) } },
        error.status as 400,
      );
    if (error instanceof AiFactoryError && error instanceof UserError) {
      const status = statusByCode[error.code] ?? 400;
      const path = error.location?.path;
      return c.json({ error: { code: error.code, message: error.message, ...(path ? { path: String(path) } : {}) } }, status as 400);
    }
    const reference = randomUUID().slice(0, 8);
    log({
      event: 'request.failed',
      reference,
      method: c.req.method,
      path: c.req.path,
      error: error instanceof Error ? error.message : String(error),
    });
    return c.json(
      { error: { code: ErrorCode.Internal, message: `The server failed to handle this request (reference ${reference}); see its log.` } },
      500,
    );
  });

  app.notFound((c) => c.json({ error: { code: ErrorCode.NotFound, message: 'No such route is visible to you.' } }, 404));

  if (options.allowedHosts) {
    app.use(
      '*',
      hostGuard({ allowedHosts: options.allowedHosts, allowedOrigins: options.corsOrigins ?? [] }, (refusal) =>
        authDecided('anonymous', 'denied', { reason: `bad_${refusal.reason}` }),
      ),
    );
  }

  if (options.corsOrigins && options.corsOrigins.length > 0) {
    app.use(
      '*',
      cors({
        origin: options.corsOrigins,
        allowHeaders: ['authorization', 'content-type', 'last-event-id'],
        allowMethods: ['GET', 'POST'],
        maxAge: 600,
      }),
    );
  }

  // Every request: a request id (the client's X-Request-Id when it is a plain token) on the
  // response and in one log line with its outcome and, when it is part of an OpenTelemetry trace
  // (traceparent, or an active span), its trace_id and span_id; and the request counted in the metrics.
  app.use('*', async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFrom(c.req.header('x-request-id'), () => randomUUID());
    c.header('x-request-id', requestId);
    await next();
    c.header('x-request-id', requestId);
    const route = c.req.routePath || 'unmatched';
    metrics?.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    // The request's trace, else the trace a route named in traceresponse (a run started without a traceparent has its own).
    const traced = traceIdsOf(c.req.header('traceparent')) ?? traceIdsOf(c.res.headers.get('traceresponse') ?? undefined);
    log({
      event: 'http.request',
      request_id: requestId,
      ...traced,
      method: c.req.method,
      route,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      principal: c.get('principal')?.id,
    });
  });

  // Bodies past the limit are refused before they are read in full.
  app.use(
    '*',
    bodyLimit({
      maxSize: options.bodyLimitBytes ?? 1024 * 1024,
      // The rest of the body is never read, so the connection cannot be reused: say so.
      onError: (c) =>
        c.json(
          {
            error: {
              code: ErrorCode.InputInvalid,
              message: `The request body is larger than ${options.bodyLimitBytes ?? 1024 * 1024} bytes.`,
            },
          },
          413,
          { Connection: 'close' },
        ),
    }),
  );
  app.use('*', requestHygiene());
  registerProtectedResourceRoutes(app, {
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    issuer: () => authenticator.issuer,
    mcp: options.mcp !== undefined,
  });

  const authenticate = async (
    c: Context,
    presented = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1],
  ): Promise<TokenPrincipal> => {
    const now = Date.now();
    const actAs = c.req.header(actAsHeaders.principal);
    if (presented && options.localToken && sameSecret(presented, options.localToken)) {
      const roles = (c.req.header(actAsHeaders.roles) ?? '')
        .split(',')
        .map((role) => role.trim())
        .filter(Boolean);
      return actAs
        ? { tokenId: 'local', id: actAs, roles, local: true }
        : { tokenId: 'local', id: 'local-admin', roles: ['admin'], local: true };
    }
    if (actAs !== undefined) {
      // Over the network a request acts as its token's principal, never as a name it sends.
      authDecided('anonymous', 'denied', { reason: 'act_as', method: c.req.method, path: c.req.path });
      throw new HttpProblem(
        403,
        ErrorCode.Forbidden,
        `The ${actAsHeaders.principal} header is honoured only for the server's local credential; requests act as their token's principal.`,
      );
    }
    const outcome = await authenticator.authenticate(presented, clientAddress(c, options.trustProxy), now);
    if (outcome.kind === 'limited') {
      authDecided('anonymous', 'denied', { reason: 'failed_auth_limited', method: c.req.method, path: c.req.path });
      c.header('Retry-After', String(outcome.retryAfterSeconds));
      throw new HttpProblem(
        429,
        'RATE_LIMITED',
        `Too many failed authentications from this address; retry after ${outcome.retryAfterSeconds} s.`,
      );
    }
    if (outcome.kind === 'refused') {
      authDecided('anonymous', 'denied', { reason: outcome.reason, method: c.req.method, path: c.req.path });
      c.header('WWW-Authenticate', bearerChallenge(c, options.publicUrl ? { publicUrl: options.publicUrl } : {}, outcome.presented));
      throw new HttpProblem(
        401,
        'UNAUTHENTICATED',
        `A valid bearer token is required (Authorization: Bearer <token>; see \`factory tokens create\`${authenticator.issuer ? ` or an access token from ${authenticator.issuer}` : ''}).`,
      );
    }
    const { principal } = outcome;
    const rate = limiter.take(principal.tokenId, now);
    if (rate.kind === 'limited') {
      authDecided(principal.id, 'denied', { reason: 'rate_limited', token: principal.tokenId, path: c.req.path });
      c.header('Retry-After', String(rate.retryAfterSeconds));
      throw new HttpProblem(
        429,
        'RATE_LIMITED',
        `Too many requests for token ${principal.tokenId}; retry after ${rate.retryAfterSeconds} s.`,
      );
    }
    if (outcome.via === 'api_token' && (lastTouched.get(principal.tokenId) ?? 0) < now - 60_000) {
      lastTouched.set(principal.tokenId, now);
      touchApiToken(store, principal.tokenId).catch((error: Error) =>
        log({ event: 'token.touch_failed', token: principal.tokenId, error: error.message }),
      );
    }
    return principal;
  };

  // The LLM gateway (OpenAI and Anthropic wire protocols, its own auth header and error shapes).
  if (options.llmGateway) {
    registerGatewayRoutes(app, { gateway: options.llmGateway, authenticate, authDecided, log });
    documentGatewayRoutes(app);
  }

  app.use('/v1/*', async (c, next) => {
    if (c.req.path === '/v1/openapi.json') return next();
    c.set('principal', await authenticate(c));
    return next();
  });

  // The local credential is the home's owner: a local administrator, admitted everywhere.
  const hasRole = (principal: TokenPrincipal, roles: readonly string[]) =>
    principal.local === true || principal.roles.some((role) => roles.includes(role));

  /** Admits a principal with one of `roles`, else answers as if nothing were there. */
  const requireRole = (c: Context, roles: readonly ServerRole[], what = 'route'): TokenPrincipal => {
    const principal = c.get('principal') as TokenPrincipal;
    if (!hasRole(principal, roles)) {
      authDecided(principal.id, 'denied', {
        reason: 'role',
        token: principal.tokenId,
        method: c.req.method,
        path: c.req.routePath,
        needs: roles,
      });
      throw notVisible(what);
    }
    return principal;
  };

  const readBody = async <T>(c: Context, schema: z.ZodType<T>): Promise<T> => {
    const text = await c.req.text();
    let value: unknown;
    try {
      value = text.length === 0 ? undefined : JSON.parse(text);
    } catch (error) {
      throw new HttpProblem(400, ErrorCode.InputInvalid, `The request body is not valid JSON: ${(error as Error).message}.`);
    }
    if (value === undefined) throw new HttpProblem(400, ErrorCode.InputInvalid, 'The request body is empty; send a JSON object.');
    return parseWith(schema, value, 'body');
  };

  const readQuery = <T>(c: Context, schema: z.ZodType<T>): T => parseWith(schema, c.req.query(), 'query');

  /** The run row if `principal` may see it; 404 otherwise, alike for absent and hidden runs. */
  const visibleRun = async (principal: TokenPrincipal, runId: string) => {
    const row = await findRun(store, runId);
    const visible = row && (hasRole(principal, runReaders) || row.principal === principal.id);
    if (!visible) {
      authDecided(principal.id, 'denied', { reason: row ? 'not_owner' : 'absent', token: principal.tokenId, runId });
      throw notVisible(`run '${runId}'`);
    }
    return row;
  };

  /** Streams a channel from `afterId` until `until` says the stream is done, the client leaves or the server closes. */
  function streamChannel(c: Context, channel: RunChannel, afterId: number, until: (event: RunEvent) => boolean): Response {
    return streamSSE(c, async (stream) => {
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      let writing: Promise<unknown> = Promise.resolve();
      const write = (step: () => Promise<unknown>) => {
        writing = writing.then(step).catch(() => finish());
      };
      const unsubscribe = channel.subscribe(afterId, (numbered) => {
        write(() => stream.writeSSE({ id: String(numbered.id), event: numbered.event.type, data: JSON.stringify(numbered.event) }));
        if (until(numbered.event)) write(async () => finish());
      });
      const heartbeat = setInterval(() => write(() => stream.write(': keep-alive\n\n')), 15_000);
      const onClosing = () =>
        write(() =>
          stream
            .writeSSE({
              event: 'server.closing',
              data: JSON.stringify({ type: 'server.closing', runId: channel.runId, lastEventId: channel.events.length }),
            })
            .then(finish),
        );
      closing.signal.addEventListener('abort', onClosing, { once: true });
      stream.onAbort(finish);
      await finished;
      clearInterval(heartbeat);
      unsubscribe();
      closing.signal.removeEventListener('abort', onClosing);
      await writing;
    });
  }

  // Runs are driven here, or (serve --queue) by workers through the job queue.
  const runDriver: RunDriver = options.runs ?? {
    start: (request) => workspace.startRun(request),
    resume: (runId, resume) => workspace.runtime.resume(runId, resume),
  };
  const ctx: RouteContext = {
    workspace,
    runs: runDriver,
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
    streamChannel,
  };

  // ---------------------------------------------------------------- routes (one module each; mount new ones here)
  registerSystemRoutes(app, ctx, { version: '0.1.0', ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}) });
  registerAgentRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  registerPolicyRoutes(app, ctx);
  registerApprovalRoutes(app, ctx);
  registerTokenRoutes(app, ctx, (tokenId) => authenticator.forget(tokenId));
  // Token rotation and verifying every run, for the CLI through this server.
  registerOperatorRoutes(app, ctx, (tokenId) => authenticator.forget(tokenId));
  registerUsageRoutes(app, ctx);
  registerMetricsRoute(app, ctx, options.publicMetrics === true);
  registerMcpRoute(app, ctx, options.mcp);
  registerConsoleRoutes(app, ctx);
  registerFeedbackRoutes(app, ctx);
  if (options.consoleDir) {
    const oidc = options.oidc;
    const signIn = oidc?.consoleClientId
      ? { issuer: oidc.issuer, clientId: oidc.consoleClientId, scope: oidc.consoleScope ?? 'openid', resource: oidc.audience[0]! }
      : undefined;
    registerConsoleAssets(app, { dir: options.consoleDir, ...(signIn ? { signIn } : {}) }); // last: it answers every other GET
  }

  return {
    app,
    hub,
    get inFlight() {
      return inFlight.size;
    },
    beginShutdown() {
      closing.abort();
    },
    async drain(timeoutMs: number): Promise<number> {
      const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      while (inFlight.size > 0) {
        const settled = await Promise.race([Promise.allSettled([...inFlight]).then(() => 'settled' as const), deadline]);
        if (settled === 'timeout') break;
      }
      return inFlight.size;
    },
    forgetToken(tokenId: string) {
      authenticator.forget(tokenId);
    },
  };
}

/** Headers through which the local credential names the principal it acts for. */
export const actAsHeaders = { principal: 'x-aifactory-as', roles: 'x-aifactory-roles' } as const;

/** Compares two secrets in constant time (by their digests, so lengths leak nothing either). */
function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(Buffer.from(sha256Hex(presented), 'hex'), Buffer.from(sha256Hex(expected), 'hex'));
}
