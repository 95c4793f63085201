// A run started on `factory serve --queue` (Postgres) is recorded and queued in one commit: its first
// event goes out only once both are durable, and a start whose job cannot be queued is not recorded
// at all (before, the run was acknowledged and its job added afterwards, so a crash or a failing
// queue between the two left a run nobody was asked to drive).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerSentEvents } from '@aifactory/client';
import { openStore, sql, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { RunQueue, queueSchemaFor, workspaceConfigAt } from '@aifactory/workspace';

const agentsDir = path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'recovery', 'agents');
const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

describe.skipIf(!databaseUrl)('starting a run with workers (serve --queue, Postgres)', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'aifactory-queued-start-'));
  const schema = `t_qstart_${Math.random().toString(16).slice(2, 10)}`;
  const jobs = queueSchemaFor(schema);
  let store: Store;
  let queue: RunQueue;
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    // The agent's tool server is configured from these (it never starts here: no worker runs).
    process.env.NODE_BINARY = process.execPath;
    process.env.CALLS_FILE = path.join(scratch, 'calls.jsonl');
    store = await openStore({ databaseUrl: databaseUrl!, schema });
    queue = await RunQueue.open({ databaseUrl: databaseUrl!, storeSchema: schema, log: () => {} });
    server = await startServer({ store, config: workspaceConfigAt(scratch, { agentsDir }), port: 0, log: () => {}, queue });
    token = (await createApiToken(store, { principal: 'olga@example.com', roles: ['operator'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await queue?.close();
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS "${jobs}" CASCADE`)).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).catch(() => undefined);
    await store?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Starts a streaming run; resolves with the answer's status and, for a stream, the run id of its first event. */
  const start = async (input: string) => {
    const response = await fetch(`${server.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ agent: 'ledger-keeper', input }),
    });
    if (response.status !== 200) return { status: response.status, body: await response.text() };
    const reader = parseServerSentEvents(response.body!)[Symbol.asyncIterator]();
    const first = (await reader.next()).value as { data: string };
    // No worker runs here: the stream would wait for one forever.
    await reader.return?.(undefined);
    return { status: 200, first: JSON.parse(first.data) as { type: string; runId: string } };
  };

  const jobOf = async (runId: string) =>
    (await store.query<{ n: number }>(sql.raw(`SELECT count(*)::int AS n FROM "${jobs}"._private_jobs WHERE key = 'run:${runId}'`)))[0]!.n;

  it('sends the first event only once the run and its drive job are both committed', async () => {
    const started = await start('keep the ledger');
    expect(started.status).toBe(200);
    expect(started.first).toMatchObject({ type: 'run.started' });
    expect(await jobOf(started.first!.runId)).toBe(1);
  });

  it('records nothing and acknowledges nothing when the job cannot be queued', async () => {
    await store.query(sql.raw(`ALTER FUNCTION "${jobs}".add_jobs("${jobs}".job_spec[], boolean) RENAME TO add_jobs_gone`));
    try {
      const refused = await start('lost between start and queue');
      expect(refused.status, JSON.stringify(refused)).toBeGreaterThanOrEqual(500);
      const rows = await store.query<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM runs WHERE input->>'text' = ${'lost between start and queue'}`,
      );
      expect(rows[0]!.n).toBe(0);
    } finally {
      await store.query(sql.raw(`ALTER FUNCTION "${jobs}".add_jobs_gone("${jobs}".job_spec[], boolean) RENAME TO add_jobs`));
    }
  });
});
