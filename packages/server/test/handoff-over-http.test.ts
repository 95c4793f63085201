// A supervisor over HTTP: the front desk hands an invoice to the file clerk, whose report waits for
// an ops lead. The client streaming the front desk's run sees it held on the clerk's approval, and
// once an approver grants it the same stream follows the front desk to its answer.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { prepareDemoWorkspace } from '../../../examples/demo/demo-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Reads a whole SSE response into events (the stream ends when the server ends it). */
async function readSse(response: Response): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for (const block of (await response.text()).split('\n\n')) {
    const event = /^event: ?(.*)$/m.exec(block)?.[1];
    const data = /^data: ?(.*)$/m.exec(block)?.[1];
    if (data) events.push({ event: event ?? 'message', data: JSON.parse(data) as Record<string, unknown> });
  }
  return events;
}

describe('a hand-off held for approval, over HTTP', () => {
  const demo = prepareDemoWorkspace();
  let store: Store;
  let server: RunningServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(demo.dataDir, { agentsDir: demo.agentsDir, policiesDir: path.join(demo.root, 'policies') }),
      port: 0,
      log: () => {},
    });
    tokens.dana = (await createApiToken(store, { principal: 'dana@acme.example', roles: ['operator'] })).token;
    tokens.bob = (await createApiToken(store, { principal: 'bob@acme.example', roles: ['approver', 'ops-lead'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(demo.root, { recursive: true, force: true });
  });

  const call = (route: string, token: string, init: RequestInit = {}) =>
    fetch(`${server.url}${route}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
    });

  it('holds the front desk on the clerk’s approval and streams it to its answer once granted', async () => {
    const started = await readSse(
      await call('/v1/runs', tokens.dana!, {
        method: 'POST',
        headers: { accept: 'text/event-stream' },
        body: JSON.stringify({ agent: 'front-desk', input: 'Summarise invoice 1042 for finance.' }),
      }),
    );
    const held = started.at(-1)!;
    expect(held.event).toBe('run.held');
    expect([held.data.kind, held.data.name]).toEqual(['handoff', 'file-clerk']);
    const deskRun = String(held.data.runId);
    const approvalId = String(held.data.approvalId);
    expect(held.data.childRunId).toEqual(expect.stringMatching(/^run_/));

    const watching = call(`/v1/runs/${deskRun}/events`, tokens.dana!, { headers: { accept: 'text/event-stream' } }).then(readSse);
    const approved = await call(`/v1/approvals/${approvalId}/approve`, tokens.bob!, {
      method: 'POST',
      body: JSON.stringify({ comment: 'report is fine' }),
    });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ result: 'approved', resumed: true });

    const followed = await watching;
    expect(followed.every((event) => event.data.runId === deskRun)).toBe(true);
    expect(followed.at(-1)!.event).toBe('run.completed');
    expect(String(followed.at(-1)!.data.answer)).toMatch(/The file clerk reports:[\s\S]*1006\.74 EUR/);
    const shown = (await (await call(`/v1/runs/${deskRun}`, tokens.dana!)).json()) as { run: { status: string } };
    expect(shown.run.status).toBe('completed');
  });
});
