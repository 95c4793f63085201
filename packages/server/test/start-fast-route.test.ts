// POST /v1/runs with an event stream, answered in front of Hono (start-fast-route.ts) behind a real
// server on loopback, against the same app served through Hono alone on a second socket: the same
// requests (valid, unauthenticated, bad token, wrong role, bad bodies, unknown agent, hostile
// headers, request ids, traceparent, limits, closing) get the same status, body, headers and log lines.
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { workspaceConfigAt } from '@aifactory/workspace';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { nodeFetch } from '../src/run-stream.ts';

type Init = { headers?: Record<string, string>; body?: string };

describe('the streaming start in front of Hono', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  let honoOnly: Server;
  let honoUrl: string;
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
      failedAuthLimit: { burst: 40, perSecond: 0.001 },
    });
    // The same app through Hono alone (its event streams still written to Node's response, as behind `factory serve`).
    honoOnly = createAdaptorServer({ fetch: nodeFetch((request, env) => server.http.app.fetch(request, env)) }) as Server;
    await new Promise<void>((resolve) => honoOnly.listen(0, '127.0.0.1', () => resolve()));
    honoUrl = `http://127.0.0.1:${(honoOnly.address() as AddressInfo).port}`;
    tokens.alice = (await createApiToken(store, { principal: 'alice@shop.example', roles: ['operator'] })).token;
    tokens.audrey = (await createApiToken(store, { principal: 'audrey@shop.example', roles: ['auditor'] })).token;
  });

  afterAll(async () => {
    honoOnly?.close();
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  /** One request's answer and log lines, with what differs from run to run (ids, times, ports) written as placeholders. */
  const send = async (base: string, init: Init) => {
    const from = logs.length;
    const response = await fetch(`${base}/v1/runs`, { method: 'POST', ...init });
    const text = await response.text();
    const runIds = new Map<string, string>();
    const normal = (value: string) =>
      value
        .replaceAll(base, '<base>')
        .replace(/run_[0-9a-f-]{36}/g, (id) => runIds.get(id) ?? (runIds.set(id, `run_${runIds.size}`), `run_${runIds.size - 1}`))
        .replace(/"ts":"[^"]+"/g, '"ts":"<ts>"')
        .replace(/reference [0-9a-f]{8}/g, 'reference <ref>');
    const fresh = (value: string | null | undefined) => (value && /^[0-9a-f-]{36}$/.test(value) ? '<fresh>' : value);
    // A run's own trace (no traceparent) is named after its run id.
    const traceOf = (value: string | null) =>
      value === null ? null : value.replace(/^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/, '00-$1-<span>-01');
    const headers = Object.fromEntries(
      ['content-type', 'cache-control', 'www-authenticate', 'retry-after', 'connection', 'transfer-encoding'].map((name) => [
        name,
        response.headers.get(name)?.replaceAll(base, '<base>') ?? null,
      ]),
    );
    headers['x-request-id'] = fresh(response.headers.get('x-request-id')) ?? null;
    const traceResponse = response.headers.get('traceresponse');
    const supplied = init.headers?.traceparent;
    headers.traceresponse = supplied === undefined ? (traceResponse === null ? null : '<own trace>') : traceOf(traceResponse);
    const lines = logs
      .slice(from)
      .filter((line) => line.event === 'http.request' || line.event === 'auth.decided' || line.event === 'request.failed')
      .map(({ duration_ms: _duration, reference: _reference, ...line }) => {
        const kept: Record<string, unknown> = { ...line };
        if (typeof kept.request_id === 'string') kept.request_id = fresh(kept.request_id);
        if (typeof kept.run_id === 'string') kept.run_id = normal(kept.run_id);
        if (supplied === undefined && kept.trace_id !== undefined) kept.trace_id = '<own trace>';
        if (supplied === undefined && kept.span_id !== undefined) kept.span_id = '<own span>';
        return kept;
      });
    return { status: response.status, body: normal(text), headers, lines };
  };

  /** Sends `init` to both sockets, in front of Hono first; expects the same answers and returns the first. */
  const compare = async (label: string, init: Init) => {
    const honoFetch = vi.spyOn(server.http.app, 'fetch');
    let fast: Awaited<ReturnType<typeof send>>;
    let honoAsked: boolean;
    try {
      fast = await send(server.url, init);
      honoAsked = honoFetch.mock.calls.length > 0;
    } finally {
      honoFetch.mockRestore();
    }
    const hono = await send(honoUrl, init);
    expect(fast, label).toEqual(hono);
    expect(
      fast.lines.filter((line) => line.event === 'http.request'),
      label,
    ).toHaveLength(1);
    return { ...fast, honoAsked };
  };

  const stream = { accept: 'text/event-stream', 'content-type': 'application/json' };
  const start = JSON.stringify({ agent: 'order-desk', input: 'Where is my order?' });

  it('streams a start with the same headers and log line as Hono, its events arriving in order to run.completed, without Hono being asked', async () => {
    const honoFetch = vi.spyOn(server.http.app, 'fetch');
    let response: Response;
    try {
      response = await fetch(`${server.url}/v1/runs`, {
        method: 'POST',
        headers: { ...stream, authorization: `Bearer ${tokens.alice}` },
        body: start,
      });
      expect(response.status).toBe(200);
      expect(honoFetch).not.toHaveBeenCalled();
    } finally {
      honoFetch.mockRestore();
    }
    const events = (await response.text())
      .split('\n\n')
      .filter((block) => block.includes('data: '))
      .map((block) => ({ id: /^id: (.*)$/m.exec(block)?.[1], event: /^event: (.*)$/m.exec(block)?.[1] }));
    expect(events[0]!.event).toBe('run.started');
    expect(events.at(-1)!.event).toBe('run.completed');
    expect(events.map((event) => Number(event.id))).toEqual(events.map((_, index) => index + 1));

    const compared = await compare('a valid start', {
      headers: { ...stream, authorization: `Bearer ${tokens.alice}`, 'x-request-id': 'checkout-7f3a' },
      body: start,
    });
    expect(compared.headers).toMatchObject({
      'content-type': 'text/event-stream',
      'x-request-id': 'checkout-7f3a',
      traceresponse: '<own trace>',
    });
    expect(compared.body).toMatch(/^event: run\.started\n/);
    expect(compared.body).toMatch(/event: run\.completed\n/);
    expect(compared.honoAsked).toBe(false);
    expect(compared.lines).toEqual([
      expect.objectContaining({ event: 'http.request', status: 200, route: '/v1/runs', principal: 'alice@shop.example', run_id: 'run_0' }),
    ]);
    // The caller's trace: the run starts in it, and traceresponse names it.
    const traced = await compare('a start in a trace', {
      headers: {
        ...stream,
        authorization: `Bearer ${tokens.alice}`,
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        'content-type': 'application/json; charset=UTF-8',
      },
      body: start,
    });
    expect(traced.headers.traceresponse).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-<span>-01');
    expect(traced.lines[0]).toMatchObject({ trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' });
  });

  it('refuses as Hono does: no, bad or role-less token, act-as header, NUL, malformed or invalid body, unknown agent, with the same headers and log lines', async () => {
    const alice = { ...stream, authorization: `Bearer ${tokens.alice}` };
    const cases: Array<[string, Init, number]> = [
      ['no token', { headers: stream, body: start }, 401],
      ['a bad token', { headers: { ...stream, authorization: 'Bearer aif_not-a-real-token-000000000000' }, body: start }, 401],
      ['a malformed authorization', { headers: { ...stream, authorization: 'Bearer a b' }, body: start }, 401],
      ['an auditor', { headers: { ...stream, authorization: `Bearer ${tokens.audrey}` }, body: start }, 404],
      [
        'an auditor with a bad body (judged first)',
        { headers: { ...stream, authorization: `Bearer ${tokens.audrey}` }, body: '{"agent": ' },
        400,
      ],
      ['act-as over the network', { headers: { ...alice, 'x-aifactory-as': 'someone-else' }, body: start }, 403],
      ['malformed JSON', { headers: alice, body: '{"agent": ' }, 400],
      ['an empty body', { headers: alice, body: '' }, 400],
      ['JSON null', { headers: alice, body: 'null' }, 400],
      ['a schema-invalid body', { headers: alice, body: JSON.stringify({ agent: '../etc/passwd', input: '', extra: 1 }) }, 400],
      ['a NUL in the body', { headers: alice, body: JSON.stringify({ agent: 'order-desk', input: 'a\u0000b' }) }, 400],
      ['a NUL without a token (the door comes first)', { headers: stream, body: '{"input":"\\u0000"}' }, 400],
      ['an unknown agent', { headers: alice, body: JSON.stringify({ agent: 'no-such-agent', input: 'hi' }) }, 404],
      ['an oversized body', { headers: alice, body: 'x'.repeat(1024 * 1024 + 1) }, 413],
      ['a plain-text body', { headers: { ...alice, 'content-type': 'text/plain' }, body: start }, 415],
      ['a hostile request id', { headers: { ...stream, 'x-request-id': 'x"}{"level":"fatal' }, body: start }, 401],
      ['a long request id', { headers: { ...stream, 'x-request-id': 'a'.repeat(500) }, body: start }, 401],
      ['a malformed traceparent', { headers: { ...stream, traceparent: '00-zz-yy-01' }, body: start }, 401],
      ['a hostile header value', { headers: { ...alice, 'x-aifactory-roles': 'admin\t,operator' }, body: '{"agent":"\u00e9"}' }, 400],
    ];
    // Hono's to answer: a body over the limit (its body limit) and one not sent as JSON (its media-type check).
    const leftToHono = ['an oversized body', 'a plain-text body'];
    for (const [label, init, status] of cases) {
      const answer = await compare(label, init);
      expect(answer.status, label).toBe(status);
      expect(answer.honoAsked, label).toBe(leftToHono.includes(label));
    }
  });

  it('answers 503 once the server is closing, as Hono does', async () => {
    server.http.beginShutdown();
    const closing = await compare('closing', { headers: { ...stream, authorization: `Bearer ${tokens.alice}` }, body: start });
    expect(closing.status).toBe(503);
    expect(closing.honoAsked).toBe(false);
  });

  it('refuses an address past its failed-authentication limit as Hono does (429, Retry-After), closing or not', async () => {
    let status = 0;
    for (let attempt = 0; attempt < 60 && status !== 429; attempt += 1)
      status = (await send(server.url, { headers: { ...stream, authorization: `Bearer aif_bad-${attempt}` }, body: start })).status;
    expect(status).toBe(429);
    const limited = await compare('limited', { headers: { ...stream, authorization: 'Bearer aif_bad-again' }, body: start });
    expect(limited.status).toBe(429);
    expect(limited.honoAsked).toBe(false);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
  });
});
