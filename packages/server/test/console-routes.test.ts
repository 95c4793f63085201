// The console's side of the server: its files at / (hashed assets cached for a year, index.html
// revalidated, any app path answered with index.html, API paths never), a Content-Security-Policy
// on every answer, and the API routes it needs — the live approvals stream (a held run appears,
// with the rule that held it and whether the reader may vote), notifications, a policy's
// source by name, and the charts' figures (boundary violations among them) — each behind the API's roles.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { consoleContentSecurityPolicy, createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

describe('the console at / and its API routes', () => {
  const workspace = prepareBusinessWorkspace();
  const assets = mkdtempSync(path.join(tmpdir(), 'aifactory-console-assets-'));
  let store: Store;
  let server: RunningServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    mkdirSync(path.join(assets, 'assets'));
    writeFileSync(
      path.join(assets, 'index.html'),
      '<!doctype html><html><head><title>console</title><script type="module" src="/assets/index-abc123.js"></script></head><body></body></html>',
    );
    writeFileSync(path.join(assets, 'assets', 'index-abc123.js'), 'console.log("hi");');
    writeFileSync(path.join(assets, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: () => {},
      consoleDir: assets,
    });
    tokens.operator = (await createApiToken(store, { principal: 'customer@shop.example', roles: ['operator'] })).token;
    tokens.lead = (await createApiToken(store, { principal: 'lena@shop.example', roles: ['approver', 'support-lead'] })).token;
    tokens.clerk = (await createApiToken(store, { principal: 'carl@shop.example', roles: ['approver'] })).token;
    tokens.auditor = (await createApiToken(store, { principal: 'audrey@shop.example', roles: ['auditor'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
    rmSync(assets, { recursive: true, force: true });
  });

  const call = (route: string, token?: string, init: RequestInit = {}) =>
    fetch(`${server.url}${route}`, {
      ...init,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    });

  it('serves the built files with the right caching and a strict CSP, index.html for app paths, and never shadows the API', async () => {
    const index = await call('/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    // index.html admits one <style> element per load, by a fresh nonce it also names in a meta tag.
    const policy = index.headers.get('content-security-policy') ?? '';
    const nonce = /style-src 'self' 'nonce-([A-Za-z0-9+/=]+)'/.exec(policy)?.[1];
    expect(nonce).toBeDefined();
    expect(await index.text()).toContain(`<meta name="csp-nonce" content="${nonce}" />`);
    expect(policy.replace(` 'nonce-${nonce}'`, '')).toBe(consoleContentSecurityPolicy);
    expect((await call('/')).headers.get('content-security-policy')).not.toContain(nonce);
    expect(consoleContentSecurityPolicy).toContain("script-src 'self'");
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    const asset = await call('/assets/index-abc123.js');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/text\/javascript/);
    expect(asset.headers.get('content-security-policy')).toBe(consoleContentSecurityPolicy);
    const deep = await call('/runs/run_123');
    expect(await deep.text()).toContain('<title>console</title>');
    expect((await call('/assets/index-gone.js')).status).toBe(404);
    expect((await call('/favicon.ico')).status).toBe(404);
    expect((await call('/%2e%2e/%2e%2e/etc/passwd')).status).not.toBe(500);
    expect(await (await call('/..%2f..%2fpackage.json')).text()).not.toContain('"name"');
    expect((await call('/v1/nothing-here')).status).toBe(401);
    expect((await call('/v1/nothing-here', tokens.auditor)).status).toBe(404);
    expect((await call('/healthz')).status).toBe(200);
  });

  it('streams pending approvals live: a held run appears with the rule that held it, and who may vote', async () => {
    const abort = new AbortController();
    const response = await fetch(`${server.url}/v1/streams/approvals`, {
      headers: { authorization: `Bearer ${tokens.clerk}`, accept: 'text/event-stream' },
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const nextList = async (): Promise<Array<Record<string, unknown>>> => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) return (JSON.parse(data) as { approvals: Array<Record<string, unknown>> }).approvals;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffer += value;
      }
    };
    expect(await nextList()).toEqual([]);
    const started = await call('/v1/runs', tokens.operator, {
      method: 'POST',
      body: JSON.stringify({ agent: 'order-desk', input: 'I want a refund' }),
    });
    const held = (await started.json()) as { status: string; held: { approvalId: string } };
    expect(held.status).toBe('held');
    const [approval] = await nextList();
    abort.abort();
    expect(approval).toMatchObject({
      id: held.held.approvalId,
      agent: 'order-desk',
      requestedBy: 'customer@shop.example',
      action: { kind: 'answer' },
    });
    expect(approval!.decision).toMatchObject({
      authority: 'require_approval',
      rules: [expect.objectContaining({ ruleId: 'refunds-need-a-support-lead' })],
    });
    // carl is an approver but not a support lead: the stream says so before he tries.
    expect(approval!.eligibility).toMatchObject({ mayVote: false, reason: expect.stringContaining('support-lead') });

    // The run's own principal is refused for separation of duties; the operator sees only their own.
    const own = await fetch(`${server.url}/v1/streams/approvals`, { headers: { authorization: `Bearer ${tokens.operator}` } });
    const ownReader = own.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('\n\n')) text += (await ownReader.read()).value ?? '';
    await ownReader.cancel();
    expect(text).toContain('Separation of duties');
  });

  it('lists and marks notifications, reads a policy by name and the charts\u2019 figures, each behind its roles', async () => {
    expect((await call('/v1/notifications', tokens.operator)).status).toBe(404);
    const list = await call('/v1/notifications', tokens.auditor);
    expect(list.status).toBe(200);
    expect(await list.json()).toHaveProperty('notifications');
    expect((await call('/v1/notifications/read', tokens.auditor, { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await call('/v1/notifications/read', tokens.auditor, { method: 'POST', body: '{"all":true}' })).status).toBe(200);

    const policy = await call('/v1/policies/order-desk/source', tokens.auditor);
    expect(((await policy.json()) as { policy: { source: string } }).policy.source).toContain('refunds-need-a-support-lead');
    expect((await call('/v1/policies/no-such/source', tokens.auditor)).status).toBe(404);
    expect((await call('/v1/policies/order-desk/source', tokens.operator)).status).toBe(404);

    // A refund the support lead rejects: a boundary the agent ran into, charted with the denials.
    const refused = (await (
      await call('/v1/runs', tokens.operator, { method: 'POST', body: JSON.stringify({ agent: 'order-desk', input: 'A refund, now' }) })
    ).json()) as { held: { approvalId: string } };
    expect(
      (
        await call(`/v1/approvals/${refused.held.approvalId}/reject`, tokens.lead, {
          method: 'POST',
          body: JSON.stringify({ comment: 'Not eligible.' }),
        })
      ).status,
    ).toBe(200);
    const stats = await call('/v1/stats', tokens.auditor);
    expect(stats.status).toBe(200);
    const figures = (
      (await stats.json()) as {
        stats: {
          decisions: Array<{ authority: string; count: number }>;
          violations: Array<{ kind: string; count: number }>;
          runsByStatus: Record<string, number>;
        };
      }
    ).stats;
    expect(figures.decisions.some((row) => row.authority === 'require_approval' && row.count >= 1)).toBe(true);
    expect(figures.violations).toEqual([expect.objectContaining({ kind: 'rejection', count: 1 })]);
    expect(figures.runsByStatus.held).toBeGreaterThanOrEqual(1);
    expect((await call('/v1/stats?since=yesterday', tokens.auditor)).status).toBe(400);
    expect((await call('/v1/stats', tokens.operator)).status).toBe(404);
  });
});
