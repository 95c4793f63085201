// Agents as MCP servers, tested with the official SDK client over both transports: Streamable
// HTTP behind an API token (the token's principal runs the agent) and stdio through the
// `factory mcp serve` command (the configured principal runs it). A held action comes back as
// a pending result carrying the approval id.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { openStore, type Store } from '@aifactory/store';
import { runs } from '@aifactory/store/schema';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { eq } from 'drizzle-orm';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('factory mcp serve over Streamable HTTP', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir }),
      port: 0,
      mcpAgents: ['order-desk'],
      log: () => undefined,
    });
    token = (await createApiToken(store, { principal: 'claude-desktop@shop.example', roles: ['operator'] })).token;
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  const connect = async (bearer?: string) => {
    const client = new Client({ name: 'sdk-test-client', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(
      new URL(`${server.url}/mcp`),
      bearer ? { requestInit: { headers: { authorization: `Bearer ${bearer}` } } } : {},
    );
    await client.connect(transport);
    return client;
  };

  it('lists each agent as a tool, runs it governed as the token\u2019s principal, and returns a held refund as pending_approval', async () => {
    const client = await connect(token);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual(['approval_status', 'order-desk']);
      expect(tools.find((tool) => tool.name === 'order-desk')!.inputSchema.required).toEqual(['input']);

      const progress: string[] = [];
      const answered = await client.callTool({ name: 'order-desk', arguments: { input: 'Where is my parcel?' } }, undefined, {
        onprogress: (note) => void progress.push(note.message ?? ''),
      });
      expect(answered.isError).toBeFalsy();
      expect(answered.structuredContent).toMatchObject({ status: 'completed', answer: expect.stringMatching(/arrives on Friday/) });
      expect(progress).toEqual(expect.arrayContaining([expect.stringMatching(/^answer answer: autonomous$/)]));
      const runId = String((answered.structuredContent as { runId: string }).runId);
      const [row] = await store.db.select().from(runs).where(eq(runs.id, runId));
      expect(row!.principal).toBe('claude-desktop@shop.example');

      const held = await client.callTool({ name: 'order-desk', arguments: { input: 'I need a refund' } });
      const structured = held.structuredContent as { status: string; approvalId: string; action: { kind: string } };
      expect(structured.status).toBe('pending_approval');
      expect(structured.approvalId).toMatch(/^apr_/);
      expect(structured.action.kind).toBe('answer');
      expect((held.content as Array<{ text: string }>)[0]!.text).toContain(structured.approvalId);

      const status = await client.callTool({ name: 'approval_status', arguments: { approvalId: structured.approvalId } });
      expect(status.structuredContent).toMatchObject({ status: 'pending', approvalId: structured.approvalId });
    } finally {
      await client.close();
    }
  });

  it('asks through elicitation only a caller who may vote; the requester is told who may approve, and approval_status returns the answer once the run completes', async () => {
    const client = new Client({ name: 'eliciting-client', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(String(request.params.message));
      return { action: 'accept', content: { approve: true } };
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
    );
    try {
      const held = await client.callTool({ name: 'order-desk', arguments: { input: 'I need a refund' } });
      const { approvalId } = held.structuredContent as { approvalId: string };
      // The caller started the run and holds no support-lead role: asking them would be refused.
      expect(asked).toEqual([]);
      const text = (held.content as Array<{ text: string }>)[0]!.text;
      expect(text).toMatch(/An approver with role support-lead other than claude-desktop@shop\.example/);
      expect(text).toContain(`factory approvals approve ${approvalId} --as "$USER" --role support-lead`);

      const lead = (await createApiToken(store, { principal: 'lena@shop.example', roles: ['approver', 'support-lead'] })).token;
      const vote = await fetch(`${server.url}/v1/approvals/${approvalId}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${lead}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(vote.status).toBe(200);
      let status: { status: string; run?: { status: string; answer?: string } } = { status: 'pending' };
      for (let attempt = 0; attempt < 100 && status.run?.status !== 'completed'; attempt += 1) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        status = (await client.callTool({ name: 'approval_status', arguments: { approvalId } })).structuredContent as typeof status;
      }
      expect(status.run).toMatchObject({ status: 'completed', answer: expect.stringMatching(/refund/) });
    } finally {
      await client.close();
    }
  });

  it('refuses a client without a valid token before any MCP exchange', async () => {
    await expect(connect()).rejects.toThrow(/401|Unauthorized|bearer/i);
    await expect(connect('aif_notarealtokenatallnotarealtoken')).rejects.toThrow(/401|Unauthorized|bearer/i);
  });
});

describe('factory mcp serve over stdio', () => {
  const workspace = prepareBusinessWorkspace();
  afterAll(() => rmSync(workspace.root, { recursive: true, force: true }));

  it('serves the agent to the SDK client over stdio with the configured principal', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        path.join(here, '..', '..', 'cli', 'dist', 'factory.mjs'),
        'mcp',
        'serve',
        'order-desk',
        '--agents',
        workspace.agentsDir,
        '--principal',
        'ops-bot@shop.example',
      ],
      env: {
        PATH: process.env.PATH ?? '',
        AIFACTORY_HOME: workspace.dataDir,
        // The tests' initialised store to start from (test/pglite-template.setup.ts).
        ...(process.env.AIFACTORY_PGLITE_TEMPLATE ? { AIFACTORY_PGLITE_TEMPLATE: process.env.AIFACTORY_PGLITE_TEMPLATE } : {}),
      },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'stdio-test-client', version: '1.0.0' });
    await client.connect(transport);
    let runId: string;
    try {
      const result = await client.callTool({ name: 'order-desk', arguments: { input: 'refund please' } });
      const structured = result.structuredContent as { status: string; approvalId: string; runId: string };
      expect(structured.status).toBe('pending_approval');
      expect(structured.approvalId).toMatch(/^apr_/);
      runId = structured.runId;
      const invalid = await client.callTool({ name: 'order-desk', arguments: {} });
      expect(invalid.isError).toBe(true);
    } finally {
      await client.close();
    }
    // The run was recorded under the configured principal in the workspace store.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const store = await openStore({ dataDir: path.join(workspace.dataDir, 'pglite') });
    try {
      const [row] = await store.db.select().from(runs).where(eq(runs.id, runId));
      expect(row?.principal).toBe('ops-bot@shop.example');
      expect(row?.status).toBe('held');
    } finally {
      await store.close();
    }
  });
});
