// The HTTP API over a real server on loopback, PGlite and the order-desk copilot (scripted model):
// tokens and roles, SSE streaming of a run through a hold, approval by a support lead that
// resumes the run, separation of duties, uniform 404/401, bad input, limits and metrics.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads a whole SSE response into events (the stream ends when the server ends it). */
async function readSse(response: Response): Promise<SseEvent[]> {
  const text = await response.text();
  const events: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const match = /^(\w+): ?(.*)$/.exec(line);
      if (match) fields[match[1]!] = (fields[match[1]!] ? `${fields[match[1]!]}\n` : '') + match[2];
    }
    if (fields.data)
      events.push({ ...(fields.id ? { id: fields.id } : {}), event: fields.event ?? 'message', data: JSON.parse(fields.data) });
  }
  return events;
}

describe('the HTTP API', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  const logs: Array<Record<string, unknown>> = [];
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: (line) => logs.push(line),
      rateLimit: { burst: 1000, perSecond: 1000 },
    });
    const make = async (name: string, principal: string, roles: string[]) => {
      tokens[name] = (await createApiToken(store, { principal, roles })).token;
    };
    await make('alice', 'alice@shop.example', ['operator']);
    await make('mallory', 'mallory@shop.example', ['operator']);
    await make('bob', 'bob@shop.example', ['approver', 'support-lead']);
    await make('selfApprover', 'alice@shop.example', ['approver', 'support-lead']);
    await make('carol', 'carol@shop.example', ['approver']);
    await make('audrey', 'audrey@shop.example', ['auditor']);
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  const call = (path: string, token: string | undefined, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'content-type': 'application/json',
        ...(init.headers as Record<string, string>),
      },
    });

  it('streams a run as server-sent events: run.started, tokens, the decision, the answer and run.completed', async () => {
    const response = await call('/v1/runs', tokens.alice, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ agent: 'order-desk', input: 'Where is my order?' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await readSse(response);
    const types = events.map((event) => event.event);
    expect(types[0]).toBe('run.started');
    expect(types.at(-1)).toBe('run.completed');
    expect(types.filter((type) => type === 'token').length).toBeGreaterThan(3);
    const tokensText = events
      .filter((event) => event.event === 'token')
      .map((event) => event.data.text)
      .join('');
    expect(tokensText).toContain('arrives on Friday');
    expect(events.filter((event) => event.event === 'action.decided').map((event) => `${event.data.kind}:${event.data.authority}`)).toEqual(
      ['model:autonomous', 'answer:autonomous'],
    );
    expect(events.map((event) => Number(event.id))).toEqual(events.map((_, index) => index + 1));
  });

  it('resumes a stream after the Last-Event-ID the client names (or ?after=N): every later event once, in order, then the end', async () => {
    const started = await call('/v1/runs', tokens.alice, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ agent: 'order-desk', input: 'Where is my order?' }),
    });
    const whole = await readSse(started);
    const runId = String(whole[0]!.data.runId);
    expect(whole.at(-1)!.event).toBe('run.completed');
    const resumed = await call(`/v1/runs/${runId}/events`, tokens.alice, {
      headers: { accept: 'text/event-stream', 'last-event-id': '3' },
    });
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(resumed.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await readSse(resumed)).toEqual(whole.slice(3));
    const after = await call(`/v1/runs/${runId}/events?after=${whole.length - 1}`, tokens.alice, {
      headers: { accept: 'text/event-stream' },
    });
    expect((await readSse(after)).map((event) => event.event)).toEqual(['run.completed']);
  });

  it('holds a refund for a support lead, refuses the requester, and resumes the run when another principal approves', async () => {
    const response = await call('/v1/runs', tokens.alice, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ agent: 'order-desk', input: 'I want a refund for order 1042' }),
    });
    const events = await readSse(response);
    const held = events.at(-1)!;
    expect(held.event).toBe('run.held');
    const runId = String(held.data.runId);
    const approvalId = String(held.data.approvalId);

    // The operator sees their held action and its status; another operator learns nothing.
    const mine = await call(`/v1/approvals/${approvalId}`, tokens.alice);
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { approval: { status: string } }).approval.status).toBe('pending');
    const theirs = await call(`/v1/approvals/${approvalId}`, tokens.mallory);
    const absent = await call('/v1/approvals/apr_doesnotexist', tokens.mallory);
    expect(theirs.status).toBe(404);
    expect(absent.status).toBe(404);
    expect(((await theirs.json()) as { error: { code: string } }).error.code).toBe(
      ((await absent.json()) as { error: { code: string } }).error.code,
    );

    // Watching the run follows it across the hold.
    const watching = call(`/v1/runs/${runId}/events`, tokens.alice, { headers: { accept: 'text/event-stream' } }).then(readSse);

    // Separation of duties: the run's principal cannot approve, whatever roles their token has; recorded in the run.
    const self = await call(`/v1/approvals/${approvalId}/approve`, tokens.selfApprover, { method: 'POST', body: '{}' });
    expect(self.status).toBe(403);
    expect(((await self.json()) as { error: { message: string } }).error.message).toMatch(/Separation of duties/);
    // An approver without the policy's approver role is refused by the approval rules.
    const wrongRole = await call(`/v1/approvals/${approvalId}/approve`, tokens.carol, { method: 'POST', body: '{}' });
    expect(wrongRole.status).toBe(403);
    // An operator cannot vote at all: the route answers as if the approval were not there.
    expect((await call(`/v1/approvals/${approvalId}/approve`, tokens.mallory, { method: 'POST', body: '{}' })).status).toBe(404);

    const approved = await call(`/v1/approvals/${approvalId}/approve`, tokens.bob, {
      method: 'POST',
      body: JSON.stringify({ comment: 'goodwill refund' }),
    });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ result: 'approved', resumed: true });

    const followed = await watching;
    const followedTypes = followed.map((event) => event.event);
    expect(followedTypes).toContain('run.held');
    expect(followedTypes).toContain('approval.applied');
    expect(followedTypes.at(-1)).toBe('run.completed');
    expect(followed.at(-1)!.data.answer).toMatch(/refund 40 EUR/);
    expect(followed.map((event) => Number(event.id))).toEqual(followed.map((_, index) => index + 1));

    // The auditor verifies the run; its trace holds the refused attempt and the approval.
    const verified = await call(`/v1/runs/${runId}/verify`, tokens.audrey, { method: 'POST' });
    expect(verified.status).toBe(200);
    expect(((await verified.json()) as { report: { ok: boolean } }).report.ok).toBe(true);
    const shown = (await (await call(`/v1/runs/${runId}`, tokens.audrey)).json()) as {
      run: { status: string };
      events: Array<{ type: string; payload: Record<string, unknown> }>;
    };
    expect(shown.run.status).toBe('completed');
    const auth = shown.events.filter((event) => event.type === 'auth.decided');
    expect(auth.map((event) => `${event.payload.principal}:${event.payload.outcome}:${event.payload.reason}`)).toEqual([
      'alice@shop.example:denied:separation_of_duties',
      'carol@shop.example:denied:approver_rules',
    ]);
    expect(shown.events.map((event) => event.type)).toContain('approval.granted');
    // Operators cannot verify (404, as for a run that does not exist).
    expect((await call(`/v1/runs/${runId}/verify`, tokens.alice, { method: 'POST' })).status).toBe(404);
  });

  it('answers 401 alike to a missing, a malformed and a revoked token, before any routing', async () => {
    for (const token of [undefined, 'nonsense', 'aif_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      for (const path of ['/v1/runs/run_missing', '/v1/approvals', '/v1/nowhere']) {
        const response = await call(path, token);
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/Bearer/);
      }
    }
    expect(logs.some((line) => line.event === 'auth.decided' && line.outcome === 'denied' && line.reason === 'no_token')).toBe(true);
    expect(JSON.stringify(logs)).not.toContain(tokens.alice);
  });

  it('hides other principals\u2019 runs from operators exactly like runs that do not exist', async () => {
    const started = (await (
      await call('/v1/runs', tokens.alice, { method: 'POST', body: JSON.stringify({ agent: 'order-desk', input: 'hello' }) })
    ).json()) as { runId: string; status: string };
    expect(started.status).toBe('completed');
    const theirs = await call(`/v1/runs/${started.runId}`, tokens.mallory);
    const missing = await call('/v1/runs/run_00000000-0000-0000-0000-000000000000', tokens.mallory);
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(((await theirs.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const listed = (await (await call('/v1/runs', tokens.mallory)).json()) as { runs: Array<{ principal: string }> };
    expect(listed.runs.every((run) => run.principal === 'mallory@shop.example')).toBe(true);
    // Asking for another principal's runs does not widen an operator's view.
    const asked = (await (await call('/v1/runs?principal=alice%40shop.example', tokens.mallory)).json()) as {
      runs: Array<{ principal: string }>;
    };
    expect(asked.runs.every((run) => run.principal === 'mallory@shop.example')).toBe(true);
    expect((await call(`/v1/runs/${started.runId}`, tokens.alice)).status).toBe(200);
  });

  it('filters runs by principal, team and authority for auditors, a cursor page at a time', async () => {
    const ask = async (query: string) =>
      (await (await call(`/v1/runs?${query}`, tokens.audrey)).json()) as {
        runs: Array<{ id: string; principal: string; team: string | null }>;
        nextCursor: string | null;
      };
    await call('/v1/runs', tokens.alice, { method: 'POST', body: JSON.stringify({ agent: 'order-desk', input: 'where is my parcel' }) });
    const held = (await (
      await call('/v1/runs', tokens.alice, { method: 'POST', body: JSON.stringify({ agent: 'order-desk', input: 'a refund please' }) })
    ).json()) as { runId: string; status: string };
    expect(held.status).toBe('held');
    const everything = await ask('limit=1000');
    const byAlice = await ask('principal=alice%40shop.example');
    expect(byAlice.runs.length).toBeGreaterThanOrEqual(2);
    expect(byAlice.runs.every((run) => run.principal === 'alice@shop.example')).toBe(true);
    expect((await ask('team=web-shop')).runs.length).toBe(everything.runs.length);
    expect((await ask('team=another-team')).runs).toEqual([]);
    const heldRuns = await ask('authority=require_approval');
    expect(heldRuns.runs.map((run) => run.id)).toContain(held.runId);
    expect(heldRuns.runs.length).toBeLessThan(everything.runs.length);
    // One run a page: walking the cursors visits each held run once.
    const walked: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await ask(`authority=require_approval&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      walked.push(...page.runs.map((run) => run.id));
      cursor = page.nextCursor;
    }
    expect(walked).toEqual(heldRuns.runs.map((run) => run.id));
    const badAuthority = await call('/v1/runs?authority=sometimes', tokens.audrey);
    expect(badAuthority.status).toBe(400);
    expect(((await badAuthority.json()) as { error: { path: string } }).error.path).toBe('authority');
  });

  it('rejects malformed requests with 400 naming what was wrong, and oversized bodies with 413', async () => {
    const notJson = await call('/v1/runs', tokens.alice, { method: 'POST', body: '{"agent": ' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);
    const missing = await call('/v1/runs', tokens.alice, { method: 'POST', body: JSON.stringify({ agent: 'order-desk' }) });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { code: 'INPUT_INVALID', path: 'input' } });
    const extra = await call('/v1/runs', tokens.alice, {
      method: 'POST',
      body: JSON.stringify({ agent: 'order-desk', input: 'x', admin: true }),
    });
    expect(((await extra.json()) as { error: { message: string } }).error.message).toMatch(/admin/);
    const badQuery = await call('/v1/runs?status=sleeping', tokens.audrey);
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as { error: { path: string } }).error.path).toBe('status');
    const unknownAgent = await call('/v1/runs', tokens.alice, {
      method: 'POST',
      body: JSON.stringify({ agent: 'no-such-agent', input: 'x' }),
    });
    expect(unknownAgent.status).toBe(404);
    expect(((await unknownAgent.json()) as { error: { message: string } }).error.message).toMatch(/no-such-agent/);
    const huge = await call('/v1/runs', tokens.alice, {
      method: 'POST',
      body: JSON.stringify({ agent: 'order-desk', input: 'x'.repeat(1_100_000) }),
    });
    expect(huge.status).toBe(413);
  });

  it('validates and lists policies for risk officers, and publishes an OpenAPI document of the same schemas', async () => {
    const { token } = await createApiToken(store, { principal: 'rita@shop.example', roles: ['risk_officer'] });
    const listed = (await (await call('/v1/policies', token)).json()) as { policies: Array<{ name: string }> };
    expect(listed.policies.map((policy) => policy.name)).toEqual(['order-desk']);
    const invalid = (await (
      await call('/v1/policies/validate', token, {
        method: 'POST',
        body: JSON.stringify({
          source: 'apiVersion: aifactory/v1\nkind: AutonomyPolicy\nmetadata: {name: x, version: 1}\nspec:\n  default: maybe\n',
        }),
      })
    ).json()) as {
      ok: boolean;
      problems: Array<{ location: { line?: number }; text: string }>;
    };
    expect(invalid.ok).toBe(false);
    expect(invalid.problems[0]!.location.line).toBe(5);
    expect(invalid.problems[0]!.text).toMatch(/^policy\.yaml:5:\d+: spec\.default: /);
    const openapi = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { $ref?: string } }> } }>>;
      components: { schemas: Record<string, { required?: string[] }> };
    };
    const startRun = openapi.paths['/v1/runs']!.post!.requestBody!.content['application/json']!.schema.$ref!;
    expect(openapi.components.schemas[startRun.replace('#/components/schemas/', '')]!.required).toEqual(['agent', 'input']);
    expect(Object.keys(openapi.paths)).toContain('/v1/approvals/{id}/approve');
    // Built once and served from its text after: the same document again, naming this server.
    const again = await fetch(`${server.url}/v1/openapi.json`);
    expect(again.headers.get('content-type')).toMatch(/^application\/json/);
    const repeated = (await again.json()) as { servers: Array<{ url: string }> };
    expect(repeated).toEqual(openapi);
    expect(repeated.servers[0]!.url).toBe(server.url);
  });

  it('runs a policy\u2019s test cases against an edited source without saving it, and serves the policy JSON Schema for editors', async () => {
    const { token } = await createApiToken(store, { principal: 'rita@shop.example', roles: ['risk_officer'] });
    const schema = (await (await call('/v1/policies/schema', token)).json()) as {
      properties: { spec: { properties: Record<string, unknown> } };
    };
    expect(Object.keys(schema.properties.spec.properties)).toEqual(expect.arrayContaining(['default', 'rules', 'limits']));
    type Report = {
      report: {
        total: number;
        passed: number;
        failed: number;
        results: Array<{ name: string; file: string; passed: boolean; expected: string; actual: string }>;
      } | null;
    };
    const test = async (body: unknown) => call('/v1/policies/test', token, { method: 'POST', body: JSON.stringify(body) });
    const asFiled = (await (await test({ name: 'order-desk' })).json()) as Report;
    expect(asFiled.report).toMatchObject({ total: 3, passed: 3, failed: 0 });
    const file = path.join(workspace.policiesDir, 'order-desk', 'policy.yaml');
    const source = readFileSync(file, 'utf8');
    const stricter = (await (
      await test({ name: 'order-desk', source: source.replace('default: autonomous', 'default: require_approval') })
    ).json()) as Report;
    expect(stricter.report).toMatchObject({ total: 3, passed: 1, failed: 2 });
    expect(stricter.report!.results.filter((result) => !result.passed)).toEqual([
      expect.objectContaining({ file: path.join('tests', 'autonomous.yaml'), expected: 'autonomous', actual: 'require_approval' }),
      expect.objectContaining({ file: path.join('tests', 'autonomous.yaml'), expected: 'autonomous', actual: 'require_approval' }),
    ]);
    // Nothing was saved, and a broken edit is the caller's mistake, named without server paths.
    expect(readFileSync(file, 'utf8')).toBe(source);
    const broken = await test({ name: 'order-desk', source: source.replace('default: autonomous', 'default: sometimes') });
    expect(broken.status).toBe(400);
    expect(await broken.text()).not.toContain('aifactory-policy-test-');
    expect((await test({ name: 'no-such-policy' })).status).toBe(404);
    expect((await call('/v1/policies/test', tokens.audrey, { method: 'POST', body: JSON.stringify({ name: 'order-desk' }) })).status).toBe(
      404,
    );
  });

  it('exposes Prometheus metrics to auditors: decisions by authority and rule, model latency, tokens by team, pending approvals', async () => {
    expect((await call('/metrics', tokens.alice)).status).toBe(404);
    const response = await call('/metrics', tokens.audrey);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/aifactory_decisions_total\{authority="require_approval",kind="answer"\} [1-9]/);
    expect(text).toMatch(
      /aifactory_decision_rule_matches_total\{authority="require_approval",rule="order-desk\/refunds-need-a-support-lead"\} [1-9]/,
    );
    expect(text).toMatch(/aifactory_ai_inference_latency_seconds_count\{provider="scripted",model="[^"]+"\} [1-9]/);
    expect(text).toMatch(
      /aifactory_model_tokens_total\{team="web-shop",feature="none",agent="order-desk",model="[^"]+",direction="output"\} [1-9]/,
    );
    expect(text).toMatch(/aifactory_approvals_pending \d/);
    expect(text).toMatch(/aifactory_run_duration_seconds_count\{agent="order-desk",status="completed"\} [1-9]/);
    expect(text).toMatch(/aifactory_approval_decision_seconds_count\{outcome="approved"\} 1/);
  });

  it('ends an open stream with server.closing, naming the last event id, when the server shuts down', async () => {
    const closing = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: () => undefined,
      shutdownTimeoutMs: 500,
    });
    try {
      const started = await fetch(`${closing.url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ agent: 'order-desk', input: 'I want a refund for order 1042' }),
      });
      const held = (await readSse(started)).at(-1)!;
      expect(held.event).toBe('run.held');
      // Following the held run keeps the stream open (it ends at completed or failed) until the server closes.
      const watching = await fetch(`${closing.url}/v1/runs/${String(held.data.runId)}/events`, {
        headers: { authorization: `Bearer ${tokens.alice}`, accept: 'text/event-stream' },
      });
      const events = readSse(watching);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await closing.close();
      const seen = await events;
      expect(seen.at(-1)).toEqual({
        event: 'server.closing',
        data: { type: 'server.closing', runId: held.data.runId, lastEventId: Number(held.id) },
      });
      expect(seen.slice(0, -1).map((event) => event.id)).toEqual(seen.slice(0, -1).map((_, index) => String(index + 1)));
    } finally {
      await closing.close();
    }
  });

  it('limits requests per token with 429 and Retry-After', async () => {
    const limited = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir }),
      port: 0,
      log: () => undefined,
      rateLimit: { burst: 3, perSecond: 0.5 },
    });
    try {
      const statuses = [];
      for (let index = 0; index < 5; index += 1)
        statuses.push((await fetch(`${limited.url}/v1/me`, { headers: { authorization: `Bearer ${tokens.audrey}` } })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      // Another token has its own bucket.
      expect((await fetch(`${limited.url}/v1/me`, { headers: { authorization: `Bearer ${tokens.bob}` } })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
