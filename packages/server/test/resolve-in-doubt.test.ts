// POST /v1/runs/:id/resolve: a run whose owner died while a non-idempotent call was in flight is
// recovered by the server itself (held, outcome_unknown); an approver fails it over HTTP with a
// reason, and the trace records who settled it. Nothing to resolve is a 409; to an operator the route does not exist (404).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, sql, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { createRecorder, readRunEvents } from '@aifactory/verification';
import { workspaceConfigAt } from '@aifactory/workspace';

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

  it('holds a run whose owner died mid-call, and lets an approver fail it with a reason', { timeout: 120_000 }, async () => {
    // A process that died: it started the run, recorded the append's intent, and never its outcome.
    const recorder = createRecorder(store);
    await recorder.startRun(
      { id: 'run_died', agent: 'ledger-keeper', principal: 'olga@example.com', input: { text: 'keep the ledger' } },
      { lease: { owner: 'dead-process', ttlMs: 50 } },
    );
    await recorder.record(
      'run_died',
      {
        type: 'tool.called',
        actor: 'ledger-keeper',
        payload: { step: 2, call_id: 'call_1', kind: 'tool', name: 'counter.append', args: { item: 'a' } },
      },
      { fence: { epoch: 1 } },
    );
    // The server's own recovery finds it and holds it: the append may or may not have happened.
    for (let waited = 0; ; waited += 100) {
      const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = 'run_died'`);
      if (row?.status === 'held') break;
      if (waited > 60_000) throw new Error(`run_died is still ${row?.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(
      (await call('/v1/runs/run_died/resolve', tokens.olga!, { method: 'POST', body: JSON.stringify({ resolution: 'failed' }) })).status,
    ).toBe(404);
    const bad = await call('/v1/runs/run_died/resolve', tokens.bob!, { method: 'POST', body: JSON.stringify({ resolution: 'maybe' }) });
    expect(bad.status).toBe(400);
    const resolved = await call('/v1/runs/run_died/resolve', tokens.bob!, {
      method: 'POST',
      body: JSON.stringify({ resolution: 'failed', reason: 'the ledger shows no a' }),
    });
    expect(resolved.status).toBe(202);
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
});
