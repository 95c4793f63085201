// The HTTP API: start runs and stream them (server-sent events), approvals, runs, verification
// and policies, behind bearer tokens with roles. Hono routes over web-standard Request/Response,
// so the same app serves Node (http-server.ts) and in-process tests (app.request).
//
// Access: no or a bad token gets 401 on every /v1 route before routing, so unauthenticated
// callers learn nothing. An authenticated caller whose roles do not reach a route or resource
// gets the same 404 an absent resource gets ("not visible to you"), so nobody learns whether a
// run or approval exists without the right to see it. Every decision is counted and logged;
// decisions about a held run are also recorded in its trace (auth.decided).
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { compilePolicies, readPolicyFiles, parsePolicy } from '@aifactory/control';
import { AiFactoryError, ErrorCode, UserError, sha256Hex } from '@aifactory/core';
import { loadAgents, loadRecordedRun, policyImpact, replayRun, whatIf, type Approval, type RunEvent, type RunResult } from '@aifactory/execution';
import { runs, type Store } from '@aifactory/store';
import { explainRun, exportOtlp, listRuns, readRunEvents, renderExplanationMarkdown } from '@aifactory/verification';
import type { Workspace } from '@aifactory/workspace';
import { eq } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { streamSSE } from 'hono/streaming';
import type { z } from 'zod';
import { createApiToken, listApiTokens, revokeApiToken, touchApiToken, type ServerRole, type TokenPrincipal } from './api-tokens.ts';
import { createTokenRequest, impactRequest, resumeRunRequest, listApprovalsQuery, listRunsQuery, openApiDocument, replayRequest, resolveRequest, startRunRequest, validatePolicyRequest, voteRequest, type RouteDoc } from './api-schemas.ts';
import type { FailedAuthLimitOptions } from './failed-auth-limit.ts';
import { hostGuard } from './host-guard.ts';
import type { ServerMetrics } from './metrics.ts';
import type { OidcOptions } from './oidc-auth.ts';
import { bearerChallenge, registerProtectedResourceRoutes } from './protected-resource.ts';
import { clientAddress, RequestAuthenticator } from './request-auth.ts';
import { requestHygiene } from './request-hygiene.ts';
import { RateLimiter, type RateLimitOptions } from './rate-limit.ts';
import { RunHub, type RunChannel } from './run-hub.ts';
import { createServerLog, requestIdFrom, type ServerLog } from './server-log.ts';

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
}

/** The app plus the handles a server needs to shut it down gracefully. */
export interface HttpApp {
  app: Hono<{ Variables: { principal: TokenPrincipal } }>;
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

const everyRole: readonly ServerRole[] = ['operator', 'approver', 'auditor', 'risk_officer', 'admin'];
const runReaders: readonly ServerRole[] = ['auditor', 'risk_officer', 'admin'];
const approvalReaders: readonly ServerRole[] = ['approver', 'auditor', 'admin'];

/** Every route with the roles it admits; also the source of the OpenAPI document. */
export const apiRoutes: readonly RouteDoc[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness.', roles: [] },
  { method: 'get', path: '/v1/openapi.json', summary: 'This document.', roles: [] },
  { method: 'get', path: '/v1/me', summary: 'The principal and roles of the presented token.', roles: everyRole },
  { method: 'get', path: '/v1/agents', summary: 'Agents this server can run.', roles: ['operator', 'auditor', 'risk_officer', 'admin'] },
  { method: 'post', path: '/v1/runs', summary: 'Start a run; with Accept: text/event-stream its events stream until it completes, fails or is held.', roles: ['operator', 'admin'], body: startRunRequest, stream: true },
  { method: 'get', path: '/v1/runs', summary: 'List runs (operators see their own).', roles: ['operator', ...runReaders], query: listRunsQuery },
  { method: 'get', path: '/v1/runs/:id', summary: 'A run and its recorded events.', roles: ['operator', ...runReaders] },
  { method: 'get', path: '/v1/runs/:id/events', summary: 'Stream a live run (SSE, resumable with Last-Event-ID) across holds until it ends.', roles: ['operator', ...runReaders], stream: true },
  { method: 'post', path: '/v1/runs/:id/verify', summary: 'Verify a run\u2019s hash chain and seal.', roles: ['auditor', 'admin'] },
  { method: 'get', path: '/v1/runs/:id/explain', summary: 'The proof of every action: what, why (policy, rule, values), which data, outcome (?format=markdown for reports).', roles: ['auditor', 'risk_officer', 'admin'] },
  { method: 'get', path: '/v1/runs/:id/export', summary: 'OpenTelemetry GenAI spans of the run (OTLP JSON, one request per line).', roles: ['auditor', 'admin'] },
  { method: 'post', path: '/v1/runs/:id/resolve', summary: 'Settle a run held with reason outcome_unknown: the in-doubt call happened, run it again, or fail the run; the run goes on in the background.', roles: ['approver', 'admin'], body: resolveRequest },
  { method: 'post', path: '/v1/runs/:id/replay', summary: 'Replay the run from its recordings (identical or the first divergence), or re-decide it under other policies.', roles: ['auditor', 'risk_officer', 'admin'], body: replayRequest },
  { method: 'post', path: '/v1/policies/impact', summary: 'Authority transitions per rule if recorded runs were decided under these policies.', roles: ['risk_officer', 'admin'], body: impactRequest },
  { method: 'get', path: '/v1/approvals', summary: 'List approvals (operators see those of their own runs).', roles: ['operator', ...approvalReaders], query: listApprovalsQuery },
  { method: 'get', path: '/v1/approvals/:id', summary: 'One approval with its votes.', roles: ['operator', ...approvalReaders] },
  { method: 'post', path: '/v1/approvals/:id/approve', summary: 'Vote yes; when enough votes are in, the run resumes.', roles: ['approver', 'admin'], body: voteRequest },
  { method: 'post', path: '/v1/approvals/:id/reject', summary: 'Vote no; the run resumes without the held action.', roles: ['approver', 'admin'], body: voteRequest },
  { method: 'post', path: '/v1/runs/:id/resume', summary: 'Resume a held run whose approval was decided (e.g. after the process that decided it stopped); answers with the result.', roles: ['operator', 'admin'], body: resumeRunRequest },
  { method: 'get', path: '/v1/tokens', summary: 'List API tokens (never their secrets).', roles: ['admin'] },
  { method: 'post', path: '/v1/tokens', summary: 'Create an API token; its secret is shown once.', roles: ['admin'], body: createTokenRequest },
  { method: 'post', path: '/v1/tokens/:id/revoke', summary: 'Revoke a token; it is refused at once.', roles: ['admin'] },
  { method: 'get', path: '/v1/policies', summary: 'Policies in the server\u2019s policy folder.', roles: ['risk_officer', 'auditor', 'admin'] },
  { method: 'post', path: '/v1/policies/validate', summary: 'Validate a policy document; problems name line and column.', roles: ['risk_officer', 'admin'], body: validatePolicyRequest },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics.', roles: ['auditor', 'admin'] },
  { method: 'post', path: '/mcp', summary: 'MCP Streamable HTTP: each served agent is a tool.', roles: ['operator', 'admin'] },
];

/** An error answered with a status and a JSON body. */
class HttpProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly path: string | undefined;
  constructor(status: number, code: string, message: string, path?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

const notVisible = (what: string) => new HttpProblem(404, ErrorCode.NotFound, `No ${what} is visible to you.`);

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
  const app = new Hono<{ Variables: { principal: TokenPrincipal } }>();

  const authDecided = (principal: string, outcome: 'allowed' | 'denied', details: Record<string, unknown>) => {
    metrics?.authDecisions.inc({ outcome, reason: String(details.reason ?? 'role') });
    log({ event: 'auth.decided', principal, outcome, ...details });
  };

  /** Records an auth decision in a held run's trace (nothing else writes to it while it waits). */
  const recordAgainstHeldRun = async (runId: string, payload: Record<string, unknown>) => {
    try {
      const [row] = await store.db.select({ status: runs.status }).from(runs).where(eq(runs.id, runId));
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
    if (error instanceof HttpProblem) return c.json({ error: { code: error.code, message: error.message, ...(error.path ? { path: error.path } : {}) } }, error.status as 400);
    if (error instanceof AiFactoryError && error instanceof UserError) {
      const status = statusByCode[error.code] ?? 400;
      const path = error.location?.path;
      return c.json({ error: { code: error.code, message: error.message, ...(path ? { path: String(path) } : {}) } }, status as 400);
    }
    const reference = randomUUID().slice(0, 8);
    log({ event: 'request.failed', reference, method: c.req.method, path: c.req.path, error: error instanceof Error ? error.message : String(error) });
    return c.json({ error: { code: ErrorCode.Internal, message: `The server failed to handle this request (reference ${reference}); see its log.` } }, 500);
  });

  app.notFound((c) => c.json({ error: { code: ErrorCode.NotFound, message: 'No such route is visible to you.' } }, 404));

  if (options.allowedHosts) {
    app.use('*', hostGuard({ allowedHosts: options.allowedHosts, allowedOrigins: options.corsOrigins ?? [] }, (refusal) => authDecided('anonymous', 'denied', { reason: `bad_${refusal.reason}` })));
  }

  if (options.corsOrigins && options.corsOrigins.length > 0) {
    app.use('*', cors({ origin: options.corsOrigins, allowHeaders: ['authorization', 'content-type', 'last-event-id'], allowMethods: ['GET', 'POST'], maxAge: 600 }));
  }

  // Every request: a request id (the client's X-Request-Id when it is a plain token) on the
  // response and in one log line with its outcome, and the request counted in the metrics.
  app.use('*', async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFrom(c.req.header('x-request-id'), () => randomUUID());
    c.header('x-request-id', requestId);
    await next();
    c.header('x-request-id', requestId);
    const route = c.req.routePath || 'unmatched';
    metrics?.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    log({ event: 'http.request', request_id: requestId, method: c.req.method, route, path: c.req.path, status: c.res.status, duration_ms: Math.round((performance.now() - started) * 10) / 10, principal: c.get('principal')?.id });
  });

  // Bodies past the limit are refused before they are read in full.
  app.use(
    '*',
    bodyLimit({
      maxSize: options.bodyLimitBytes ?? 1024 * 1024,
      // The rest of the body is never read, so the connection cannot be reused: say so.
      onError: (c) => c.json({ error: { code: ErrorCode.InputInvalid, message: `The request body is larger than ${options.bodyLimitBytes ?? 1024 * 1024} bytes.` } }, 413, { Connection: 'close' }),
    }),
  );
  app.use('*', requestHygiene());
  registerProtectedResourceRoutes(app, { ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}), issuer: () => authenticator.issuer, mcp: options.mcp !== undefined });

  const authenticate = async (c: Context): Promise<TokenPrincipal> => {
    const header = c.req.header('authorization') ?? '';
    const presented = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const now = Date.now();
    const actAs = c.req.header(actAsHeaders.principal);
    if (presented && options.localToken && sameSecret(presented, options.localToken)) {
      const roles = (c.req.header(actAsHeaders.roles) ?? '').split(',').map((role) => role.trim()).filter(Boolean);
      return actAs ? { tokenId: 'local', id: actAs, roles, local: true } : { tokenId: 'local', id: 'local-admin', roles: ['admin'], local: true };
    }
    if (actAs !== undefined) {
      // Over the network a request acts as its token's principal, never as a name it sends.
      authDecided('anonymous', 'denied', { reason: 'act_as', method: c.req.method, path: c.req.path });
      throw new HttpProblem(403, ErrorCode.Forbidden, `The ${actAsHeaders.principal} header is honoured only for the server's local credential; requests act as their token's principal.`);
    }
    const outcome = await authenticator.authenticate(presented, clientAddress(c, options.trustProxy), now);
    if (outcome.kind === 'limited') {
      authDecided('anonymous', 'denied', { reason: 'failed_auth_limited', method: c.req.method, path: c.req.path });
      c.header('Retry-After', String(outcome.retryAfterSeconds));
      throw new HttpProblem(429, 'RATE_LIMITED', `Too many failed authentications from this address; retry after ${outcome.retryAfterSeconds} s.`);
    }
    if (outcome.kind === 'refused') {
      authDecided('anonymous', 'denied', { reason: outcome.reason, method: c.req.method, path: c.req.path });
      c.header('WWW-Authenticate', bearerChallenge(c, options.publicUrl ? { publicUrl: options.publicUrl } : {}, outcome.presented));
      throw new HttpProblem(401, 'UNAUTHENTICATED', `A valid bearer token is required (Authorization: Bearer <token>; see \`factory tokens create\`${authenticator.issuer ? ` or an access token from ${authenticator.issuer}` : ''}).`);
    }
    const { principal } = outcome;
    const rate = limiter.take(principal.tokenId, now);
    if (rate.kind === 'limited') {
      authDecided(principal.id, 'denied', { reason: 'rate_limited', token: principal.tokenId, path: c.req.path });
      c.header('Retry-After', String(rate.retryAfterSeconds));
      throw new HttpProblem(429, 'RATE_LIMITED', `Too many requests for token ${principal.tokenId}; retry after ${rate.retryAfterSeconds} s.`);
    }
    if (outcome.via === 'api_token' && (lastTouched.get(principal.tokenId) ?? 0) < now - 60_000) {
      lastTouched.set(principal.tokenId, now);
      touchApiToken(store, principal.tokenId).catch((error: Error) => log({ event: 'token.touch_failed', token: principal.tokenId, error: error.message }));
    }
    return principal;
  };

  app.use('/v1/*', async (c, next) => {
    if (c.req.path === '/v1/openapi.json') return next();
    c.set('principal', await authenticate(c));
    return next();
  });

  // The local credential is the home's owner: a local administrator, admitted everywhere.
  const hasRole = (principal: TokenPrincipal, roles: readonly string[]) => principal.local === true || principal.roles.some((role) => roles.includes(role));

  /** Admits a principal with one of `roles`, else answers as if nothing were there. */
  const requireRole = (c: Context, roles: readonly ServerRole[], what = 'route'): TokenPrincipal => {
    const principal = c.get('principal') as TokenPrincipal;
    if (!hasRole(principal, roles)) {
      authDecided(principal.id, 'denied', { reason: 'role', token: principal.tokenId, method: c.req.method, path: c.req.routePath, needs: roles });
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

  // ---------------------------------------------------------------- public
  app.get('/healthz', (c) => c.json({ ok: true, closing: closing.signal.aborted }, closing.signal.aborted ? 503 : 200));
  app.get('/v1/openapi.json', (c) => c.json(openApiDocument(apiRoutes, { version: '0.1.0' })));

  app.get('/v1/me', (c) => {
    const principal = c.get('principal');
    return c.json({ principal: principal.id, roles: principal.roles, token: principal.tokenId });
  });

  app.get('/v1/agents', async (c) => {
    requireRole(c, ['operator', 'auditor', 'risk_officer', 'admin']);
    const agents = await loadAgents(workspace.config.agentsDir);
    return c.json({
      agents: agents.map((agent) => ({ name: agent.name, description: agent.description ?? null, team: agent.team ?? null, model: agent.model.id, tools: agent.tools.map((tool) => tool.name) })),
    });
  });

  // ---------------------------------------------------------------- runs
  /** Starts a run driven by this process; resolves once it has started (or failed to). */
  const startRun = async (principal: TokenPrincipal, agent: string, input: string): Promise<{ channel: RunChannel; done: Promise<RunResult> }> => {
    if (closing.signal.aborted) throw new HttpProblem(503, 'SHUTTING_DOWN', 'The server is shutting down and takes no new runs; retry on another instance.');
    const runId = `run_${randomUUID()}`;
    const channel = hub.open(runId);
    let started!: () => void;
    const firstEvent = new Promise<void>((resolve) => (started = resolve));
    const done = track(
      workspace.startRun({
        agent,
        input,
        principal: { id: principal.id, roles: principal.roles },
        runId,
        onEvent: (event) => {
          channel.push(event);
          started();
        },
      }),
    );
    done.then(
      () => hub.settle(channel),
      () => {
        // A run that never started leaves nothing to follow.
        if (channel.events.length === 0) hub.remove(channel.runId);
        else hub.settle(channel);
      },
    );
    await Promise.race([firstEvent, done]);
    return { channel, done };
  };

  app.post('/v1/runs', async (c) => {
    const principal = requireRole(c, ['operator', 'admin']);
    const request = await readBody(c, startRunRequest);
    const { channel, done } = await startRun(principal, request.agent, request.input);
    if (channel.events.length === 0) await done; // it failed before starting: the error answers the request
    authDecided(principal.id, 'allowed', { reason: 'role', token: principal.tokenId, path: '/v1/runs', runId: channel.runId });
    if (wantsEventStream(c)) return streamChannel(c, channel, 0, (event) => event.type === 'run.held' || event.type === 'run.completed' || event.type === 'run.failed');
    return c.json(resultBody(await done));
  });

  /** The run row if `principal` may see it; 404 otherwise, alike for absent and hidden runs. */
  const visibleRun = async (principal: TokenPrincipal, runId: string) => {
    const [row] = await store.db.select().from(runs).where(eq(runs.id, runId));
    const visible = row && (hasRole(principal, runReaders) || row.principal === principal.id);
    if (!visible) {
      authDecided(principal.id, 'denied', { reason: row ? 'not_owner' : 'absent', token: principal.tokenId, runId });
      throw notVisible(`run '${runId}'`);
    }
    return row;
  };

  app.get('/v1/runs', async (c) => {
    const principal = requireRole(c, ['operator', ...runReaders]);
    const query = readQuery(c, listRunsQuery);
    const ownOnly = !hasRole(principal, runReaders);
    const list = [];
    for await (const run of listRuns(store, {
      ...(query.agent ? { agent: query.agent } : {}),
      ...(query.status ? { status: query.status } : {}),
      ...(ownOnly ? { principal: principal.id } : {}),
      limit: query.limit ?? 100,
    })) {
      list.push(run);
    }
    return c.json({ runs: list });
  });

  app.get('/v1/runs/:id', async (c) => {
    const principal = requireRole(c, ['operator', ...runReaders], 'run');
    const row = await visibleRun(principal, c.req.param('id'));
    const events = [];
    for await (const event of readRunEvents(store, row.id)) {
      events.push({ seq: event.seq, ts: event.ts, type: event.type, actor: event.actor, payload: event.payloadText === null ? null : JSON.parse(event.payloadText), erased: event.erasedAt !== null, hash: event.hash });
      if (events.length >= 5000) break;
    }
    const summary = (await listRuns(store, { runIds: [row.id] }).next()).value;
    return c.json({
      run: { id: row.id, agent: row.agent, team: row.team, principal: row.principal, status: row.status, startedAt: row.startedAt, endedAt: row.endedAt, metadata: row.metadata },
      ...(summary ? { summary } : {}),
      events,
    });
  });

  app.get('/v1/runs/:id/events', async (c) => {
    const principal = requireRole(c, ['operator', ...runReaders], 'run');
    const row = await visibleRun(principal, c.req.param('id'));
    const channel = hub.get(row.id);
    const after = Number(c.req.header('last-event-id') ?? c.req.query('after') ?? 0);
    if (!channel) {
      // Not driven by this process (or long ended): say where it is and stop.
      return streamSSE(c, async (stream) => {
        await stream.writeSSE({ event: 'run.status', data: JSON.stringify({ type: 'run.status', runId: row.id, status: row.status }) });
      });
    }
    return streamChannel(c, channel, Number.isFinite(after) ? after : 0, (event) => event.type === 'run.completed' || event.type === 'run.failed');
  });

  app.post('/v1/runs/:id/resume', async (c) => {
    const principal = requireRole(c, ['operator', 'admin'], 'run');
    const row = await visibleRun(principal, c.req.param('id'));
    const request = await readBody(c, resumeRunRequest);
    let approvalId = request.approvalId;
    if (!approvalId) {
      const decided = (await workspace.approvals.list({ runId: row.id })).find((approval) => approval.status !== 'pending' && approval.status !== 'consumed');
      if (!decided) throw new HttpProblem(404, ErrorCode.NotFound, `Run '${row.id}' has no decided approval waiting to be applied; list them with GET /v1/approvals?runId=${row.id}.`);
      approvalId = decided.id;
    }
    const channel = hub.open(row.id);
    const result = await track(workspace.runtime.resume(row.id, { approvalId, onEvent: (event) => channel.push(event) })).finally(() => hub.settle(channel));
    return c.json(resultBody(result));
  });

  app.post('/v1/runs/:id/verify', async (c) => {
    const principal = requireRole(c, ['auditor', 'admin'], 'run');
    const row = await visibleRun(principal, c.req.param('id'));
    const report = await workspace.verifyRun(row.id);
    return c.json({ report });
  });

  app.get('/v1/runs/:id/explain', async (c) => {
    const principal = requireRole(c, ['auditor', 'risk_officer', 'admin'], 'run');
    const row = await visibleRun(principal, c.req.param('id'));
    const step = c.req.query('step');
    if (step !== undefined && !/^\d+$/.test(step)) throw new HttpProblem(400, ErrorCode.InputInvalid, `query.step must be a step number, not '${step}'.`, 'query.step');
    const explanation = await explainRun(store, row.id, step === undefined ? {} : { step: Number(step) });
    if (c.req.query('format') === 'markdown') return c.text(renderExplanationMarkdown(explanation), 200, { 'content-type': 'text/markdown; charset=utf-8' });
    return c.json({ explanation });
  });

  app.get('/v1/runs/:id/export', async (c) => {
    const principal = requireRole(c, ['auditor', 'admin'], 'run');
    const row = await visibleRun(principal, c.req.param('id'));
    const lines: string[] = [];
    for await (const line of exportOtlp(store, { runIds: [row.id] })) lines.push(line);
    return c.text(`${lines.join('\n')}\n`, 200, { 'content-type': 'application/x-ndjson' });
  });

  app.post('/v1/runs/:id/resolve', async (c) => {
    const principal = requireRole(c, ['approver', 'admin'], 'run');
    // Approvers settle held runs they cannot otherwise read, like the approvals they decide.
    const [row] = await store.db.select().from(runs).where(eq(runs.id, c.req.param('id')));
    if (!row) throw notVisible(`run '${c.req.param('id')}'`);
    const request = await readBody(c, resolveRequest);
    if (closing.signal.aborted) throw new HttpProblem(503, ErrorCode.StoreUnavailable, 'The server is shutting down; resolve the run on another server.');
    const channel = hub.open(row.id);
    const started = workspace.runtime.resolveInDoubt(row.id, {
      resolution: request.resolution,
      by: principal.id,
      ...(request.result !== undefined ? { result: request.result } : {}),
      ...(request.reason ? { reason: request.reason } : {}),
      onEvent: (event) => hub.open(event.runId).push(event),
    });
    // Refusals (nothing in doubt, another owner) come back at once; the run itself goes on in the background.
    const first = await Promise.race([started.then((result) => ({ result }), (error: unknown) => ({ error })), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200))]);
    if (first && 'error' in first) {
      hub.settle(channel);
      throw first.error;
    }
    const done = track(started);
    done.then(
      () => hub.settle(channel),
      (error: Error) => {
        log({ event: 'run.resolve_failed', runId: row.id, error: error.message });
        hub.settle(channel);
      },
    );
    return c.json({ runId: row.id, resolution: request.resolution, by: principal.id, ...(first ? { result: first.result } : { status: 'running' }) }, 202);
  });

  app.post('/v1/runs/:id/replay', async (c) => {
    const principal = requireRole(c, ['auditor', 'risk_officer', 'admin'], 'run');
    const row = await visibleRun(principal, c.req.param('id'));
    const request = await readBody(c, replayRequest);
    if (request.policies && request.policies.length > 0) {
      const policySet = compilePolicies(request.policies.map((source, index) => parsePolicy(source, `policies[${index}]`)));
      return c.json({ whatIf: whatIf(await loadRecordedRun(store, row.id), policySet) });
    }
    return c.json({ replay: await replayRun(store, { runId: row.id, agentsDir: workspace.config.agentsDir }) });
  });

  app.post('/v1/policies/impact', async (c) => {
    requireRole(c, ['risk_officer', 'admin']);
    const request = await readBody(c, impactRequest);
    const policySet = compilePolicies(request.policies.map((source, index) => parsePolicy(source, `policies[${index}]`)));
    const report = await policyImpact(store, policySet, { ...(request.agent ? { agent: request.agent } : {}), ...(request.since ? { since: new Date(request.since) } : {}) });
    return c.json({ impact: report });
  });

  // ---------------------------------------------------------------- approvals
  const visibleApproval = async (principal: TokenPrincipal, approvalId: string): Promise<Approval> => {
    let approval: Approval | undefined;
    try {
      approval = await workspace.approvals.get(approvalId);
    } catch (error) {
      if (!(error instanceof UserError && error.code === ErrorCode.NotFound)) throw error;
    }
    const visible = approval && (hasRole(principal, approvalReaders) || approval.requestedBy === principal.id);
    if (!approval || !visible) {
      authDecided(principal.id, 'denied', { reason: approval ? 'not_owner' : 'absent', token: principal.tokenId, approvalId });
      throw notVisible(`approval '${approvalId}'`);
    }
    return approval;
  };

  app.get('/v1/approvals', async (c) => {
    const principal = requireRole(c, ['operator', ...approvalReaders]);
    const query = readQuery(c, listApprovalsQuery);
    const list = await workspace.approvals.list({ ...(query.status ? { status: query.status } : {}), ...(query.runId ? { runId: query.runId } : {}) });
    const visible = hasRole(principal, approvalReaders) ? list : list.filter((approval) => approval.requestedBy === principal.id);
    return c.json({ approvals: visible });
  });

  app.get('/v1/approvals/:id', async (c) => {
    const principal = requireRole(c, ['operator', ...approvalReaders], 'approval');
    return c.json({ approval: await visibleApproval(principal, c.req.param('id')) });
  });

  const vote = (kind: 'approve' | 'reject') => async (c: Context) => {
    const principal = requireRole(c, ['approver', 'admin'], 'approval');
    const approval = await visibleApproval(principal, c.req.param('id') ?? '');
    const request = await readBody(c, voteRequest);
    const decision = { principal: principal.id, token: principal.tokenId, route: `/v1/approvals/:id/${kind}`, approval_id: approval.id };
    // Separation of duties, enforced here too so the refusal is recorded: the run's own
    // principal never decides its held action, whatever roles the token carries.
    if (approval.requestedBy === principal.id) {
      authDecided(principal.id, 'denied', { reason: 'separation_of_duties', ...decision });
      await recordAgainstHeldRun(approval.runId, { ...decision, outcome: 'denied', reason: 'separation_of_duties' });
      throw new HttpProblem(403, ErrorCode.Forbidden, `Separation of duties: ${principal.id} started run ${approval.runId} and cannot decide its held action.`);
    }
    // A decided run resumes in the background; its events go to the run's channel, and so do the
    // events of a run that waited on it through a hand-off and goes on once it ends. While the
    // server shuts down the approval stays decided: `factory runs resume` or a restart applies it.
    const channels = new Set<RunChannel>();
    let outcome;
    try {
      outcome = await workspace.voteAndResume({
        approvalId: approval.id,
        ballot: { approver: { id: principal.id, roles: principal.roles }, vote: kind, ...(request.comment ? { comment: request.comment } : {}) },
        resume: !closing.signal.aborted,
        onVoted: (result) => {
          authDecided(principal.id, 'allowed', { reason: 'approver', ...decision });
          if (result.kind === 'counted') return;
          metrics?.timeToApprove.observe({ outcome: result.kind }, Math.max(0, (Date.now() - result.approval.requestedAt.getTime()) / 1000));
          if (!closing.signal.aborted) channels.add(hub.open(approval.runId));
        },
        onEvent: (event) => {
          const channel = hub.open(event.runId);
          channels.add(channel);
          channel.push(event);
        },
      });
    } catch (error) {
      if (error instanceof UserError && error.code === ErrorCode.Forbidden) {
        authDecided(principal.id, 'denied', { reason: 'approver_rules', ...decision });
        await recordAgainstHeldRun(approval.runId, { ...decision, outcome: 'denied', reason: 'approver_rules', message: error.message });
      }
      throw error;
    }
    const result = outcome.vote;
    if (outcome.kind === 'decided' && outcome.resumed) {
      const settle = () => {
        for (const channel of channels) hub.settle(channel);
      };
      track(outcome.resumed).then(settle, (error: Error) => {
        log({ event: 'run.resume_failed', runId: approval.runId, approvalId: approval.id, error: error.message });
        settle();
      });
    }
    return c.json({ result: result.kind, ...(result.kind === 'counted' ? { remaining: result.remaining } : {}), approval: result.approval, resumed: outcome.kind === 'decided' && outcome.resumed !== undefined });
  };
  app.post('/v1/approvals/:id/approve', vote('approve'));
  app.post('/v1/approvals/:id/reject', vote('reject'));

  // ---------------------------------------------------------------- tokens
  app.get('/v1/tokens', async (c) => {
    requireRole(c, ['admin']);
    return c.json({ tokens: await listApiTokens(store) });
  });

  app.post('/v1/tokens', async (c) => {
    const principal = requireRole(c, ['admin']);
    const request = await readBody(c, createTokenRequest);
    const created = await createApiToken(store, {
      principal: request.principal,
      roles: request.roles,
      ...(request.description ? { description: request.description } : {}),
      ...(request.expiresInMs ? { expiresInMs: request.expiresInMs } : {}),
    });
    log({ event: 'token.created', by: principal.id, token: created.id, principal: created.principal, roles: created.roles });
    return c.json(created, 201);
  });

  app.post('/v1/tokens/:id/revoke', async (c) => {
    const principal = requireRole(c, ['admin']);
    const revoked = await revokeApiToken(store, c.req.param('id'));
    authenticator.forget(revoked.id);
    log({ event: 'token.revoked', by: principal.id, token: revoked.id });
    return c.json(revoked);
  });

  // ---------------------------------------------------------------- policies
  app.get('/v1/policies', async (c) => {
    requireRole(c, ['risk_officer', 'auditor', 'admin']);
    const { policies, problems } = await readPolicyFiles([workspace.config.policiesDir]);
    return c.json({
      policies: policies.map((policy) => ({ name: policy.name, version: policy.version, owner: policy.owner ?? null, file: policy.file, hash: policy.hash, rules: policy.rules.length })),
      problems,
    });
  });

  app.post('/v1/policies/validate', async (c) => {
    requireRole(c, ['risk_officer', 'admin']);
    const request = await readBody(c, validatePolicyRequest);
    try {
      const policy = parsePolicy(request.source, request.file ?? 'policy.yaml');
      return c.json({ ok: true, policy: { name: policy.name, version: policy.version, hash: policy.hash, rules: policy.rules.length }, problems: [] });
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      const details = error.details as { problems?: unknown[] } | undefined;
      return c.json({ ok: false, problems: details?.problems ?? [{ message: error.message, location: error.location ?? {} }] });
    }
  });

  // ---------------------------------------------------------------- metrics, MCP
  if (metrics) {
    app.get('/metrics', async (c) => {
      if (!options.publicMetrics) {
        const principal = await authenticate(c);
        if (!hasRole(principal, ['auditor', 'admin'])) {
          authDecided(principal.id, 'denied', { reason: 'role', token: principal.tokenId, path: '/metrics' });
          throw notVisible('route');
        }
      }
      return c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType });
    });
  }

  if (options.mcp) {
    const mcp = options.mcp;
    app.all('/mcp', async (c) => {
      const principal = await authenticate(c);
      if (!hasRole(principal, ['operator', 'admin'])) {
        authDecided(principal.id, 'denied', { reason: 'role', token: principal.tokenId, path: '/mcp' });
        throw notVisible('route');
      }
      return mcp(c.req.raw, principal);
    });
  }

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
      const onClosing = () => write(() => stream.writeSSE({ event: 'server.closing', data: JSON.stringify({ type: 'server.closing', runId: channel.runId, lastEventId: channel.events.length }) }).then(finish));
      closing.signal.addEventListener('abort', onClosing, { once: true });
      stream.onAbort(finish);
      await finished;
      clearInterval(heartbeat);
      unsubscribe();
      closing.signal.removeEventListener('abort', onClosing);
      await writing;
    });
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

/** Whether the client asked for server-sent events. */
function wantsEventStream(c: Context): boolean {
  return (c.req.header('accept') ?? '').includes('text/event-stream') || c.req.query('stream') === 'true';
}

/** A run result as the API returns it. */
function resultBody(result: RunResult): Record<string, unknown> {
  if (result.status === 'held') {
    const { held } = result;
    return { runId: result.runId, status: 'held', held: { approvalId: held.approvalId, step: held.step, kind: held.kind, name: held.name, args: held.args } };
  }
  return { ...result };
}

/** Validates `value`; a failure is a 400 naming every offending field. */
function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : where;
    const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    return { field, message: `${field}: ${issue.message}${keys}` };
  });
  throw new HttpProblem(400, ErrorCode.InputInvalid, `Invalid request ${where}: ${issues.map((issue) => issue.message).join('; ')}.`, issues[0]?.field);
}
