// The API contract as an app developer meets it, over a real server (PGlite, the order-desk
// copilot on its scripted model) and the real @aifactory/client: the OpenAPI document the server
// generates from its routes (operationIds, servers, every status, SSE), @redocly/cli lint of it
// with the checked-in config and no network, the client-facing types generated from it (checked
// in, so drift fails), runs listed newest first a page at a time, the usage report over HTTP,
// and trace ids in the request log.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiFactoryClient, ApiError } from '@aifactory/client';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { summarizeUsage } from '@aifactory/verification';
import { workspaceConfigAt } from '@aifactory/workspace';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { approvalSchema, runListResponse, usageResponse } from '../src/api-schemas.ts';

const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const generatedTypes = path.join(repository, 'packages', 'client', 'src', 'generated', 'openapi.ts');
const redocly = path.join(repository, 'packages', 'server', 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

type Operation = {
  operationId?: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string }>;
  responses: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>;
};
type OpenApi = {
  openapi: string;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

/** Runs a command; resolves with its exit code and output. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd: repository });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The header and body of the generated types file (the header says how to regenerate it). */
function generatedTypesFile(types: string): string {
  return `// Generated from the server's OpenAPI document (GET /v1/openapi.json) by openapi-typescript; do not edit.
// Regenerate: UPDATE_OPENAPI_TYPES=1 npx vitest run packages/server/test/api-contract.test.ts
// packages/server/test/api-contract.test.ts fails when this file and the server's routes differ, and
// packages/client/test/openapi-contract.ts fails typecheck when the client's own types drift from it.
${types}`;
}

describe('the API contract', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  const logs: Array<Record<string, unknown>> = [];
  const tokens: Record<string, string> = {};
  let document: OpenApi;
  const client = (name: string) => new AiFactoryClient({ baseUrl: server.url, token: tokens[name]! });

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
    await make('audrey', 'audrey@shop.example', ['auditor']);
    document = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as OpenApi;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  it('publishes an OpenAPI 3.1 document generated from the routes: operationIds, servers, security, every status, SSE and typed answers', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers[0]!.url).toBe(server.url);
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const operations = Object.entries(document.paths).flatMap(([route, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ route, method, operation })),
    );
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { route, operation } of operations) {
      const open = route === '/healthz' || route === '/v1/openapi.json';
      if (!open) expect(Object.keys(operation.responses), route).toEqual(expect.arrayContaining(['401', '403', '404', '429']));
      // No answer is an untyped object: each names its properties or is a named component.
      for (const [status, response] of Object.entries(operation.responses)) {
        const schema = response.content?.['application/json']?.schema;
        if (!schema || route === '/v1/openapi.json') continue;
        expect(
          '$ref' in schema || 'properties' in schema || 'oneOf' in schema || 'anyOf' in schema,
          `${route} ${status}: ${JSON.stringify(schema)}`,
        ).toBe(true);
      }
    }
    expect(ids).toEqual(
      expect.arrayContaining([
        'startRun',
        'listRuns',
        'getRun',
        'streamRunEvents',
        'approveApproval',
        'rejectApproval',
        'createToken',
        'getUsage',
        'getMetrics',
      ]),
    );
    // The console's, feedback and operator routes are typed like the rest, and so is the LLM gateway.
    expect(ids).toEqual(
      expect.arrayContaining([
        'streamApprovals',
        'listNotifications',
        'markNotificationsRead',
        'getPolicySource',
        'getStats',
        'giveFeedback',
        'listFeedback',
        'rotateToken',
        'verifyAllRuns',
        'gatewayChatCompletion',
        'gatewayMessages',
      ]),
    );
    expect(document.paths['/v1/streams/approvals']!.get!.responses['200']!.content!['text/event-stream']!.schema).toMatchObject({
      'x-event-data': { $ref: '#/components/schemas/ApprovalInbox' },
    });
    expect(document.paths['/v1/runs/{id}/feedback']!.post!.responses['201']!.content!['application/json']!.schema).toMatchObject({
      properties: { feedback: { $ref: '#/components/schemas/Feedback' } },
    });
    expect(document.paths['/v1/tokens/{id}/rotate']!.post!.responses['201']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/RotatedToken',
    });
    const chat = document.paths['/gateway/openai/v1/chat/completions']!.post!;
    expect(Object.keys(chat.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '429', '502', '503']));
    expect(chat.responses['400']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/OpenAIError' });
    expect(Object.keys(chat.responses['200']!.content!)).toEqual(['application/json', 'text/event-stream']);
    expect(document.paths['/gateway/anthropic/v1/messages']!.post!.responses['403']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/AnthropicError',
    });
    const start = document.paths['/v1/runs']!.post!;
    expect(Object.keys(start.responses['200']!.content!)).toEqual(['text/event-stream', 'application/json']);
    expect(start.responses['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/RunResult' });
    const events = document.paths['/v1/runs/{id}/events']!.get!;
    expect(Object.keys(events.responses['200']!.content!)).toEqual(['text/event-stream']);
    expect(JSON.stringify(events.responses['200']!.content!['text/event-stream']!.schema)).toMatch(/Last-Event-ID/);
    expect(events.parameters!.map((parameter) => `${parameter.in}:${parameter.name}`)).toEqual(
      expect.arrayContaining(['path:id', 'query:after', 'header:last-event-id']),
    );
    expect(Object.keys(document.paths['/v1/approvals/{id}/approve']!.post!.responses)).toEqual(
      expect.arrayContaining(['200', '400', '403', '404', '409', '415']),
    );
    expect(Object.keys(document.paths['/metrics']!.get!.responses['200']!.content!)).toEqual(['text/plain']);
    expect(document.paths['/v1/runs']!.get!.parameters!.map((parameter) => parameter.name)).toEqual([
      'agent',
      'status',
      'principal',
      'team',
      'authority',
      'since',
      'until',
      'cursor',
      'limit',
    ]);
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['RunEvent', 'RunSummary', 'RunList', 'Approval', 'VoteResult', 'UsageReport', 'Error']),
    );
  });

  it('passes @redocly/cli lint with the checked-in redocly.yaml, without touching the network', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'aifactory-openapi-'));
    // Any connection the CLI tried (telemetry, update checks, remote refs) would reach this
    // listener: Node's fetch goes through HTTP(S)_PROXY when NODE_USE_ENV_PROXY is set.
    let attempts = 0;
    const trap: Server = createServer((socket) => {
      attempts += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const proxy = `http://127.0.0.1:${(trap.address() as { port: number }).port}`;
    try {
      const file = path.join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(document, null, 2));
      const env = {
        PATH: process.env.PATH,
        HOME: dir,
        REDOCLY_TELEMETRY: 'off',
        REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        NODE_USE_ENV_PROXY: '1',
        HTTP_PROXY: proxy,
        HTTPS_PROXY: proxy,
        NO_PROXY: '',
      };
      const result = await run(
        process.execPath,
        [redocly, 'lint', file, '--config', path.join(repository, 'redocly.yaml'), '--format', 'stylish'],
        env,
      );
      expect(`${result.stdout}\n${result.stderr}`, `${result.stdout}\n${result.stderr}`).toMatch(/Your API description is valid/);
      expect(result.code).toBe(0);
      expect(`${result.stdout}${result.stderr}`, `${result.stdout}${result.stderr}`).not.toMatch(/warning/i);
      expect(attempts).toBe(0);
    } finally {
      trap.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches the client-facing types generated from it (checked in, so any drift fails)', async () => {
    const types = generatedTypesFile(astToString(await openapiTS(document as never)));
    if (process.env.UPDATE_OPENAPI_TYPES === '1') writeFileSync(generatedTypes, types);
    expect(readFileSync(generatedTypes, 'utf8'), 'packages/client/src/generated/openapi.ts is stale: regenerate it (see its header)').toBe(
      types,
    );
  });

  it('lists runs newest first, a page at a time with an opaque cursor, each run once while new runs start', async () => {
    const alice = client('alice');
    const started: string[] = [];
    const startOne = async (who = 'alice') => {
      const response = await fetch(`${server.url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'order-desk', input: 'Where is my order?' }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { runId: string }).runId;
    };
    for (let index = 0; index < 7; index += 1) started.push(await startOne());
    const mallorys = await startOne('mallory');

    const seen: string[] = [];
    let page = await alice.runs({ limit: 3 });
    expect(runListResponse.parse(page)).toBeTruthy();
    expect(page.runs.map((run) => run.id)).toEqual(started.slice(-3).reverse());
    seen.push(...page.runs.map((run) => run.id));
    const newer = await startOne(); // started while the app walks the pages: it shifts nothing
    while (page.nextCursor) {
      page = await alice.runs({ limit: 3, cursor: page.nextCursor });
      seen.push(...page.runs.map((run) => run.id));
    }
    // Operators see their own runs only.
    expect(seen).toEqual([...started].reverse());
    expect(seen).not.toContain(mallorys);
    const everything: string[] = [];
    for await (const run of client('audrey').eachRun({ limit: 4 })) everything.push(run.id);
    expect(everything).toEqual([newer, mallorys, ...[...started].reverse()]);

    // since/until bound the walk; a duration means that long ago.
    const third = (await client('audrey').runs({ limit: 100 })).runs.find((run) => run.id === started[2])!;
    const until = await alice.runs({ until: third.startedAt, limit: 100 });
    expect(until.runs.map((run) => run.id)).toEqual(started.slice(0, 2).reverse());
    expect((await alice.runs({ since: third.startedAt, limit: 100 })).runs.map((run) => run.id)).toEqual([
      newer,
      ...started.slice(2).reverse(),
    ]);
    expect((await alice.runs({ since: '1h', limit: 100 })).runs).toHaveLength(8);
    expect((await alice.runs({ until: '1h' })).runs).toEqual([]);

    await expect(alice.runs({ cursor: 'not-ours' })).rejects.toMatchObject({ status: 400, code: 'INPUT_INVALID', path: 'cursor' });
    await expect(alice.runs({ limit: 0 })).rejects.toMatchObject({ status: 400, path: 'limit' });
    await expect(alice.runs({ since: 'last tuesday' })).rejects.toMatchObject({ status: 400, path: 'since' });
  });

  it('answers GET /v1/usage to auditors with the report `factory usage` prints, and hides it from operators', async () => {
    await expect(client('alice').usage()).rejects.toBeInstanceOf(ApiError);
    await expect(client('alice').usage()).rejects.toMatchObject({ status: 404 });
    const report = await client('audrey').usage({ by: ['team', 'agent', 'model'], since: '1d' });
    expect(usageResponse.parse(report)).toBeTruthy();
    expect(report.by).toEqual(['team', 'agent', 'model']);
    const direct = await summarizeUsage(store, { by: ['team', 'agent', 'model'], since: new Date(report.since!) });
    expect(report).toEqual(JSON.parse(JSON.stringify(direct)));
    expect(report.total.calls).toBeGreaterThan(0);
    await expect(client('audrey').usage({ by: ['colour' as never] })).rejects.toMatchObject({ status: 400, path: 'by' });
  });

  it('answers with bodies its schemas describe, and refuses a body that is not JSON', async () => {
    const approvals = (await (
      await fetch(`${server.url}/v1/approvals`, { headers: { authorization: `Bearer ${tokens.audrey}` } })
    ).json()) as { approvals: unknown[] };
    for (const approval of approvals.approvals) approvalSchema.parse(approval);
    const form = await fetch(`${server.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'text/plain' },
      body: 'agent=order-desk',
    });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
  });

  it('carries the trace id of a request that is part of an OpenTelemetry trace into its log line', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    await fetch(`${server.url}/v1/me`, {
      headers: { authorization: `Bearer ${tokens.alice}`, traceparent: `00-${traceId}-${spanId}-01`, 'x-request-id': 'traced-1' },
    });
    await fetch(`${server.url}/v1/me`, {
      headers: { authorization: `Bearer ${tokens.alice}`, traceparent: `00-${'0'.repeat(32)}-${spanId}-01`, 'x-request-id': 'traced-2' },
    });
    await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${tokens.alice}`, 'x-request-id': 'traced-3' } });
    const line = (id: string) => logs.find((entry) => entry.event === 'http.request' && entry.request_id === id);
    expect(line('traced-1')).toMatchObject({ trace_id: traceId, span_id: spanId, route: '/v1/me', status: 200 });
    // An invalid traceparent (all-zero trace id) and none at all: no trace ids.
    expect(line('traced-2')).not.toHaveProperty('trace_id');
    expect(line('traced-3')).not.toHaveProperty('trace_id');
  });
});
