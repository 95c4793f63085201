// Runs: start (JSON or SSE), list, read, follow live, resume, verify, explain, export, resolve
// in-doubt actions, replay.
import { randomUUID } from 'node:crypto';
import { compilePolicies, parsePolicy } from '@aifactory/control';
import { ErrorCode } from '@aifactory/core';
import { loadRecordedRun, replayRun, whatIf, type CallerTrace, type RunEvent, type RunResult } from '@aifactory/execution';
import {
  decodeRunCursor,
  explainRun,
  exportJsonl,
  exportOtlp,
  listRuns,
  listRunsPage,
  readRunEvents,
  renderExplanationMarkdown,
  runTrace,
} from '@aifactory/verification';
import { findRun } from '@aifactory/verification/internal';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ServerRole, TokenPrincipal } from '../api-tokens.ts';
import {
  authenticatedResponses,
  bearer,
  bodyResponses,
  closingResponse,
  conflictResponse,
  eventStream,
  explainResponse,
  idParam,
  json,
  listRunsQuery,
  queryResponses,
  replayRequest,
  replayResponse,
  resolveRequest,
  resolveResponse,
  resolveTimeBound,
  resumeRunRequest,
  runDetailResponse,
  runListResponse,
  runEvent,
  runResult,
  startRunRequest,
  streamNotice,
  verifyResponse,
} from '../api-schemas.ts';
import { RunChannel } from '../run-hub.ts';
import { traceIdsOf } from '../server-log.ts';
import { HttpProblem, notVisible, runReaders, type ApiApp, type RouteContext, type RunRow } from './context.ts';

const tags = ['runs'];
const body = <T extends z.ZodType>(schema: T, required = true) => ({ required, content: { 'application/json': { schema } } });
const roles = (...names: string[]) => ({ 'x-roles': names });

/** The routes of this module, as the OpenAPI document describes them. */
export const runRoutes = {
  start: createRoute({
    method: 'post',
    path: '/v1/runs',
    operationId: 'startRun',
    tags,
    security: bearer,
    ...roles('operator', 'admin'),
    summary: 'Start a run',
    description:
      'Starts a run of an agent. With Accept: text/event-stream (or ?stream=true) its events stream until it completes, fails or is held; otherwise the answer is the run\u2019s result.',
    request: {
      body: body(startRunRequest),
      query: z.object({
        stream: z.enum(['true', 'false']).optional().openapi({ description: 'Stream events (as Accept: text/event-stream does).' }),
      }),
    },
    responses: {
      200: {
        description: 'The run\u2019s events (SSE), or its result (JSON).',
        content: {
          ...eventStream('The run\u2019s events until it completes, fails or is held.'),
          'application/json': { schema: runResult },
        },
      },
      ...authenticatedResponses,
      ...bodyResponses,
      ...closingResponse,
    },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/runs',
    operationId: 'listRuns',
    tags,
    security: bearer,
    ...roles('operator', ...runReaders),
    summary: 'List runs, newest first',
    description:
      'A page of runs, newest first (operators see their own). Walk the pages with the opaque nextCursor: runs started meanwhile never shift them, so each run is seen once.',
    request: { query: listRunsQuery },
    responses: { 200: json(runListResponse, 'A page of runs and the cursor of the next.'), ...authenticatedResponses, ...queryResponses },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/runs/{id}',
    operationId: 'getRun',
    tags,
    security: bearer,
    ...roles('operator', ...runReaders),
    summary: 'A run and its recorded events',
    request: { params: idParam },
    responses: { 200: json(runDetailResponse, 'The run, its summary and its first 5,000 events.'), ...authenticatedResponses },
  }),
  events: createRoute({
    method: 'get',
    path: '/v1/runs/{id}/events',
    operationId: 'streamRunEvents',
    tags,
    security: bearer,
    ...roles('operator', ...runReaders),
    summary: 'Follow a live run (SSE)',
    description:
      'Streams a run, across holds, until it completes or fails: one this server drives live, one a worker or another server drives as its trace is recorded (model tokens are streamed only by the server that drives the run). Resumable: send Last-Event-ID (or ?after=N) to continue after event N. A run that has ended, and that this server did not drive lately, gets one run.status event.',
    request: {
      params: idParam,
      query: z.object({
        after: z.string().regex(/^\d+$/).optional().openapi({ description: 'Continue after this event number (as Last-Event-ID).' }),
      }),
      headers: z.object({
        'last-event-id': z
          .string()
          .optional()
          .openapi({ description: 'The id of the last event received; the stream continues after it.' }),
      }),
    },
    responses: {
      200: {
        description: 'The run\u2019s events.',
        content: eventStream('The run\u2019s events from the given one until it completes or fails.'),
      },
      ...authenticatedResponses,
    },
  }),
  resume: createRoute({
    method: 'post',
    path: '/v1/runs/{id}/resume',
    operationId: 'resumeRun',
    tags,
    security: bearer,
    ...roles('operator', 'admin'),
    summary: 'Resume a held run whose approval was decided',
    description:
      'For a run whose approval was decided while no server drove it (e.g. the deciding process stopped); answers with the result.',
    request: { params: idParam, body: body(resumeRunRequest, false) },
    responses: { 200: json(runResult, 'How the run ended (for now).'), ...authenticatedResponses, ...bodyResponses, ...conflictResponse },
  }),
  verify: createRoute({
    method: 'post',
    path: '/v1/runs/{id}/verify',
    operationId: 'verifyRun',
    tags,
    security: bearer,
    ...roles('auditor', 'admin'),
    summary: 'Verify a run\u2019s hash chain and seal',
    request: { params: idParam },
    responses: { 200: json(verifyResponse, 'The verification report.'), ...authenticatedResponses },
  }),
  explain: createRoute({
    method: 'get',
    path: '/v1/runs/{id}/explain',
    operationId: 'explainRun',
    tags,
    security: bearer,
    ...roles('auditor', 'risk_officer', 'admin'),
    summary: 'The proof of every action',
    description: 'What, why (policy, rule, values), which data, and the outcome of each action; ?format=markdown for reports.',
    request: {
      params: idParam,
      query: z.object({
        step: z.string().optional().openapi({ description: 'Only this step.' }),
        format: z.enum(['json', 'markdown']).optional(),
      }),
    },
    responses: {
      200: {
        description: 'The explanation.',
        content: { 'application/json': { schema: explainResponse }, 'text/markdown': { schema: z.string() } },
      },
      ...authenticatedResponses,
      ...queryResponses,
    },
  }),
  export: createRoute({
    method: 'get',
    path: '/v1/runs/{id}/export',
    operationId: 'exportRun',
    tags,
    security: bearer,
    ...roles('auditor', 'admin'),
    summary: 'Export the run: OpenTelemetry GenAI spans, or its signed JSONL trace',
    description:
      'format=otlp (default): OTLP JSON export requests, one per line, for observability tools. format=jsonl: the run\u2019s events and seals as `factory runs export` writes them, ending in a trailer signed with the server\u2019s seal key, verifiable offline with `factory runs verify --file`.',
    request: {
      params: idParam,
      query: z.object({ format: z.enum(['otlp', 'jsonl']).optional().openapi({ description: 'otlp (default) or jsonl.' }) }),
    },
    responses: {
      200: {
        description: 'JSON lines: OTLP export requests, or the trace export.',
        content: { 'application/x-ndjson': { schema: z.string() } },
      },
      ...authenticatedResponses,
      ...queryResponses,
    },
  }),
  resolve: createRoute({
    method: 'post',
    path: '/v1/runs/{id}/resolve',
    operationId: 'resolveRun',
    tags,
    security: bearer,
    ...roles('approver', 'admin'),
    summary: 'Settle a run held with reason outcome_unknown',
    description:
      'The in-doubt call happened, run it again, or fail the run. Answered once the decision is recorded in the trace (no process need hand the run over for that); the run goes on in the background as soon as a process takes it. 409 when nothing is in doubt, or a decision is recorded already.',
    request: { params: idParam, body: body(resolveRequest) },
    responses: {
      202: json(resolveResponse, 'Recorded; the run goes on.'),
      ...authenticatedResponses,
      ...bodyResponses,
      ...conflictResponse,
      ...closingResponse,
    },
  }),
  replay: createRoute({
    method: 'post',
    path: '/v1/runs/{id}/replay',
    operationId: 'replayRun',
    tags,
    security: bearer,
    ...roles('auditor', 'risk_officer', 'admin'),
    summary: 'Replay a run, or re-decide it under other policies',
    request: { params: idParam, body: body(replayRequest, false) },
    responses: {
      200: json(replayResponse, 'The replay (identical or the first divergence), or the what-if.'),
      ...authenticatedResponses,
      ...bodyResponses,
    },
  }),
};

export function registerRunRoutes(app: ApiApp, ctx: RouteContext): void {
  const { workspace, store, hub, closing, log, follower: storeFollower } = ctx;

  /**
   * A channel of a run another process drives (a worker behind serve --queue, another server that
   * holds its lease), fed from its trace in the store until it completes or fails, across holds.
   * Its events are the ones a stream from the accepting server carries, numbered alike (model
   * tokens aside: only the driving process sees them). The follow stops when the run ends, the
   * server closes, or no stream has read the channel for a while (the client left).
   */
  const followedChannel = (row: RunRow): RunChannel => {
    const channel = new RunChannel(row.id);
    channel.push({ type: 'run.started', runId: row.id, agent: row.agent, principal: row.principal });
    const stop = new AbortController();
    const onClosing = () => stop.abort(new Error('The server is closing.'));
    closing.addEventListener('abort', onClosing, { once: true });
    const unread = setInterval(() => {
      if (channel.subscribers === 0) stop.abort(new Error('No stream reads the run any more.'));
    }, 5_000);
    unread.unref();
    void storeFollower
      .follow(row.id, 0, (event) => channel.push(event), { acrossHolds: true, signal: stop.signal })
      .catch(() => undefined)
      .finally(() => {
        clearInterval(unread);
        closing.removeEventListener('abort', onClosing);
      });
    return channel;
  };
  // What the event streams carry, as components apps can generate types from.
  app.openAPIRegistry.register('RunEvent', runEvent);
  app.openAPIRegistry.register('StreamNotice', streamNotice);

  app.openapi(runRoutes.start, async (c) => {
    const principal = ctx.requireRole(c, startRoles);
    const { channel, done } = await startRequestedRun(ctx, principal, c.req.valid('json'), c.req.header('traceparent'), (name, value) =>
      c.header(name, value),
    );
    c.set('runId', channel.runId);
    if (wantsEventStream(c)) return ctx.streamChannel(c, channel, 0, startStreamEnds);
    return c.json(resultBody(await done), 200);
  });

  app.openapi(runRoutes.list, async (c) => {
    const principal = ctx.requireRole(c, ['operator', ...runReaders]);
    const query = c.req.valid('query');
    const ownOnly = !ctx.hasRole(principal, runReaders);
    const now = new Date();
    const page = await listRunsPage(store, {
      ...(query.agent ? { agent: query.agent } : {}),
      ...(query.status ? { status: query.status } : {}),
      ...(query.team ? { team: query.team } : {}),
      ...(query.authority ? { authority: query.authority } : {}),
      // Operators list their own runs only, whatever principal they ask for.
      ...(ownOnly ? { principal: principal.id } : query.principal ? { principal: query.principal } : {}),
      ...(query.since ? { since: resolveTimeBound(query.since, now) } : {}),
      ...(query.until ? { until: resolveTimeBound(query.until, now) } : {}),
      ...(query.cursor ? { after: decodeRunCursor(query.cursor) } : {}),
      limit: query.limit ?? 100,
    });
    return c.json(page, 200);
  });

  app.openapi(runRoutes.get, async (c) => {
    const principal = ctx.requireRole(c, ['operator', ...runReaders], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const events = [];
    for await (const event of readRunEvents(store, row.id)) {
      events.push({
        seq: event.seq,
        ts: event.ts,
        type: event.type,
        actor: event.actor,
        payload: event.payloadText === null ? null : JSON.parse(event.payloadText),
        erased: event.erasedAt !== null,
        hash: event.hash,
      });
      if (events.length >= 5000) break;
    }
    const summary = (await listRuns(store, { runIds: [row.id] }).next()).value;
    return c.json(
      {
        run: {
          id: row.id,
          agent: row.agent,
          team: row.team,
          principal: row.principal,
          status: row.status,
          startedAt: row.startedAt,
          endedAt: row.endedAt,
          metadata: row.metadata,
        },
        ...(summary ? { summary } : {}),
        events,
      },
      200,
    );
  });

  app.openapi(runRoutes.events, async (c) => {
    const principal = ctx.requireRole(c, ['operator', ...runReaders], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const after = Number(c.req.header('last-event-id') ?? c.req.query('after') ?? 0);
    const ended = row.status === 'completed' || row.status === 'failed';
    // Driven here: its live channel. Driven elsewhere and going on: followed from the store.
    const channel = hub.get(row.id) ?? (ended ? undefined : followedChannel(row));
    if (!channel) {
      // Ended, and not driven here lately: say how it ended and stop.
      return streamSSE(c, async (stream) => {
        await stream.writeSSE({ event: 'run.status', data: JSON.stringify({ type: 'run.status', runId: row.id, status: row.status }) });
      });
    }
    return ctx.streamChannel(
      c,
      channel,
      Number.isFinite(after) ? after : 0,
      (event) => event.type === 'run.completed' || event.type === 'run.failed',
    );
  });

  app.openapi(runRoutes.resume, async (c) => {
    const principal = ctx.requireRole(c, ['operator', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const request = c.req.valid('json');
    let approvalId = request.approvalId;
    if (!approvalId) {
      const decided = (await workspace.approvals.list({ runId: row.id })).find(
        (approval) => approval.status !== 'pending' && approval.status !== 'consumed',
      );
      if (!decided)
        throw new HttpProblem(
          404,
          ErrorCode.NotFound,
          `Run '${row.id}' has no decided approval waiting to be applied; list them with GET /v1/approvals?runId=${row.id}.`,
        );
      approvalId = decided.id;
    }
    const channel = hub.open(row.id);
    const result = await ctx
      .track(ctx.runs.resume(row.id, { approvalId, onEvent: (event) => channel.push(event) }))
      .finally(() => hub.settle(channel));
    return c.json(resultBody(result), 200);
  });

  app.openapi(runRoutes.verify, async (c) => {
    const principal = ctx.requireRole(c, ['auditor', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const report = await workspace.verifyRun(row.id);
    return c.json({ report }, 200);
  });

  app.openapi(runRoutes.explain, async (c) => {
    const principal = ctx.requireRole(c, ['auditor', 'risk_officer', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const step = c.req.query('step');
    if (step !== undefined && !/^\d+$/.test(step))
      throw new HttpProblem(400, ErrorCode.InputInvalid, `query.step must be a step number, not '${step}'.`, 'query.step');
    const explanation = await explainRun(store, row.id, step === undefined ? {} : { step: Number(step) });
    if (c.req.query('format') === 'markdown')
      return c.text(renderExplanationMarkdown(explanation), 200, { 'content-type': 'text/markdown; charset=utf-8' });
    return c.json({ explanation }, 200);
  });

  app.openapi(runRoutes.export, async (c) => {
    const principal = ctx.requireRole(c, ['auditor', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const format = c.req.valid('query').format ?? 'otlp';
    let text = '';
    if (format === 'jsonl') for await (const line of exportJsonl(store, { runIds: [row.id] }, { signer: workspace.signer })) text += line;
    else for await (const line of exportOtlp(store, { runIds: [row.id] })) text += `${line}\n`;
    // NDJSON is not a media type the typed answers know: a plain Response.
    return new Response(text, {
      status: 200,
      headers: {
        'content-type': 'application/x-ndjson',
        'content-disposition': `attachment; filename="${row.id}${format === 'otlp' ? '.otlp' : ''}.jsonl"`,
      },
    }) as never;
  });

  app.openapi(runRoutes.resolve, async (c) => {
    const principal = ctx.requireRole(c, ['approver', 'admin'], 'run');
    // Approvers settle held runs they cannot otherwise read, like the approvals they decide.
    const row = await findRun(store, c.req.param('id'));
    if (!row) throw notVisible(`run '${c.req.param('id')}'`);
    const request = c.req.valid('json');
    if (closing.aborted)
      throw new HttpProblem(503, ErrorCode.StoreUnavailable, 'The server is shutting down; resolve the run on another server.');
    const channel = hub.open(row.id);
    const decision = {
      resolution: request.resolution,
      by: principal.id,
      ...(request.result !== undefined ? { result: request.result } : {}),
      ...(request.reason ? { reason: request.reason } : {}),
    };
    // With workers (serve --queue) the decision is recorded here and the run goes on in a worker, like any resume.
    const onEvent = (event: RunEvent) => hub.open(event.runId).push(event);
    let onRecorded!: () => void;
    const recorded = new Promise<undefined>((resolve) => (onRecorded = () => resolve(undefined)));
    const started = ctx.runs.resolve
      ? ctx.runs.resolve(row.id, { ...decision, onEvent, onRecorded })
      : workspace.runtime.resolveInDoubt(row.id, { ...decision, onEvent, onRecorded });
    const settled = started.then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    // The answer waits until the decision is in the trace (recorded without the run's lease, so a
    // process holding it, or one that died holding it, cannot stop it): a refusal (nothing in doubt,
    // resolved already) is the answer, never a 202 whose decision is then dropped. Once recorded, a
    // run that ends within 200 ms has its result in the answer; a longer one goes on in the background.
    let first = await Promise.race([settled, recorded]);
    if (!first) first = await Promise.race([settled, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200))]);
    if (first && 'error' in first) {
      hub.settle(channel);
      throw first.error;
    }
    const done = ctx.track(started);
    done.then(
      () => hub.settle(channel),
      (error: Error) => {
        log({ event: 'run.resolve_failed', runId: row.id, error: error.message });
        hub.settle(channel);
      },
    );
    return c.json(
      {
        runId: row.id,
        resolution: request.resolution,
        by: principal.id,
        ...(first && first.result.status !== 'running' ? { result: resultBody(first.result) } : { status: 'running' as const }),
      },
      202,
    );
  });

  app.openapi(runRoutes.replay, async (c) => {
    const principal = ctx.requireRole(c, ['auditor', 'risk_officer', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const request = c.req.valid('json');
    if (request.policies && request.policies.length > 0) {
      const policySet = compilePolicies(request.policies.map((source, index) => parsePolicy(source, `policies[${index}]`)));
      return c.json({ whatIf: whatIf(await loadRecordedRun(store, row.id), policySet) }, 200);
    }
    return c.json({ replay: await replayRun(store, { runId: row.id, agentsDir: workspace.config.agentsDir }) }, 200);
  });
}

/** Roles that start runs. */
export const startRoles: readonly ServerRole[] = ['operator', 'admin'];

/** Where a start's event stream ends: the run completed, failed or is held. */
export const startStreamEnds = (event: RunEvent): boolean =>
  event.type === 'run.held' || event.type === 'run.completed' || event.type === 'run.failed';

/**
 * A start as POST /v1/runs makes it, for a principal already admitted and a body already validated:
 * the route below and the route in front of Hono (start-fast-route.ts) both run it. Resolves once
 * the run's first event is there (its channel, and its end); throws as the route answers (503 while
 * the server closes, the start's own failure). `header` sets an answer header (traceresponse), kept
 * on an error's answer too.
 */
export async function startRequestedRun(
  ctx: RouteContext,
  principal: TokenPrincipal,
  request: z.infer<typeof startRunRequest>,
  traceparent: string | undefined,
  header: (name: string, value: string) => void,
): Promise<{ channel: RunChannel; done: Promise<RunResult> }> {
  // A request that is part of a trace (traceparent) starts a run in that trace; otherwise the run
  // has its own. Either way traceresponse names it, and the request's log line carries its ids.
  const caller = traceIdsOf(traceparent);
  const { channel, done } = await startRun(
    ctx,
    principal,
    request.agent,
    request.input,
    caller ? { traceId: caller.trace_id, spanId: caller.span_id } : undefined,
  );
  const where = runTrace(channel.runId, caller ? { trace_id: caller.trace_id, parent_span_id: caller.span_id } : undefined);
  header('traceresponse', `00-${where.traceId}-${where.rootSpanId}-01`);
  if (channel.events.length === 0) await done; // it failed before starting: the error answers the request
  // Allowed, and counted as such; the request's http.request line names the token and the run
  // (a second line per start, redacted and written on the path to the first event, said nothing more).
  ctx.metrics?.authDecisions.inc({ outcome: 'allowed', reason: 'role' });
  return { channel, done };
}

/** Starts a run driven by this process; resolves once it has started (or failed to). */
async function startRun(
  ctx: RouteContext,
  principal: TokenPrincipal,
  agent: string,
  input: string,
  trace?: CallerTrace,
): Promise<{ channel: RunChannel; done: Promise<RunResult> }> {
  const { hub } = ctx;
  if (ctx.closing.aborted)
    throw new HttpProblem(503, 'SHUTTING_DOWN', 'The server is shutting down and takes no new runs; retry on another instance.');
  const runId = `run_${randomUUID()}`;
  const channel = hub.open(runId);
  let started!: () => void;
  const firstEvent = new Promise<void>((resolve) => (started = resolve));
  const done = ctx.track(
    ctx.runs.start({
      agent,
      input,
      principal: { id: principal.id, roles: principal.roles },
      runId,
      ...(trace ? { trace } : {}),
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
}

/** Whether the client asked for server-sent events. */
function wantsEventStream(c: Context): boolean {
  return (c.req.header('accept') ?? '').includes('text/event-stream') || c.req.query('stream') === 'true';
}

/** A run result as the API returns it. */
function resultBody(result: RunResult): z.infer<typeof runResult> {
  if (result.status === 'held') {
    const { held } = result;
    return {
      runId: result.runId,
      status: 'held',
      held: { approvalId: held.approvalId, step: held.step, kind: held.kind, name: held.name, args: held.args },
    };
  }
  return { ...result };
}
