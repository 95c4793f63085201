// The server's log lines pass through the workspace redactor: a key in a request path, a token
// that failed authentication, an error message echoing input — none reaches the log, while the
// ids operators need (token ids, routes) stay readable.
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { workspaceConfigAt } from '@aifactory/workspace';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';

describe('server logs', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  let token: string;
  let tokenId: string;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: (line) => logs.push(line),
    });
    const created = await createApiToken(store, { principal: 'olga@shop.example', roles: ['operator'] });
    token = created.token;
    tokenId = created.id;
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  it('masks keys and tokens that requests carry into log lines, and keeps token ids readable', async () => {
    const key = `sk-proj-${randomBytes(24).toString('hex')}`;
    const wrongToken = `aif_${randomBytes(32).toString('base64url')}`;
    await fetch(`${server.url}/v1/runs/${key}`, { headers: { authorization: `Bearer ${wrongToken}` } });
    await fetch(`${server.url}/v1/runs/${encodeURIComponent(key).replaceAll('-', '%2D')}`, {
      headers: { authorization: `Bearer ${wrongToken}` },
    });
    // An operator may not run a policy impact: the refusal is logged with the token's id.
    await fetch(`${server.url}/v1/policies/impact`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ policies: [key] }),
    });
    const text = JSON.stringify(logs);
    expect(logs.length).toBeGreaterThanOrEqual(3);
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(8));
    expect(text).not.toContain(wrongToken);
    expect(text).toMatch(/\[REDACTED:openai_key:[0-9a-f]{8}\]/);
    expect(text).toContain(tokenId);
  });

  it('redacts a key a caller sends as its X-Request-Id or in the path; only a request id the server made itself is written as it is', async () => {
    // A provider key is a plain token, so it is taken as the request's id: it still never reaches the log.
    const key = `sk-proj-${randomBytes(24).toString('hex')}`;
    const inPath = `sk-proj-${randomBytes(24).toString('hex')}`;
    const before = logs.length;
    const echoed = await fetch(`${server.url}/v1/runs/${inPath}`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': key } });
    expect(echoed.headers.get('x-request-id')).toBe(key);
    const fresh = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    const freshId = fresh.headers.get('x-request-id')!;
    expect(freshId).toMatch(/^[0-9a-f-]{36}$/);
    const lines = logs.slice(before).filter((line) => line.event === 'http.request');
    const text = JSON.stringify(lines);
    expect(text).not.toContain(key.slice(8));
    expect(text).not.toContain(inPath.slice(8));
    expect(lines).toContainEqual(
      expect.objectContaining({
        request_id: expect.stringMatching(/^\[REDACTED:openai_key:[0-9a-f]{8}\]$/),
        path: expect.stringMatching(/^\/v1\/runs\/\[REDACTED:openai_key:[0-9a-f]{8}\]$/),
        route: '/v1/runs/:id',
      }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ request_id: freshId, route: '/v1/me', status: 200 }));
  });

  it('logs a run start as one request line naming the token id and the run, never the token or the input', async () => {
    const key = `sk-proj-${randomBytes(24).toString('hex')}`;
    const before = logs.length;
    const response = await fetch(`${server.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ agent: 'order-desk', input: `Where is my order? My key is ${key}` }),
    });
    const body = await response.text();
    const runId = /"runId":"(run_[^"]+)"/.exec(body)![1];
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lines = logs.slice(before);
    const start = lines.filter((line) => line.event === 'http.request' && line.route === '/v1/runs' && line.method === 'POST');
    expect(start).toEqual([expect.objectContaining({ status: 200, principal: 'olga@shop.example', token: tokenId, run_id: runId })]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(token);
    expect(text).not.toContain(key.slice(8));
  });
});
