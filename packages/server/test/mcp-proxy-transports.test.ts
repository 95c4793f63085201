// The governing proxy as users run it: Streamable HTTP on both sides (the SDK client and the MCP
// Inspector CLI with a bearer token, the reference `everything` server as upstream over Streamable
// HTTP), `factory mcp proxy`
// over stdio driven by the official SDK client against the reference `everything` server over
// stdio, and by the official MCP Inspector CLI against the reference memory server.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicies, parsePolicy } from '@aifactory/control';
import { resolvePackageBin } from '@aifactory/execution';
import { openStore, sql, type Store } from '@aifactory/store';
import { approvals, runs } from '@aifactory/store/schema';
import { readRunEvents, verifyRun } from '@aifactory/verification';
import { freshSchema, postgresUrl } from '../../verification/test/engines.ts';
import { workspaceConfigAt } from '@aifactory/workspace';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { eq } from 'drizzle-orm';
import {
  GoverningMcpProxy,
  connectUpstream,
  createApiToken,
  governanceMetaKey,
  proxyHttpEndpoint,
  startServer,
  type RunningServer,
} from '../src/index.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const repositoryRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const executionPackage = path.join(repositoryRoot, 'packages', 'execution');
const everythingServer = resolvePackageBin('@modelcontextprotocol/server-everything', { from: [executionPackage] }).script;
const memoryServer = resolvePackageBin('@modelcontextprotocol/server-memory', { from: [executionPackage] }).script;
const inspector = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/inspector/package.json')),
  'clients',
  'launcher',
  'build',
  'index.js',
);
const factory = path.join(repositoryRoot, 'packages', 'cli', 'dist', 'factory.mjs');

const policy = `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: {name: everything-proxy, version: 1, owner: risk@example.com}
spec:
  default: deny
  rules:
    - id: echo
      match: {kind: tool, name: everything.echo}
      authority: autonomous
    - id: sums-need-a-checker
      match: {kind: tool, name: everything.get-sum}
      authority: require_approval
      approvers: {roles: [checker], count: 1, separation_of_duties: true}
`;

/** A free ephemeral port (the everything server takes its port from PORT, and reports 0 as 0). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function text(result: unknown): string {
  return ((result as CallToolResult).content ?? []).map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

describe('governing MCP proxy over Streamable HTTP, upstream over Streamable HTTP', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'aifactory-mcp-proxy-http-'));
  let upstreamProcess: ChildProcess;
  let upstreamUrl: URL;
  let store: Store;
  let server: RunningServer;
  let proxy: GoverningMcpProxy | undefined;

  beforeAll(async () => {
    const port = await freePort();
    upstreamProcess = spawn(process.execPath, [everythingServer, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      upstreamProcess.stderr!.on('data', (chunk: Buffer) => {
        if (/listening on port/i.test(chunk.toString())) resolve();
      });
      upstreamProcess.once('exit', (code) => reject(new Error(`the everything server exited (${code})`)));
    });
    upstreamUrl = new URL(`http://127.0.0.1:${port}/mcp`);
    store = await openStore();
    const upstream = await connectUpstream({ kind: 'http', url: upstreamUrl });
    server = await startServer({
      store,
      config: workspaceConfigAt(home),
      port: 0,
      log: () => undefined,
      mcpEndpoint: (workspace) => {
        proxy = new GoverningMcpProxy({
          workspace,
          upstream,
          name: 'everything',
          policies: () => compilePolicies([parsePolicy(policy, 'policy.yaml')]),
        });
        const endpoint = proxyHttpEndpoint(proxy);
        return { handle: (request, principal) => endpoint.handle(request, principal), close: () => endpoint.close() };
      },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await store?.close();
    if (upstreamProcess?.pid) process.kill(upstreamProcess.pid);
    rmSync(home, { recursive: true, force: true });
  });

  it('lists what the policy allows, runs allowed calls, holds others until an approver votes over HTTP, and seals the session run', async () => {
    const token = (await createApiToken(store, { principal: 'app@example.com', roles: ['operator'] })).token;
    const checker = (await createApiToken(store, { principal: 'carol@example.com', roles: ['approver', 'checker'] })).token;
    const auditor = (await createApiToken(store, { principal: 'audrey@example.com', roles: ['auditor'] })).token;
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    const client = new Client({ name: 'http-proxy-test', version: '1.0.0' });
    await client.connect(transport);
    expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['echo', 'get-sum']);
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'hello' } }))).toMatch(/hello/);

    const held = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
    const meta = (held._meta as Record<string, { status: string; approvalId: string; runId: string }>)[governanceMetaKey]!;
    expect(meta.status).toBe('pending_approval');
    const vote = await fetch(`${server.url}/v1/approvals/${meta.approvalId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${checker}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(vote.status).toBe(200);
    expect(await vote.json()).toMatchObject({ result: 'approved', resumed: false });
    expect(text(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }))).toMatch(/5/);

    // A tool the policy denies by default is neither listed nor callable.
    const denied = await client.callTool({ name: 'get-env', arguments: {} });
    expect(denied.isError).toBe(true);
    expect(text(denied)).toMatch(/denied/);

    await transport.terminateSession();
    await client.close();
    let status: string | undefined;
    for (let attempt = 0; attempt < 50 && status !== 'completed'; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await store.db.select({ status: runs.status }).from(runs).where(eq(runs.id, meta.runId)))[0]?.status;
    }
    expect(status).toBe('completed');
    const verified = await fetch(`${server.url}/v1/runs/${meta.runId}/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auditor}` },
    });
    expect(await verified.json()).toMatchObject({ report: { ok: true, sealed: true, status: 'completed' } });
  }, 60_000);

  it('serves the MCP Inspector CLI over Streamable HTTP with a bearer token: the allowed tools, a call passed through, a held call pending with its approval id', async () => {
    const token = (await createApiToken(store, { principal: 'inspector-http@example.com', roles: ['operator'] })).token;
    const inspect = (...methodArgs: string[]) =>
      run(
        process.execPath,
        [
          inspector,
          '--cli',
          `${server.url}/mcp`,
          '--transport',
          'http',
          '--header',
          `Authorization: Bearer ${token}`,
          '--connect-timeout',
          '60000',
          ...methodArgs,
        ],
        { timeout: 120_000 },
      );
    const listed = JSON.parse((await inspect('--method', 'tools/list')).stdout) as { tools: Array<{ name: string }> };
    expect(listed.tools.map((tool) => tool.name).sort()).toEqual(['echo', 'get-sum']);
    expect((await inspect('--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=inspected')).stdout).toMatch(/inspected/);
    // A pending result is marked isError; the Inspector prints it and exits non-zero for the flag.
    const failure = (await inspect('--method', 'tools/call', '--tool-name', 'get-sum', '--tool-arg', 'a=4', '--tool-arg', 'b=5').then(
      () => undefined,
      (error: { stdout?: string }) => error,
    )) as { stdout: string } | undefined;
    expect(failure?.stdout).toMatch(/pending_approval/);
    const approvalId = /apr_[0-9a-f]+/.exec(failure!.stdout)?.[0];
    const [approval] = await store.db.select().from(approvals).where(eq(approvals.id, approvalId!));
    expect(approval).toMatchObject({ status: 'pending', requestedBy: 'inspector-http@example.com' });
  }, 300_000);
});

describe('factory mcp proxy over stdio with the official SDK client', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'aifactory-mcp-proxy-stdio-'));
  const policyFile = path.join(home, 'everything.yaml');
  writeFileSync(policyFile, policy);
  // The record is read back on Postgres (when configured): an embedded store stays locked by the
  // proxy process until it has gone.
  const schema = postgresUrl ? freshSchema('mcpproxystdio') : undefined;
  const storeEnv: Record<string, string> = schema ? { DATABASE_URL: postgresUrl!, AIFACTORY_DB_SCHEMA: schema } : {};
  const openTestStore = () =>
    schema ? openStore({ databaseUrl: postgresUrl!, schema }) : openStore({ dataDir: path.join(home, 'data', 'pglite') });
  beforeAll(async () => {
    await (await openTestStore()).close();
  }, 120_000);
  afterAll(async () => {
    if (schema) {
      const store = await openTestStore();
      await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
      await store.close();
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('lists what the policy allows, passes an allowed call through, denies, returns a held call pending with its approval id, and seals the run when the client leaves', async () => {
    const environment = Object.fromEntries(
      Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        factory,
        'mcp',
        'proxy',
        '--upstream',
        `"${process.execPath}" "${everythingServer}" stdio`,
        '--policy',
        policyFile,
        '--name',
        'everything',
        '--principal',
        'app@example.com',
      ],
      env: { ...environment, AIFACTORY_HOME: path.join(home, 'data'), ...storeEnv },
      cwd: home,
      stderr: 'pipe',
    });
    let diagnostics = '';
    transport.stderr?.on('data', (chunk: Buffer) => (diagnostics += chunk.toString()));
    const client = new Client({ name: 'stdio-proxy-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['echo', 'get-sum']);
      expect(text(await client.callTool({ name: 'echo', arguments: { message: 'hello over stdio' } }))).toMatch(/hello over stdio/);
      const denied = await client.callTool({ name: 'get-env', arguments: {} });
      expect(denied.isError).toBe(true);
      expect(text(denied)).toMatch(/denied/);
      const held = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
      expect(held.isError).toBe(true);
      const meta = (held._meta as Record<string, { status: string; approvalId: string; runId: string }>)[governanceMetaKey]!;
      expect(meta.status).toBe('pending_approval');
      expect(meta.approvalId).toMatch(/^apr_/);
      await client.close();
      if (!schema) return;
      const store = await openTestStore();
      try {
        let status: string | undefined;
        for (let attempt = 0; attempt < 100 && status !== 'completed'; attempt += 1) {
          if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
          status = (await store.db.select({ status: runs.status }).from(runs).where(eq(runs.id, meta.runId)))[0]?.status;
        }
        expect(status, diagnostics).toBe('completed');
        const [approval] = await store.db.select().from(approvals).where(eq(approvals.id, meta.approvalId));
        expect(approval).toMatchObject({
          status: 'pending',
          requestedBy: 'app@example.com',
          action: { kind: 'tool', name: 'everything.get-sum', args: { a: 2, b: 3 } },
        });
        const types: string[] = [];
        for await (const event of readRunEvents(store, meta.runId)) types.push(event.type);
        // The allowed call was decided and its intent recorded before it ran, and its outcome after.
        const echo = types.indexOf('tool.called');
        expect(types[echo - 1]).toBe('policy.decided');
        expect(types.slice(echo)).toContain('tool.returned');
        expect(types).toContain('approval.requested');
        expect((await verifyRun(store, meta.runId)).ok).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 300_000);
});

describe('factory mcp proxy over stdio with the MCP Inspector CLI', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'aifactory-mcp-proxy-inspector-'));
  const policyFile = path.join(home, 'memory.yaml');
  writeFileSync(
    policyFile,
    `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: {name: memory, version: 1}
spec:
  default: require_approval
  rules:
    - {id: reads, match: {kind: tool, name: ["mem.read_graph", "mem.search_nodes"]}, authority: autonomous}
    - {id: no-relation-deletes, match: {kind: tool, name: mem.delete_relations}, authority: deny, reason: Relations stay.}
`,
  );
  // On Postgres (when configured) the record is read back afterwards: the Inspector ends each
  // proxy process with signals, and an embedded store killed mid-close may not have written its
  // files. Either way the store is migrated once here, so each proxy process opens it in moments.
  const schema = postgresUrl ? freshSchema('mcpproxyinsp') : undefined;
  const storeEnv: Record<string, string> = schema ? { DATABASE_URL: postgresUrl!, AIFACTORY_DB_SCHEMA: schema } : {};
  const openTestStore = () =>
    schema ? openStore({ databaseUrl: postgresUrl!, schema }) : openStore({ dataDir: path.join(home, 'data', 'pglite') });
  beforeAll(async () => {
    await (await openTestStore()).close();
  }, 120_000);
  afterAll(async () => {
    if (schema) {
      const store = await openTestStore();
      await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
      await store.close();
    }
    rmSync(home, { recursive: true, force: true });
  });
  const inspect = (...methodArgs: string[]) =>
    run(
      process.execPath,
      [
        inspector,
        '--cli',
        '--connect-timeout',
        '90000',
        '--cwd',
        home,
        // The Inspector gives the server only the variables it is told (besides PATH and the like).
        ...Object.entries({ AIFACTORY_HOME: path.join(home, 'data'), ...storeEnv }).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
        process.execPath,
        factory,
        'mcp',
        'proxy',
        '--upstream',
        `"${process.execPath}" "${memoryServer}"`,
        '--upstream-env',
        `MEMORY_FILE_PATH=${path.join(home, 'memory.jsonl')}`,
        '--policy',
        policyFile,
        '--name',
        'mem',
        '--principal',
        'inspector@example.com',
        ...methodArgs,
      ],
      { timeout: 120_000 },
    );

  it('lists the allowed tools, passes a read through, and returns a held call as pending with its approval id', async () => {
    const listed = JSON.parse((await inspect('--method', 'tools/list')).stdout) as { tools: Array<{ name: string }> };
    const names = listed.tools.map((tool) => tool.name);
    expect(names).toContain('read_graph');
    expect(names).not.toContain('delete_relations');
    expect((await inspect('--method', 'tools/call', '--tool-name', 'read_graph')).stdout).toMatch(/entities/);
    // The proxy marks a pending result isError (so no client takes it for the tool's output); the
    // Inspector prints it, then exits non-zero for the flag.
    const failure = (await inspect('--method', 'tools/call', '--tool-name', 'delete_entities', '--tool-arg', 'entityNames=["Ada"]').then(
      () => undefined,
      (error: { stdout?: string }) => error,
    )) as { stdout: string } | undefined;
    expect(failure?.stdout).toMatch(/pending_approval/);
    const approvalId = /apr_[0-9a-f]+/.exec(failure!.stdout)?.[0];
    expect(approvalId).toBeDefined();
    if (!schema) return;
    const store = await openTestStore();
    try {
      const [approval] = await store.db.select().from(approvals).where(eq(approvals.id, approvalId!));
      expect(approval).toMatchObject({
        status: 'pending',
        requestedBy: 'inspector@example.com',
        action: { kind: 'tool', name: 'mem.delete_entities', args: { entityNames: ['Ada'] } },
      });
      const recorded = await store.db.select({ agent: runs.agent }).from(runs);
      expect(recorded.length).toBeGreaterThanOrEqual(3);
      expect(recorded.every((row) => row.agent === 'mcp:mem')).toBe(true);
    } finally {
      await store.close();
    }
  }, 400_000);
});
