// Runs: start (JSON or SSE), list, read, follow live, resume, verify, explain, export, resolve
// in-doubt actions, replay.
import { randomUUID } from 'node:crypto';
import { compilePolicies, parsePolicy } from '@aifactory/control';
import { ErrorCode } from '@aifactory/core';
import { loadRecordedRun, replayRun, whatIf, type RunResult } from '@aifactory/execution';
import { runs } from '@aifactory/store';
import { explainRun, exportOtlp, listRuns, readRunEvents, renderExplanationMarkdown } from '@aifactory/verification';
import { eq } from 'drizzle-orm';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { TokenPrincipal } from '../api-tokens.ts';
import { listRunsQuery, replayRequest, resolveRequest, resumeRunRequest, startRunRequest } from '../api-schemas.ts';
import type { RunChannel } from '../run-hub.ts';
import { HttpProblem, notVisible, runReaders, type ApiApp, type RouteContext } from './context.ts';

export function registerRunRoutes(app: ApiApp, ctx: RouteContext): void {
  const { workspace, store, hub, closing, log } = ctx;

  /** Starts a run driven by this process; resolves once it has started (or failed to). */
  const startRun = async (principal: TokenPrincipal, agent: string, input: string): Promise<{ channel: RunChannel; done: Promise<RunResult> }> => {
    if (closing.aborted) throw new HttpProblem(503, 'SHUTTING_DOWN', 'The server is shutting down and takes no new runs; retry on another instance.');
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
    const principal = ctx.requireRole(c, ['operator', 'admin']);
    const request = await ctx.readBody(c, startRunRequest);
    const { channel, done } = await startRun(principal, request.agent, request.input);
    if (channel.events.length === 0) await done; // it failed before starting: the error answers the request
    ctx.authDecided(principal.id, 'allowed', { reason: 'role', token: principal.tokenId, path: '/v1/runs', runId: channel.runId });
    if (wantsEventStream(c)) return ctx.streamChannel(c, channel, 0, (event) => event.type === 'run.held' || event.type === 'run.completed' || event.type === 'run.failed');
    return c.json(resultBody(await done));
  });

  app.get('/v1/runs', async (c) => {
    const principal = ctx.requireRole(c, ['operator', ...runReaders]);
    const query = ctx.readQuery(c, listRunsQuery);
    const ownOnly = !ctx.hasRole(principal, runReaders);
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
    const principal = ctx.requireRole(c, ['operator', ...runReaders], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
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
    const principal = ctx.requireRole(c, ['operator', ...runReaders], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const channel = hub.get(row.id);
    const after = Number(c.req.header('last-event-id') ?? c.req.query('after') ?? 0);
    if (!channel) {
      // Not driven by this process (or long ended): say where it is and stop.
      return streamSSE(c, async (stream) => {
        await stream.writeSSE({ event: 'run.status', data: JSON.stringify({ type: 'run.status', runId: row.id, status: row.status }) });
      });
    }
    return ctx.streamChannel(c, channel, Number.isFinite(after) ? after : 0, (event) => event.type === 'run.completed' || event.type === 'run.failed');
  });

  app.post('/v1/runs/:id/resume', async (c) => {
    const principal = ctx.requireRole(c, ['operator', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const request = await ctx.readBody(c, resumeRunRequest);
    let approvalId = request.approvalId;
    if (!approvalId) {
      const decided = (await workspace.approvals.list({ runId: row.id })).find((approval) => approval.status !== 'pending' && approval.status !== 'consumed');
      if (!decided) throw new HttpProblem(404, ErrorCode.NotFound, `Run '${row.id}' has no decided approval waiting to be applied; list them with GET /v1/approvals?runId=${row.id}.`);
      approvalId = decided.id;
    }
    const channel = hub.open(row.id);
    const result = await ctx.track(ctx.runs.resume(row.id, { approvalId, onEvent: (event) => channel.push(event) })).finally(() => hub.settle(channel));
    return c.json(resultBody(result));
  });

  app.post('/v1/runs/:id/verify', async (c) => {
    const principal = ctx.requireRole(c, ['auditor', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const report = await workspace.verifyRun(row.id);
    return c.json({ report });
  });

  app.get('/v1/runs/:id/explain', async (c) => {
    const principal = ctx.requireRole(c, ['auditor', 'risk_officer', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const step = c.req.query('step');
    if (step !== undefined && !/^\d+$/.test(step)) throw new HttpProblem(400, ErrorCode.InputInvalid, `query.step must be a step number, not '${step}'.`, 'query.step');
    const explanation = await explainRun(store, row.id, step === undefined ? {} : { step: Number(step) });
    if (c.req.query('format') === 'markdown') return c.text(renderExplanationMarkdown(explanation), 200, { 'content-type': 'text/markdown; charset=utf-8' });
    return c.json({ explanation });
  });

  app.get('/v1/runs/:id/export', async (c) => {
    const principal = ctx.requireRole(c, ['auditor', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const lines: string[] = [];
    for await (const line of exportOtlp(store, { runIds: [row.id] })) lines.push(line);
    return c.text(`${lines.join('\n')}\n`, 200, { 'content-type': 'application/x-ndjson' });
  });

  app.post('/v1/runs/:id/resolve', async (c) => {
    const principal = ctx.requireRole(c, ['approver', 'admin'], 'run');
    // Approvers settle held runs they cannot otherwise read, like the approvals they decide.
    const [row] = await store.db.select().from(runs).where(eq(runs.id, c.req.param('id')));
    if (!row) throw notVisible(`run '${c.req.param('id')}'`);
    const request = await ctx.readBody(c, resolveRequest);
    if (closing.aborted) throw new HttpProblem(503, ErrorCode.StoreUnavailable, 'The server is shutting down; resolve the run on another server.');
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
    const done = ctx.track(started);
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
    const principal = ctx.requireRole(c, ['auditor', 'risk_officer', 'admin'], 'run');
    const row = await ctx.visibleRun(principal, c.req.param('id'));
    const request = await ctx.readBody(c, replayRequest);
    if (request.policies && request.policies.length > 0) {
      const policySet = compilePolicies(request.policies.map((source, index) => parsePolicy(source, `policies[${index}]`)));
      return c.json({ whatIf: whatIf(await loadRecordedRun(store, row.id), policySet) });
    }
    return c.json({ replay: await replayRun(store, { runId: row.id, agentsDir: workspace.config.agentsDir }) });
  });
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
