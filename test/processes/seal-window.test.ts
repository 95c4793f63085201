// A worker SIGKILLed between a run's end and its seal. A run ends in two commits: run.completed is
// appended, then the final seal is linked into the seal chain (which also sets the run's status and
// hands its lease back). A process that dies between the two leaves a run whose trace says it
// completed while its row still reads running. The test holds the window open for real — it locks
// the seals table, so the worker's seal waits — kills the worker there, and checks that another
// worker seals the run (without running it again or recording a second end) and that it verifies.
import { randomBytes } from 'node:crypto';
import { openStore, type Store } from '@aifactory/store';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCourierWorkspace,
  createToken,
  runIn,
  startUntil,
  waitFor,
  type CourierWorkspace,
  type FactoryProcess,
} from '../fixtures/courier-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

describe.skipIf(!databaseUrl)('a worker killed between run.completed and its seal (real processes, Postgres)', () => {
  let workspace: CourierWorkspace;
  const schema = `t_sealgap_${randomBytes(4).toString('hex')}`;
  const started: FactoryProcess[] = [];
  let store: Store;

  beforeAll(async () => {
    workspace = createCourierWorkspace({ databaseUrl: databaseUrl!, schema, leaseMs: 2000, waitMs: 1500 });
    store = await openStore({ databaseUrl: databaseUrl!, schema, maxConnections: 3 });
  });
  afterAll(async () => {
    await Promise.all(started.map((process) => process.stop('SIGKILL')));
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`)).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
    await store?.close();
    workspace?.remove();
  });

  it('another worker seals the run: it reads completed, ended once, wrote once, and verifies', { timeout: 600_000 }, async () => {
    const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
    const serve = await startUntil(workspace, ['serve', '--queue', '--port', '0'], /serving\S*\s+(http:\/\/\S+)/);
    started.push(serve);
    const first = await startUntil(workspace, ['worker', '--concurrency', '1'], /worker\S* ready/);
    started.push(first);
    const answer = fetch(`${serve.match[1]}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'courier', input: 's-sealgap' }),
    }).then(async (reply) => (await reply.json()) as { runId: string; status: string });
    await waitFor(() => workspace.calls().some((call) => call.key === 's-sealgap' && call.tool === 'wait'), 'the run to be mid-step');
    const [run] = await store.query<{ id: string }>(sql`SELECT id FROM runs WHERE input->>'text' = 's-sealgap'`);
    const runId = run!.id;

    // Hold the window open: while this transaction locks the seals table against writes, the worker
    // records run.completed and then waits on its seal. It is killed there.
    if (store.driver.kind !== 'postgres') throw new Error('this test needs Postgres');
    let unlock!: () => void;
    const unlocked = new Promise<void>((resolve) => (unlock = resolve));
    let locked!: () => void;
    const lockHeld = new Promise<void>((resolve) => (locked = resolve));
    const holding = store.driver.client.begin(async (tx) => {
      await tx.unsafe(`LOCK TABLE "${schema}".seals IN EXCLUSIVE MODE`);
      locked();
      await unlocked;
    });
    await lockHeld;
    try {
      await waitFor(async () => {
        const ended = await store.query<{ n: number }>(
          sql`SELECT count(*)::int AS n FROM events WHERE run_id = ${runId} AND type = 'run.completed'`,
        );
        return ended[0]!.n === 1;
      }, 'the worker to record run.completed');
      // Give the seal time to be asked for (it waits on the lock), then kill the worker in between.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await first.stop('SIGKILL');
    } finally {
      unlock();
      await holding;
    }
    const [between] = await store.query<{ status: string; seals: number }>(
      sql`SELECT status, (SELECT count(*)::int FROM seals WHERE run_id = ${runId} AND kind = 'final') AS seals FROM runs WHERE id = ${runId}`,
    );
    // The window was hit: the trace says completed, the row and the seal chain do not (yet).
    expect(between).toEqual({ status: 'running', seals: 0 });

    const second = await startUntil(workspace, ['worker', '--concurrency', '1'], /worker\S* ready/);
    started.push(second);
    await waitFor(async () => {
      const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`);
      return row!.status === 'completed';
    }, 'another worker to seal the run').catch((error: Error) => {
      throw new Error(`${error.message}\nworker: ${second.stderr().slice(-3000)}`);
    });

    const ends = await store.query<{ type: string }>(
      sql`SELECT type FROM events WHERE run_id = ${runId} AND type IN ('run.completed', 'run.failed', 'run.recovered')`,
    );
    // Ended once, and nothing was appended after its end.
    expect(ends.map((event) => event.type)).toEqual(['run.completed']);
    const [sealed] = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM seals WHERE run_id = ${runId} AND kind = 'final'`);
    expect(sealed!.n).toBe(1);
    // Its lease was handed back with the seal, not left to lapse.
    const [lease] = await store.query<{ state: string }>(sql`SELECT state FROM run_leases WHERE run_id = ${runId}`);
    expect(lease!.state).toBe('released');
    // The write happened once, in the first worker.
    expect(
      workspace
        .calls()
        .filter((call) => call.key === 's-sealgap' && call.tool === 'write')
        .map((call) => call.pid),
    ).toEqual([first.pid]);
    expect((await answer).status).toBe('completed');
    const verified = await runIn(workspace, ['runs', 'verify', runId]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const all = await runIn(workspace, ['runs', 'verify', '--all']);
    expect(all.code, all.stdout + all.stderr).toBe(0);
    await second.stop('SIGTERM');
    await serve.stop('SIGTERM');
  });
});
