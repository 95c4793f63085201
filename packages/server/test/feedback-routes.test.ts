// Feedback over HTTP, through the typed client as a business app gives it: recorded for whoever
// may read the run (an operator on their own runs only), searchable by readers, validated before
// anything is written, and counted in /metrics.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiFactoryClient, ApiError } from '@aifactory/client';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { workspaceConfigAt } from '@aifactory/workspace';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';

describe('feedback routes', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  const clients: Record<string, AiFactoryClient> = {};
  const tokens: Record<string, string> = {};
  let runId = '';

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: () => {},
    });
    for (const [name, principal, roles] of [
      ['operator', 'ops@shop.example', ['operator']],
      ['other', 'other@shop.example', ['operator']],
      ['auditor', 'audrey@shop.example', ['auditor']],
    ] as const) {
      tokens[name] = (await createApiToken(store, { principal, roles: [...roles] })).token;
      clients[name] = new AiFactoryClient({ baseUrl: server.url, token: tokens[name]! });
    }
    const reply = await clients.operator!.ask('order-desk', 'Where is my order?');
    expect(reply.status).toBe('completed');
    runId = reply.runId;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  it("records an operator's feedback on their own run as a sealed record bound to the run's head", async () => {
    const feedback = await clients.operator!.feedback(runId, {
      score: -1,
      comment: 'Which Friday?',
      correction: 'Order 1042 arrives on Friday 12 June.',
    });
    expect(feedback).toMatchObject({
      runId,
      agent: 'order-desk',
      by: 'ops@shop.example',
      score: -1,
      sentiment: 'negative',
      correction: 'Order 1042 arrives on Friday 12 June.',
    });
    expect(feedback.runHead.hash).toMatch(/^[0-9a-f]{64}$/);
    const response = await fetch(`${server.url}/v1/runs/${feedback.id}/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.auditor}` },
    });
    expect(((await response.json()) as { report: { ok: boolean } }).report.ok).toBe(true);
  });

  it('refuses a score out of range or an unknown field before writing, and hides runs of others', async () => {
    await expect(clients.operator!.feedback(runId, { score: 5 })).rejects.toMatchObject({ status: 400, code: 'INPUT_INVALID' });
    await expect(clients.operator!.feedback(runId, { score: 1, mood: 'happy' } as never)).rejects.toBeInstanceOf(ApiError);
    await expect(clients.other!.feedback(runId, { score: 1 })).rejects.toMatchObject({ status: 404 });
    await expect(clients.operator!.feedback('run_missing', { score: 1 })).rejects.toMatchObject({ status: 404 });
  });

  it('lets readers search feedback by sentiment and counts it in /metrics', async () => {
    await clients.operator!.feedback(runId, { score: 1 });
    const search = async (query: string, token = tokens.auditor!) =>
      fetch(`${server.url}/v1/feedback?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const negative = (await (await search('sentiment=negative')).json()) as { feedback: Array<{ comment?: string; runId: string }> };
    expect(negative.feedback).toEqual([expect.objectContaining({ runId, comment: 'Which Friday?' })]);
    const all = (await (await search(`runId=${runId}`)).json()) as { feedback: unknown[] };
    expect(all.feedback).toHaveLength(2);
    expect((await search('sentiment=angry')).status).toBe(400);
    expect((await search('', tokens.operator!)).status).toBe(404);
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${tokens.auditor}` } })).text();
    expect(metrics).toContain('aifactory_feedback{agent="order-desk",sentiment="negative"} 1');
    expect(metrics).toContain('aifactory_feedback{agent="order-desk",sentiment="positive"} 1');
  });
});
