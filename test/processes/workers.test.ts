// `factory worker` and `factory serve --queue` as an operator runs them: one API server that
// accepts and streams runs, workers that drive them off the Postgres job queue, approvals given
// over HTTP and applied by a worker, a worker stopped with SIGTERM in the middle of a step that
// hands its run back at a fresh checkpoint, and the embedded store refused with a clear error.
import { randomBytes } from 'node:crypto';
import { openStore, type Store } from '@aifactory/store';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createCourierWorkspace,
  createToken,
  runIn,
  startUntil,
  waitFor,
  type CourierWorkspace,
  type FactoryProcess,
} from '../fixtures/courier-workspace.ts';
import { createTallyWorkspace, factory } from '../fixtures/tally-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

describe('workers on the embedded store', () => {
  it('factory worker and serve --queue refuse the embedded store, saying why and what to do, before opening it', async () => {
    const workspace = createTallyWorkspace();
    try {
      const worker = await factory(workspace, ['worker']);
      expect(worker.code).toBe(2);
      expect(worker.stderr).toContain('factory worker needs a Postgres store: set DATABASE_URL');
      expect(worker.stderr).toContain('one process by design');
      const serve = await factory(workspace, ['serve', '--queue', '--port', '0']);
      expect(serve.code).toBe(2);
      expect(serve.stderr).toContain('--queue needs a Postgres store (set DATABASE_URL)');
      const json = await factory(workspace, ['worker', '--concurrency', '0']);
      expect(json.code).toBe(2);
      expect(json.stderr).toContain("--concurrency '0' is invalid");
    } finally {
      workspace.remove();
    }
  });
});

describe.skipIf(!databaseUrl)('workers on Postgres (real processes)', () => {
  let workspace: CourierWorkspace;
  const schema = `t_workers_${randomBytes(4).toString('hex')}`;
  const started: FactoryProcess[] = [];
  let store: Store;

  beforeAll(async () => {
    // Leases of 10 s, not the fixture's 2 s: nothing here is about a lease lapsing, and a whole-suite
    // run at load 20-30 can stall a process past 2 s, when another process rightly takes its run
    // over (fencing) and the runs' calls no longer come from the process these tests expect.
    workspace = createCourierWorkspace({ databaseUrl: databaseUrl!, schema, leaseMs: 10_000 });
    store = await openStore({ databaseUrl: databaseUrl!, schema, maxConnections: 2 });
  });
  afterAll(async () => {
    await Promise.all(started.map((process) => process.stop('SIGKILL')));
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`)).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
    await store?.close();
    workspace?.remove();
  });

  const track = <T extends FactoryProcess>(process: T): T => {
    started.push(process);
    return process;
  };
  // A test that fails leaves no process to the next one.
  afterEach(async () => {
    await Promise.all(started.splice(0).map((process) => process.stop('SIGKILL')));
  });

  it(
    'serve --queue accepts and streams runs that two workers drive; an approval over HTTP is applied by a worker; every write happens once and every run verifies',
    { timeout: 1_800_000 },
    async () => {
      const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
      const approver = await createToken(workspace, 'bob@acme.example', ['approver', 'ops-lead']);
      const serve = track(
        await startUntil(workspace, ['serve', '--queue', '--port', '0', '--shutdown-timeout', '5000'], /serving\S*\s+(http:\/\/\S+)/),
      );
      expect(serve.stderr()).toContain(`runs queued for workers in ${schema}_jobs`);
      const url = serve.match[1]!;
      const workers = [
        track(await startUntil(workspace, ['worker', '--concurrency', '4'], /worker\S* ready/)),
        track(await startUntil(workspace, ['worker', '--concurrency', '4'], /worker\S* ready/)),
      ];

      // A streamed run: its first event is the start the server recorded, its last the worker's completion.
      const streamed = await fetch(`${url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ agent: 'courier', input: 'k-stream' }),
      });
      expect(streamed.status).toBe(200);
      const text = await streamed.text();
      const types = [...text.matchAll(/"type":"([a-z._]+)"/g)].map((match) => match[1]);
      expect(types[0]).toBe('run.started');
      expect(types).toContain('action.decided');
      expect(types.at(-1)).toBe('run.completed');

      // Plain runs and held ones at once.
      const inputs = ['k-1', 'k-2', 'k-3', 'k-4', 'h-1', 'h-2'];
      const results = await Promise.all(
        inputs.map(async (input) => {
          const response = await fetch(`${url}/v1/runs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
            body: JSON.stringify({ agent: 'courier', input }),
          });
          return (await response.json()) as { runId: string; status: string; held?: { approvalId: string } };
        }),
      );
      expect(results.map((result) => result.status)).toEqual(['completed', 'completed', 'completed', 'completed', 'held', 'held']);

      for (const held of results.filter((result) => result.status === 'held')) {
        const vote = await fetch(`${url}/v1/approvals/${held.held!.approvalId}/approve`, {
          method: 'POST',
          headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' },
          body: JSON.stringify({ comment: 'ok' }),
        });
        expect(vote.status, await vote.clone().text()).toBe(200);
      }
      await waitFor(async () => {
        const rows = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM runs WHERE status = 'completed'`);
        return rows[0]!.n === 7;
      }, 'all seven runs to complete');

      const writes = workspace.calls().filter((call) => call.tool === 'write');
      expect(writes.map((call) => call.key).sort()).toEqual([...inputs, 'k-stream'].sort());
      // Workers drove the runs; the server drove none (its pid never called a tool).
      expect(new Set(writes.map((call) => call.pid))).not.toContain(serve.pid);
      expect(writes.every((call) => workers.some((worker) => worker.pid === call.pid))).toBe(true);
      const verified = await runIn(workspace, ['runs', 'verify', '--all']);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      // The streamed run's notification and the job that delivers it committed together (the outbox).
      const inbox = await runIn(workspace, ['notifications', 'list', '--inbox', 'ops', '--json']);
      expect(inbox.code, inbox.stderr).toBe(0);
      expect((JSON.parse(inbox.stdout) as { notifications: unknown[] }).notifications).toHaveLength(1);

      for (const worker of workers) {
        const { code } = await worker.stop('SIGTERM');
        expect(code).toBe(0);
        expect(worker.stderr()).toMatch(/stopped \(0 run\(s\) handed back\)/);
      }
      await serve.stop('SIGTERM');
    },
  );

  it(
    'SIGTERM mid-step: the worker finishes the step, writes a fresh checkpoint, hands the run back, and another worker finishes it without repeating a step',
    { timeout: 1_800_000 },
    async () => {
      const key = `s-handover-${randomBytes(3).toString('hex')}`;
      const operator = await createToken(workspace, 'carol@acme.example', ['operator']);
      const serve = track(await startUntil(workspace, ['serve', '--queue', '--port', '0'], /serving\S*\s+(http:\/\/\S+)/));
      const url = serve.match[1]!;
      const first = track(await startUntil(workspace, ['worker'], /worker\S* ready/));
      const response = fetch(`${url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'courier', input: key }),
      }).then(async (reply) => (await reply.json()) as { runId: string; status: string });
      await waitFor(
        () => workspace.calls().some((call) => call.tool === 'wait' && call.key === key),
        'the run to be waiting in the first worker',
      ).catch((error: Error) => {
        throw new Error(`${error.message}\nworker:\n${first.stderr()}\nserve:\n${serve.stderr()}`);
      });
      const [run] = await store.query<{ id: string }>(sql`SELECT id FROM runs WHERE input->>'text' = ${key}`);
      // Checkpoints are written at holds and hand-backs (durability exit): none is expected yet, unless a
      // loaded machine let the lease lapse once and a take-over wrote one.
      const before = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = ${run!.id}`);

      const { code } = await first.stop('SIGTERM');
      expect(code, first.stderr()).toBe(0);
      expect(first.stderr()).toMatch(/stopped \(\d+ run\(s\) handed back\)/);
      // This run among them (the worker logs which; a job left by the test before may add another).
      const stopped = first
        .stderr()
        .split('\n')
        .filter((line) => line.includes('"worker.stopped"'))
        .map((line) => JSON.parse(line) as { handedBack: string[] });
      expect(
        stopped.flatMap((line) => line.handedBack),
        first.stderr(),
      ).toContain(run!.id);
      // Handed back: a fresh checkpoint, the lease released (not left to lapse), the run still running.
      const after = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = ${run!.id}`);
      expect(after[0]!.n).toBeGreaterThan(before[0]!.n);
      const [lease] = await store.query<{ state: string }>(sql`SELECT state FROM run_leases WHERE run_id = ${run!.id}`);
      expect(lease!.state).toBe('released');
      const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${run!.id}`);
      expect(row!.status).toBe('running');

      const second = track(await startUntil(workspace, ['worker'], /worker\S* ready/));
      expect((await response).status).toBe('completed');
      const calls = workspace.calls().filter((call) => call.key === key);
      // Each step ran once: the read and the wait in the first worker, the write in the second.
      expect(calls.map((call) => `${call.tool}@${call.pid === first.pid ? 'first' : call.pid === second.pid ? 'second' : '?'}`)).toEqual([
        'read@first',
        'wait@first',
        'write@second',
      ]);
      const explained = await runIn(workspace, ['runs', 'explain', run!.id]);
      expect(explained.stdout).toContain('recovered');
      const verified = await runIn(workspace, ['runs', 'verify', run!.id]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      await second.stop('SIGTERM');
      await serve.stop('SIGTERM');
    },
  );
  it(
    "a worker goes on when another deployment's queue is created on the same database (its migration notice names its schema)",
    { timeout: 600_000 },
    async () => {
      // NOTIFY channels are database-wide: unpatched, graphile-worker shut every worker on the
      // database down (exit 57, "detected breaking migration") when any schema's queue was installed.
      const other = `${schema}_other`;
      const first = track(await startUntil(workspace, ['worker'], /worker\S* ready/));
      try {
        const second = track(await startUntil(workspace, ['worker'], /worker\S* ready/, { AIFACTORY_DB_SCHEMA: other }));
        expect(second.stderr()).toContain(`queue ${other}_jobs`);
        // The notice is delivered at the second's commit, before it says ready; give the first a moment to act on it.
        const gone = await Promise.race([
          first.exited.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000)),
        ]);
        expect(gone, first.stderr()).toBe(false);
        expect(first.stderr()).not.toContain('breaking migration');
        expect((await first.stop('SIGTERM')).code, first.stderr()).toBe(0);
        await second.stop('SIGTERM');
      } finally {
        await store.query(sql.raw(`DROP SCHEMA IF EXISTS ${other}_jobs CASCADE`)).catch(() => undefined);
        await store.query(sql.raw(`DROP SCHEMA IF EXISTS ${other} CASCADE`)).catch(() => undefined);
      }
    },
  );
});
