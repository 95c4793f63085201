// POST /v1/runs/:id/resolve: a run whose owner died while a non-idempotent call was in flight is
// recovered by the server itself (held, outcome_unknown); an approver fails it over HTTP with a
// reason, and the trace records who settled it. Nothing to resolve is a 409; to an operator the route does not exist (404).
// A process that died holding the run's lease does not stop a decision: it is recorded at once and
// applied once that lease lapses.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStore, sql, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { createRecorder, readRunEvents } from '@aifactory/verification';
import { acquireRunLease } from '@aifactory/verification/internal';
import { openWorkspace, RunQueue, workspaceConfigAt, type QueueWorker, type Workspace } from '@aifactory/workspace';

const agentsDir = path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'recovery', 'agents');

describe('settling an in-doubt action over HTTP', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'aifactory-resolve-'));
  let store: Store;
  let server: RunningServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    process.env.NODE_BINARY = process.execPath;
    process.env.CALLS_FILE = path.join(scratch, 'calls.jsonl');
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(scratch, { agentsDir }),
      port: 0,
      log: () => {},
      recovery: { intervalMs: 100 },
    });
    tokens.olga = (await createApiToken(store, { principal: 'olga@example.com', roles: ['operator'] })).token;
    tokens.bob = (await createApiToken(store, { principal: 'bob@example.com', roles: ['approver'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const call = (route: string, token: string, init: RequestInit = {}) =>
    fetch(`${server.url}${route}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
    });

  /**
   * A process that died: it started the run, recorded an append's intent, and never its outcome.
   * The server's own recovery finds it and holds it: the append may or may not have happened.
   */
  async function heldInDoubt(runId: string, item: string): Promise<void> {
    const recorder = createRecorder(store);
    await recorder.startRun(
      { id: runId, agent: 'ledger-keeper', principal: 'olga@example.com', input: { text: 'keep the ledger' } },
      { lease: { owner: 'dead-process', ttlMs: 50 } },
    );
    await recorder.record(
      runId,
      {
        type: 'tool.called',
        actor: 'ledger-keeper',
        payload: { step: 2, call_id: 'call_1', kind: 'tool', name: 'counter.append', args: { item } },
      },
      { fence: { epoch: 1 } },
    );
    for (let waited = 0; ; waited += 100) {
      const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`);
      if (row?.status === 'held') return;
      if (waited > 60_000) throw new Error(`${runId} is still ${row?.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('holds a run whose owner died mid-call, and lets an approver fail it with a reason', { timeout: 120_000 }, async () => {
    await heldInDoubt('run_died', 'a');
    expect(
      (await call('/v1/runs/run_died/resolve', tokens.olga!, { method: 'POST', body: JSON.stringify({ resolution: 'failed' }) })).status,
    ).toBe(404);
    const bad = await call('/v1/runs/run_died/resolve', tokens.bob!, { method: 'POST', body: JSON.stringify({ resolution: 'maybe' }) });
    expect(bad.status).toBe(400);
    const resolved = await call('/v1/runs/run_died/resolve', tokens.bob!, {
      method: 'POST',
      body: JSON.stringify({ resolution: 'failed', reason: 'the ledger shows no a' }),
    });
    expect(resolved.status, await resolved.clone().text()).toBe(202);
    expect(await resolved.json()).toMatchObject({
      runId: 'run_died',
      resolution: 'failed',
      by: 'bob@example.com',
      result: { status: 'failed' },
    });
    const types: string[] = [];
    for await (const event of readRunEvents(store, 'run_died')) types.push(event.type);
    expect(types).toEqual(['run.started', 'tool.called', 'run.held', 'action.resolved', 'run.failed']);
    // Nothing is left in doubt: a second resolution is refused.
    const again = await call('/v1/runs/run_died/resolve', tokens.bob!, { method: 'POST', body: JSON.stringify({ resolution: 'retried' }) });
    expect(again.status).toBe(409);
  });

  it(
    "records a resolution while a process that died holds the run's lease (recovering), and applies it once that lease lapses",
    { timeout: 120_000 },
    async () => {
      await heldInDoubt('run_busy', 'b');
      // A recoverer took the run's lease and died holding it: nothing hands it back, it only lapses.
      let held: Awaited<ReturnType<typeof acquireRunLease>>;
      for (
        let waited = 0;
        !(held = await acquireRunLease(store, 'run_busy', 'host:999999:dead', { ttlMs: 4_000, state: 'recovering' }));
        waited += 50
      ) {
        if (waited > 10_000) throw new Error('the server never handed the lease of run_busy back');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const resolved = await call('/v1/runs/run_busy/resolve', tokens.bob!, {
        method: 'POST',
        body: JSON.stringify({ resolution: 'failed', reason: 'the ledger shows no b' }),
      });
      expect(resolved.status, await resolved.clone().text()).toBe(202);
      expect(await resolved.json()).toMatchObject({ runId: 'run_busy', resolution: 'failed', by: 'bob@example.com', status: 'running' });
      const types = async () => {
        const found: string[] = [];
        for await (const event of readRunEvents(store, 'run_busy')) found.push(event.type);
        return found;
      };
      // Recorded at once, though the dead process's lease still holds the run.
      expect(await types()).toEqual(['run.started', 'tool.called', 'run.held', 'action.resolved']);
      expect(new Date(held!.expiresAt).getTime()).toBeGreaterThan(Date.now());
      // A second human is told it is resolved already.
      const again = await call('/v1/runs/run_busy/resolve', tokens.bob!, {
        method: 'POST',
        body: JSON.stringify({ resolution: 'retried' }),
      });
      expect(again.status).toBe(409);
      expect(await again.text()).toContain('resolved already (failed by bob@example.com)');
      // Applied once the lease lapsed: the run ends as the human decided.
      await vi.waitFor(async () => expect((await types()).at(-1)).toBe('run.failed'), { timeout: 60_000, interval: 100 });
      expect(await types()).toEqual(['run.started', 'tool.called', 'run.held', 'action.resolved', 'run.failed']);
      const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = 'run_busy'`);
      expect(row?.status).toBe('failed');
    },
  );
});

// With workers (`factory serve --queue`, Postgres): the server records the approver's decision and
// hands the run to the job queue, like a resume after an approval; a worker (here a queue worker in
// this process, with its own workspace) recovers it and goes on. The server never drives it.
const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
describe.skipIf(!databaseUrl)('settling an in-doubt action with workers (serve --queue, Postgres)', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'aifactory-resolve-queue-'));
  const schema = `t_resolveq_${Math.random().toString(16).slice(2, 10)}`;
  let store: Store;
  let queue: RunQueue;
  let server: RunningServer;
  let worker: Workspace;
  let taking: QueueWorker;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    process.env.NODE_BINARY = process.execPath;
    process.env.CALLS_FILE = path.join(scratch, 'calls.jsonl');
    store = await openStore({ databaseUrl: databaseUrl!, schema });
    queue = await RunQueue.open({ databaseUrl: databaseUrl!, storeSchema: schema });
    const config = workspaceConfigAt(scratch, { agentsDir });
    server = await startServer({ store, config, port: 0, log: () => {}, recovery: { intervalMs: 100 }, queue });
    worker = await openWorkspace(config, { store, queue });
    taking = await queue.work({
      concurrency: 2,
      drive: (job) => worker.runtime.drive(job.runId, job.approvalId ? { approvalId: job.approvalId } : {}),
    });
    tokens.bob = (await createApiToken(store, { principal: 'bob@example.com', roles: ['approver'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await taking?.stop();
    await worker?.close();
    await queue?.close();
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`)).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
    await store?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('records the decision in the server and lets a worker go on with the run through the queue', { timeout: 180_000 }, async () => {
    // The dead process sealed with the deployment's key (a held run resumes only from a history it signed).
    const recorder = createRecorder(store, { signer: worker.signer });
    await recorder.startRun(
      { id: 'run_died_q', agent: 'ledger-keeper', principal: 'olga@example.com', input: { text: 'keep the ledger' } },
      { lease: { owner: 'dead-process', ttlMs: 50 } },
    );
    await recorder.record(
      'run_died_q',
      {
        type: 'tool.called',
        actor: 'ledger-keeper',
        payload: { step: 2, call_id: 'call_1', kind: 'tool', name: 'counter.append', args: { item: 'a' } },
      },
      { fence: { epoch: 1 } },
    );
    const statusOf = async () => (await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = 'run_died_q'`))[0]?.status;
    await vi.waitFor(async () => expect(await statusOf()).toBe('held'), { timeout: 120_000, interval: 100 });
    const resolved = await fetch(`${server.url}/v1/runs/run_died_q/resolve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.bob}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resolution: 'retried' }),
    });
    expect(resolved.status, await resolved.clone().text()).toBe(202);
    await vi.waitFor(async () => expect(await statusOf()).toBe('completed'), { timeout: 120_000, interval: 100 });
    const events: Array<{ type: string; payload: unknown }> = [];
    for await (const event of readRunEvents(store, 'run_died_q'))
      events.push({ type: event.type, payload: event.payloadText === null ? null : JSON.parse(event.payloadText) });
    const resolvedAt = events.findIndex((event) => event.type === 'action.resolved');
    expect(resolvedAt).toBeGreaterThan(0);
    // After the decision, the run was taken over by the worker's runtime, not driven by the server.
    const takenOver = events.slice(resolvedAt).find((event) => event.type === 'run.recovered');
    expect((takenOver?.payload as { owner?: string } | undefined)?.owner).toBe(worker.runtime.ownership.owner);
    expect(events.filter((event) => event.type === 'run.completed')).toHaveLength(1);
  });
});
