// The server's trust boundaries, tried as a hostile holder of an ordinary operator token would,
// against a real server on loopback (PGlite, the order-desk copilot):
// - agents are named, never located: absolute paths, traversal, symbolic links out of the agents
//   folder, encoded separators, backslashes and NULs get 400 or 404; no marker file's content
//   appears in any answer, no run row is written and no process is started;
// - Host and Origin are checked on loopback (DNS rebinding), on the API and on /mcp;
// - NULs in input or ids and malformed ids get 400, never 500;
// - failed authentication is limited per client address (429 with Retry-After);
// - `factory serve` on a taken port exits 3 with a message saying so.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server as NetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { AiFactoryClient, ApiError } from '@aifactory/client';
import { openStore, type Store } from '@aifactory/store';
import { runs } from '@aifactory/store/schema';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { count } from 'drizzle-orm';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A raw HTTP request, so Host and Origin can be whatever an attacker makes them. */
function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    if (options.body) request.write(options.body);
    request.end();
  });
}

describe('agents are named, never located', () => {
  const workspace = prepareBusinessWorkspace();
  const outside = mkdtempSync(path.join(tmpdir(), 'aifactory-outside-'));
  const marker = 'MARKER-7f3a9c-do-not-leak';
  const secretFile = path.join(outside, 'secret.txt');
  const startedMarker = path.join(outside, 'process-started');
  const outsideAgent = path.join(outside, 'evil.yaml');
  let store: Store;
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    writeFileSync(secretFile, `${marker}\n`);
    // A valid agent outside the folder whose MCP server would prove it ran by creating a file.
    const orderDesk = readFileSync(path.join(workspace.agentsDir, 'order-desk.yaml'), 'utf8');
    writeFileSync(
      outsideAgent,
      orderDesk
        .replace('name: order-desk', 'name: evil')
        .replace('./scripts/order-desk.script.yaml', path.join(workspace.agentsDir, 'scripts', 'order-desk.script.yaml'))
        .replace('../policies/order-desk/policy.yaml', path.join(workspace.policiesDir, 'order-desk', 'policy.yaml'))
        .replace(
          '  policies:',
          `  tools:\n    - server: sh\n      command: /bin/sh\n      args: ["-c", "touch ${startedMarker}"]\n  policies:`,
        )
        .concat(`# ${marker}\n`),
    );
    // Symbolic links in the agents folder pointing out of it: one to the agent, one to the secret.
    symlinkSync(outsideAgent, path.join(workspace.agentsDir, 'evil.yaml'));
    symlinkSync(secretFile, path.join(workspace.agentsDir, 'leak.yaml'));
    mkdirSync(path.join(workspace.agentsDir, 'nested'));
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: () => {},
      mcpAgents: ['order-desk'],
    });
    token = (await createApiToken(store, { principal: 'mallory@shop.example', roles: ['operator'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const runCount = async () => (await store.db.select({ n: count() }).from(runs))[0]!.n;

  const hostile = [
    outsideAgent,
    secretFile,
    '/etc/passwd',
    '/proc/self/environ',
    '../../outside/evil',
    `../${path.basename(outside)}/evil.yaml`,
    'evil', // a symbolic link out of the folder
    'leak', // a symbolic link to the secret
    '%2E%2E%2Fevil',
    '..%2Fevil',
    '..\\evil',
    'nested/../evil',
    'order-desk\u0000.yaml',
    'order-desk/../../evil',
    'Order-Desk',
    '',
  ];

  it('answers every path, traversal, link and encoding with 400 or 404, reads nothing outside and starts nothing', async () => {
    const before = await runCount();
    for (const agent of hostile) {
      const response = await fetch(`${server.url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent, input: 'hello' }),
      });
      const body = await response.text();
      expect([400, 404], `agent ${JSON.stringify(agent)} answered ${response.status}: ${body}`).toContain(response.status);
      expect(body).not.toContain(marker);
      expect(body).not.toContain('root:');
    }
    expect(await runCount()).toBe(before);
    expect(existsSync(startedMarker)).toBe(false);
    // The symbolic links are not agents of the folder: the listing shows only the real one.
    const listed = (await (await fetch(`${server.url}/v1/agents`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      agents: Array<{ name: string }>;
    };
    expect(listed.agents.map((agent) => agent.name)).toEqual(['order-desk']);
  });

  it('refuses paths in the runtime itself, not only at the HTTP door', async () => {
    const before = await runCount();
    for (const agent of [outsideAgent, 'evil', '../evil', secretFile]) {
      const error = await server.workspace.runtime
        .start(agent, 'hello', { principal: { id: 'mallory@shop.example', roles: ['operator'] } })
        .then(
          () => undefined,
          (thrown: Error & { code?: string }) => thrown,
        );
      expect(error?.code, `agent ${agent}`).toMatch(/^(NOT_FOUND|INPUT_INVALID)$/);
      expect(error?.message).not.toContain(marker);
    }
    expect(await runCount()).toBe(before);
    expect(existsSync(startedMarker)).toBe(false);
    // The named agent still runs.
    const ok = await fetch(`${server.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'order-desk', input: 'Where is my order?' }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { status: string }).status).toBe('completed');
  });

  it('offers MCP clients the configured agents only: a path as a tool name is an unknown tool', async () => {
    const client = new Client({ name: 'mallory', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
    );
    try {
      expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['approval_status', 'order-desk']);
      const before = await runCount();
      for (const name of [outsideAgent, '../evil', 'evil']) {
        const result = await client
          .callTool({ name, arguments: { input: 'hello' } })
          .catch((error: Error) => ({ isError: true, content: [{ type: 'text', text: error.message }] }));
        expect(result.isError).toBe(true);
        expect(JSON.stringify(result)).not.toContain(marker);
      }
      const nul = await client
        .callTool({ name: 'order-desk', arguments: { input: 'hello\u0000world' } })
        .catch((error: Error) => ({ isError: true, content: [{ type: 'text', text: error.message }] }));
      expect(nul.isError).toBe(true);
      expect(await runCount()).toBe(before);
    } finally {
      await client.close();
    }
    expect(existsSync(startedMarker)).toBe(false);
  });

  it('has the client SDK refuse a non-name before sending anything', async () => {
    const sent: string[] = [];
    const client = new AiFactoryClient({
      baseUrl: server.url,
      token,
      fetch: async (input, init) => (sent.push(String(input)), fetch(input, init)),
    });
    for (const agent of [outsideAgent, '../evil', 'a/b', 'x\u0000']) {
      expect(() => client.chat(agent)).toThrow(ApiError);
      await expect(client.ask(agent, 'hello')).rejects.toMatchObject({ status: 400, code: 'INPUT_INVALID', path: 'agent' });
    }
    expect(sent).toEqual([]);
  });
});

describe('HTTP hygiene', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  let token: string;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: (line) => logs.push(line),
      mcpAgents: ['order-desk'],
      allowedHosts: ['factory.internal'],
      failedAuthLimit: { burst: 20 },
    });
    token = (await createApiToken(store, { principal: 'alice@shop.example', roles: ['operator', 'auditor'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  it('refuses a foreign Host or Origin on loopback (DNS rebinding) on the API and on /mcp, and admits its own names', async () => {
    const auth = { authorization: `Bearer ${token}` };
    for (const route of ['/healthz', '/v1/me', '/mcp']) {
      const evil = await rawRequest(`${server.url}${route}`, { headers: { ...auth, host: 'evil.example.com' } });
      expect(evil.status, route).toBe(403);
      expect(JSON.parse(evil.body).error.message).toMatch(/Host "evil.example.com" is not one this server answers to/);
    }
    const rebound = await rawRequest(`${server.url}/v1/me`, { headers: { ...auth, host: `evil.example.com:${server.port}` } });
    expect(rebound.status).toBe(403);
    const foreignOrigin = await rawRequest(`${server.url}/v1/me`, {
      headers: { ...auth, host: `127.0.0.1:${server.port}`, origin: 'http://evil.example.com' },
    });
    expect(foreignOrigin.status).toBe(403);
    expect(JSON.parse(foreignOrigin.body).error.message).toMatch(/Origin "http:\/\/evil.example.com" may not call this server/);
    for (const host of ['local host/../x', 'user@localhost', 'localhost/evil']) {
      // Node's parser refuses some of these itself (400); none gets through.
      expect([400, 403], host).toContain((await rawRequest(`${server.url}/v1/me`, { headers: { ...auth, host } })).status);
    }
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, 'factory.internal']) {
      expect((await rawRequest(`${server.url}/v1/me`, { headers: { ...auth, host } })).status, host).toBe(200);
    }
    expect(
      (
        await rawRequest(`${server.url}/v1/me`, {
          headers: { ...auth, host: `localhost:${server.port}`, origin: `http://localhost:${server.port}` },
        })
      ).status,
    ).toBe(200);
    expect(logs.some((line) => line.event === 'auth.decided' && line.reason === 'bad_host')).toBe(true);
    // Allowed Host and Origin pairs are remembered; that never lets a foreign one through after them.
    for (let round = 0; round < 300; round += 1) {
      const host = `localhost:${round}`;
      expect((await rawRequest(`${server.url}/healthz`, { headers: { host } })).status, host).toBe(200);
    }
    expect((await rawRequest(`${server.url}/v1/me`, { headers: { ...auth, host: 'evil.example.com' } })).status).toBe(403);
    expect(
      (
        await rawRequest(`${server.url}/v1/me`, {
          headers: { ...auth, host: `localhost:${server.port}`, origin: 'http://evil.example.com' },
        })
      ).status,
    ).toBe(403);
  });

  it('answers NULs in input, ids or queries and malformed ids with 400 naming the problem, never 500', async () => {
    const call = (route: string, init: RequestInit = {}) =>
      fetch(`${server.url}${route}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    const nulInput = await call('/v1/runs', { method: 'POST', body: JSON.stringify({ agent: 'order-desk', input: 'refund\u0000please' }) });
    expect(nulInput.status).toBe(400);
    expect(((await nulInput.json()) as { error: { message: string } }).error.message).toMatch(/NUL/);
    // An escaped backslash before u0000 is text, not a NUL.
    const notNul = await call('/v1/runs', {
      method: 'POST',
      body: JSON.stringify({ agent: 'order-desk', input: 'path C:\\u0000 is fine' }),
    });
    expect(notNul.status).toBe(200);
    const cases: Array<[string, RegExp]> = [
      ['/v1/runs/run_1%00x', /control character/],
      ['/v1/runs/..%2F..%2Fetc%2Fpasswd', /is not a run id/],
      ['/v1/runs/run%20with%20spaces/verify', /is not a run id/],
      ['/v1/approvals/%00', /control character/],
      ['/v1/approvals/apr_%E0%A4%A', /malformed percent-encoding/],
      ['/v1/runs?agent=order%00desk', /control character/],
      ['/v1/approvals?runId=%00', /control character/],
    ];
    for (const [route, message] of cases) {
      // node:http sends the path as written (fetch would resolve %2E%2E before sending it).
      const response = await rawRequest(`${server.url}${route}`, {
        method: route.endsWith('/verify') ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${token}` },
      });
      const body = JSON.parse(response.body) as { error: { code: string; message: string } };
      expect(response.status, route).toBe(400);
      expect(body.error.code).toBe('INPUT_INVALID');
      expect(body.error.message, route).toMatch(message);
    }
    // The URL parser resolves an encoded `..` segment before routing: it lands on no route.
    expect((await rawRequest(`${server.url}/v1/runs/%2E%2E`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    // A well-formed id that does not exist is the usual 404.
    expect((await call('/v1/runs/run_00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('refuses our own token once it has expired, as it refuses a revoked one', async () => {
    const { token: shortLived } = await createApiToken(store, { principal: 'temp@shop.example', roles: ['operator'], expiresInMs: 3000 });
    expect((await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${shortLived}` } })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const expired = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${shortLived}` } });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('limits failed authentication per client address: 300 bad tokens in a row are not all answered, and 429 says when to retry', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let attempt = 0; attempt < 300; attempt += 1) {
      const response = await fetch(`${server.url}/v1/me`, {
        headers: { authorization: `Bearer aif_${String(attempt).padStart(43, 'x')}` },
      });
      statuses.push(response.status);
      if (response.status === 429) retryAfter ??= response.headers.get('retry-after');
      await response.arrayBuffer();
    }
    // One failure (the expired token above) was already counted against this address.
    expect(statuses.filter((status) => status === 401).length).toBe(19);
    expect(statuses.slice(19).every((status) => status === 429)).toBe(true);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // While the address is refused, even a good token from it waits (its token is not looked at).
    expect((await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(429);
    expect(logs.filter((line) => line.reason === 'failed_auth_limited').length).toBeGreaterThanOrEqual(280);
    // /mcp is behind the same door.
    expect(
      (
        await fetch(`${server.url}/mcp`, {
          method: 'POST',
          headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
          body: '{}',
        })
      ).status,
    ).toBe(429);
  });
});

describe('factory serve on a taken port', () => {
  let blocker: NetServer;
  const workspace = prepareBusinessWorkspace();

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    rmSync(workspace.root, { recursive: true, force: true });
  });

  it('exits 3 with a message naming the port instead of running on', async () => {
    const port = (blocker.address() as AddressInfo).port;
    const child = spawn(
      process.execPath,
      [
        path.join(here, '..', '..', 'cli', 'dist', 'factory.mjs'),
        'serve',
        '--port',
        String(port),
        '--agents',
        workspace.agentsDir,
        '--policies',
        workspace.policiesDir,
      ],
      {
        env: {
          PATH: process.env.PATH ?? '',
          AIFACTORY_HOME: workspace.dataDir,
          // The tests' initialised store to start from (test/pglite-template.setup.ts).
          ...(process.env.AIFACTORY_PGLITE_TEMPLATE ? { AIFACTORY_PGLITE_TEMPLATE: process.env.AIFACTORY_PGLITE_TEMPLATE } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // Generous: the embedded store is created first, which is slow on a loaded machine.
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(timer);
    expect(code).toBe(3);
    expect(stderr).toMatch(new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}: .* is already in use`));
  }, 180_000);
});
