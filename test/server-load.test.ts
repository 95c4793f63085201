// Load on loopback: many concurrent streaming runs through the HTTP API finish without errors,
// each stream carries every event of its run in order, the store holds every run sealed and
// verifiable, and the server's live channels do not grow without bound. (bench/server.bench.ts
// runs 200 at once and measures latency; this keeps CI quick.)
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { parseServerSentEvents } from '@aifactory/client';
import { verifyRun } from '@aifactory/verification';
import { prepareBusinessWorkspace } from '../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

const concurrent = 50;

describe('the HTTP API under concurrent streaming runs', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir }),
      port: 0,
      log: () => undefined,
      rateLimit: { burst: 10_000, perSecond: 10_000 },
    });
    token = (await createApiToken(store, { principal: 'load@acme.example', roles: ['operator'] })).token;
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  it(`runs ${concurrent} streaming runs at once with no error and no lost event`, async () => {
    const outcomes = await Promise.all(
      Array.from({ length: concurrent }, async (_, index) => {
        const response = await fetch(`${server.url}/v1/runs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ agent: 'order-desk', input: `Customer ${index}: where is my order?` }),
        });
        expect(response.status).toBe(200);
        const events: Array<{ id: number; type: string; runId: string; answer?: string }> = [];
        for await (const message of parseServerSentEvents(response.body!))
          events.push({ id: Number(message.id), ...(JSON.parse(message.data) as { type: string; runId: string; answer?: string }) });
        return events;
      }),
    );
    const runIds = new Set<string>();
    for (const events of outcomes) {
      expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
      expect(events[0]!.type).toBe('run.started');
      expect(events.at(-1)!.type).toBe('run.completed');
      expect(events.at(-1)!.answer).toMatch(/arrives on Friday/);
      runIds.add(events[0]!.runId);
    }
    expect(runIds.size).toBe(concurrent);
    for (const runId of [...runIds].slice(0, 10)) expect((await verifyRun(store, runId)).ok).toBe(true);
    const listed = (await (
      await fetch(`${server.url}/v1/runs?status=completed&limit=1000`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { runs: Array<{ id: string }> };
    expect(listed.runs.filter((run) => runIds.has(run.id))).toHaveLength(concurrent);
    expect(server.http.inFlight).toBe(0);
  });

  it('shuts down gracefully: a run in flight finishes and is recorded, new runs are refused', async () => {
    const extra = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir }),
      port: 0,
      log: () => undefined,
    });
    const streaming = fetch(`${extra.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'order-desk', input: 'where is it?' }),
    }).then((response) => response.json() as Promise<{ runId: string; status: string }>);
    while (extra.http.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const closing = extra.close();
    const result = await streaming;
    expect(await closing).toEqual({ unfinishedRuns: 0 });
    expect(result.status).toBe('completed');
    expect((await verifyRun(store, result.runId)).ok).toBe(true);
    await expect(fetch(`${extra.url}/healthz`)).rejects.toThrow();
    const refused = await extra.http.app.request('/v1/runs', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'order-desk', input: 'late' }),
    });
    expect(refused.status).toBe(503);
  });
});
