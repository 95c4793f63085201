// A `factory mcp proxy` process killed mid-session leaves its session run open with a lapsing
// lease. `factory serve`'s recovery finds it, but no agent of ours can continue a session another
// program drove: the run is ended as failed, once — not retried on every look, forever. Real
// processes on Postgres: the proxy over stdio with the official SDK client in front of the
// reference memory server, SIGKILL, then a server with recovery on over the same store.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolvePackageBin } from '@aifactory/execution';
import { openStore, sql, type Store } from '@aifactory/store';
import { runs } from '@aifactory/store/schema';
import { readRunEvents } from '@aifactory/verification';
import { workspaceConfigAt } from '@aifactory/workspace';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSchema, postgresUrl } from '../../verification/test/engines.ts';
import { startServer, type RunningServer } from '../src/index.ts';

const repositoryRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const memoryServer = resolvePackageBin('@modelcontextprotocol/server-memory', {
  from: [path.join(repositoryRoot, 'packages', 'execution')],
}).script;
const factory = path.join(repositoryRoot, 'packages', 'cli', 'dist', 'factory.mjs');

describe.skipIf(!postgresUrl)('recovery of a dead MCP proxy\u2019s session run', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'aifactory-proxy-recovery-'));
  const schema = freshSchema('proxyrecovery');
  const policyFile = path.join(home, 'memory.yaml');
  let store: Store;
  let server: RunningServer | undefined;
  let client: Client | undefined;

  beforeAll(async () => {
    writeFileSync(
      policyFile,
      `apiVersion: aifactory/v1\nkind: AutonomyPolicy\nmetadata: {name: memory, version: 1}\nspec:\n  default: autonomous\n`,
    );
    store = await openStore({ databaseUrl: postgresUrl!, schema });
  }, 120_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await server?.close();
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    await store?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('ends the session run of a proxy killed mid-session as failed, once, instead of trying to recover it on every look', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
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
        'agent@example.com',
      ],
      env: {
        ...(process.env as Record<string, string>),
        AIFACTORY_HOME: path.join(home, 'data'),
        DATABASE_URL: postgresUrl!,
        AIFACTORY_DB_SCHEMA: schema,
        AIFACTORY_LEASE_MS: '1000',
      },
      stderr: 'ignore',
    });
    client = new Client({ name: 'recovery-test', version: '1.0.0' });
    await client.connect(transport);
    const created = await client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }] },
    });
    expect(created.isError).not.toBe(true);
    const [session] = await store.db.select({ id: runs.id, status: runs.status }).from(runs).where(eq(runs.agent, 'mcp:mem'));
    expect(session?.status).toBe('running');

    process.kill(transport.pid!, 'SIGKILL');
    await client.close().catch(() => undefined);
    client = undefined;

    const recoveries: Array<Record<string, unknown>> = [];
    server = await startServer({
      store,
      config: workspaceConfigAt(path.join(home, 'data'), { store: { databaseUrl: postgresUrl!, schema } }),
      port: 0,
      llmGateway: false,
      recovery: { intervalMs: 100 },
      log: (line) => {
        if (line.event === 'run.recovery' && line.runId === session!.id) recoveries.push(line);
      },
    });
    const deadline = Date.now() + 30_000;
    let status = 'running';
    while (status === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await store.db.select({ status: runs.status }).from(runs).where(eq(runs.id, session!.id)))[0]!.status;
    }
    expect(status).toBe('failed');
    // Many more looks: none of them tries the run again.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(recoveries).toEqual([expect.objectContaining({ outcome: 'closed' })]);
    const events: Array<{ type: string; payload: Record<string, unknown> }> = [];
    for await (const event of readRunEvents(store, session!.id))
      events.push({ type: event.type, payload: JSON.parse(event.payloadText ?? '{}') as Record<string, unknown> });
    // The call's outcome was buffered for the session's next commit when the proxy died: its
    // intent is on the record and its outcome is not, so run.failed names it for a human to check.
    expect(events.map((event) => event.type)).toEqual(['run.started', 'tool.pinned', 'policy.decided', 'tool.called', 'run.failed']);
    expect(events.at(-1)).toMatchObject({
      type: 'run.failed',
      payload: {
        error: expect.stringMatching(/Closed by recovery: the process that governed this mcp:mem session ended/),
        in_doubt: [{ kind: 'tool', name: 'mem.create_entities' }],
      },
    });
  }, 180_000);
});
