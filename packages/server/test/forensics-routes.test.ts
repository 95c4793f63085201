// The auditor's and risk officer's routes over HTTP: explain a run (JSON and Markdown), export its
// OpenTelemetry spans and its signed JSONL trace, replay it identical, re-decide it under another policy (what-if) and measure
// a policy change's impact on recorded runs — each behind its roles, with bad input named.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { verifyExport } from '@aifactory/verification';
import { workspaceConfigAt } from '@aifactory/workspace';

async function* toAsync(lines: string[]): AsyncGenerator<string> {
  yield* lines;
}

describe('forensics routes', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
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
    tokens.operator = (await createApiToken(store, { principal: 'ops@shop.example', roles: ['operator'] })).token;
    tokens.auditor = (await createApiToken(store, { principal: 'audrey@shop.example', roles: ['auditor'] })).token;
    tokens.risk = (await createApiToken(store, { principal: 'rita@shop.example', roles: ['risk_officer'] })).token;
    const started = await call('/v1/runs', tokens.operator!, {
      method: 'POST',
      body: JSON.stringify({ agent: 'order-desk', input: 'Where is my order?' }),
    });
    expect(started.status).toBe(200);
    runId = ((await started.json()) as { runId: string }).runId;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  const call = (route: string, token: string, init: RequestInit = {}) =>
    fetch(`${server.url}${route}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });

  it('explains a run to an auditor as JSON and as Markdown, and hides it from an operator of another role', async () => {
    const json = await call(`/v1/runs/${runId}/explain`, tokens.auditor!);
    expect(json.status).toBe(200);
    const body = (await json.json()) as { explanation: { actions: unknown[] } };
    expect(body.explanation.actions.length).toBeGreaterThan(0);
    const markdown = await call(`/v1/runs/${runId}/explain?format=markdown`, tokens.auditor!);
    expect(markdown.headers.get('content-type')).toMatch(/markdown/);
    expect(await markdown.text()).toContain(runId);
    expect((await call(`/v1/runs/${runId}/explain?step=x`, tokens.auditor!)).status).toBe(400);
    expect((await call(`/v1/runs/${runId}/explain`, tokens.operator!)).status).toBe(404);
  });

  it('exports GenAI spans and replays the run identical', async () => {
    const exported = await call(`/v1/runs/${runId}/export`, tokens.auditor!);
    expect(exported.status).toBe(200);
    expect(await exported.text()).toContain('gen_ai.');
    // The trace itself, as JSONL with a signed trailer: it verifies offline, and an edited line does not.
    const jsonl = await call(`/v1/runs/${runId}/export?format=jsonl`, tokens.auditor!);
    expect(jsonl.status).toBe(200);
    expect(jsonl.headers.get('content-disposition')).toContain(`"${runId}.jsonl"`);
    const lines = (await jsonl.text()).trimEnd().split('\n');
    const summary = await verifyExport(toAsync(lines));
    expect(summary).toMatchObject({ ok: true, runs: 1, trailer: { present: true, signed: true, ok: true } });
    const edited = lines.map((line) => line.replace('Where is my order?', 'Where is my money?'));
    expect(edited).not.toEqual(lines);
    expect((await verifyExport(toAsync(edited))).ok).toBe(false);
    expect((await call(`/v1/runs/${runId}/export?format=pdf`, tokens.auditor!)).status).toBe(400);
    const replay = await call(`/v1/runs/${runId}/replay`, tokens.auditor!, { method: 'POST', body: '{}' });
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { replay: { outcome: string } }).replay.outcome).toBe('identical');
  });

  it('re-decides a run and measures impact under a stricter policy for a risk officer', async () => {
    const source = readFileSync(path.join(workspace.policiesDir, 'order-desk', 'policy.yaml'), 'utf8');
    const stricter = source.replace('default: autonomous', 'default: require_approval');
    expect(stricter).not.toBe(source);
    const whatIf = await call(`/v1/runs/${runId}/replay`, tokens.risk!, { method: 'POST', body: JSON.stringify({ policies: [stricter] }) });
    expect(whatIf.status).toBe(200);
    const report = (await whatIf.json()) as { whatIf: { changes: unknown[] } };
    expect(report.whatIf.changes.length).toBeGreaterThan(0);
    const impact = await call('/v1/policies/impact', tokens.risk!, { method: 'POST', body: JSON.stringify({ policies: [stricter] }) });
    expect(impact.status).toBe(200);
    const bad = await call('/v1/policies/impact', tokens.risk!, { method: 'POST', body: JSON.stringify({ policies: ['kind: Nope'] }) });
    expect(bad.status).toBe(400);
    expect(
      (await call('/v1/policies/impact', tokens.auditor!, { method: 'POST', body: JSON.stringify({ policies: [stricter] }) })).status,
    ).toBe(404);
  });
});
