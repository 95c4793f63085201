// A worker SIGKILLed between two commits that belong together (real processes, Postgres); the
// window is held open for real by locking the table the second commit writes, and the worker is
// killed in it.
// - A run's end and its seal: run.completed is appended, then the final seal is linked into the
//   seal chain (which also sets the run's status and hands its lease back). Another worker must seal
//   the run, without running it again or recording a second end.
// - An approval's use and its record: the resumer moves the approval to consumed (single use), then
//   appends approval.consumed to the run. Another worker must go on with the run (the approval is
//   used once, the held write runs once).
// - A hold and its checkpoint: run.held is appended (the approval is open), then LangGraph writes
//   the checkpoint the run waits at. An approver approves meanwhile. Another worker must go on with
//   the run from its last checkpoint on that same approval (the held write runs once).
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

describe.skipIf(!databaseUrl)('a worker killed between two commits that belong together (real processes, Postgres)', () => {
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

  /** Holds `table` locked against writes until the returned function is called (and resolves once it is released). */
  const lockAgainstWrites = async (table: string) => {
    if (store.driver.kind !== 'postgres') throw new Error('this test needs Postgres');
    let unlock!: () => void;
    const unlocked = new Promise<void>((resolve) => (unlock = resolve));
    let locked!: () => void;
    const lockHeld = new Promise<void>((resolve) => (locked = resolve));
    const holding = store.driver.client.begin(async (tx) => {
      await tx.unsafe(`LOCK TABLE "${schema}".${table} IN EXCLUSIVE MODE`);
      locked();
      await unlocked;
    });
    await lockHeld;
    return async () => {
      unlock();
      await holding;
    };
  };

  it(
    'killed after run.completed, before its seal: another worker seals the run: it reads completed, ended once, wrote once, and verifies',
    { timeout: 600_000 },
    async () => {
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

      // Hold the window open: while the seals table is locked against writes, the worker records
      // run.completed and then waits on its seal. It is killed there.
      const unlock = await lockAgainstWrites('seals');
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
        await unlock();
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
      const [sealed] = await store.query<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM seals WHERE run_id = ${runId} AND kind = 'final'`,
      );
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
    },
  );

  it(
    'killed after consuming an approval, before recording it: another worker goes on, the held write runs once',
    { timeout: 600_000 },
    async () => {
      const operator = await createToken(workspace, 'carol@acme.example', ['operator']);
      const approver = await createToken(workspace, 'dave@acme.example', ['approver', 'ops-lead']);
      const serve = await startUntil(workspace, ['serve', '--queue', '--port', '0'], /serving\S*\s+(http:\/\/\S+)/);
      started.push(serve);
      const url = serve.match[1]!;
      const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
      const first = await startUntil(workspace, ['worker', '--concurrency', '1'], /worker\S* ready/);
      started.push(first);
      const held = (await (
        await fetch(`${url}/v1/runs`, {
          method: 'POST',
          headers: headers(operator),
          body: JSON.stringify({ agent: 'courier', input: 'h-consume' }),
        })
      ).json()) as { runId: string; status: string; held: { approvalId: string } };
      expect(held.status).toBe('held');
      // No worker while the vote is cast: its resume waits in the queue.
      await first.stop('SIGTERM');
      const vote = await fetch(`${url}/v1/approvals/${held.held.approvalId}/approve`, {
        method: 'POST',
        headers: headers(approver),
        body: '{}',
      });
      expect(vote.status, await vote.text()).toBe(200);

      // Hold the window open: with the events table locked against writes, a worker takes the resume,
      // moves the approval to consumed, and waits to append approval.consumed. It is killed there.
      const unlock = await lockAgainstWrites('events');
      let resumer: FactoryProcess | undefined;
      try {
        resumer = await startUntil(workspace, ['worker', '--concurrency', '1'], /worker\S* ready/);
        started.push(resumer);
        await waitFor(async () => {
          const [approval] = await store.query<{ status: string }>(sql`SELECT status FROM approvals WHERE id = ${held.held.approvalId}`);
          return approval!.status === 'consumed';
        }, 'the worker to consume the approval');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await resumer.stop('SIGKILL');
      } finally {
        await unlock();
      }
      const consumedEvents = sql`SELECT count(*)::int AS n FROM events WHERE run_id = ${held.runId} AND type = 'approval.consumed'`;
      // The window was hit: the approval is used, the run's trace does not say so, the run is held.
      expect((await store.query<{ n: number }>(consumedEvents))[0]!.n).toBe(0);
      const [between] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${held.runId}`);
      expect(between!.status).toBe('held');

      const second = await startUntil(workspace, ['worker', '--concurrency', '1'], /worker\S* ready/);
      started.push(second);
      await waitFor(async () => {
        const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${held.runId}`);
        return row!.status === 'completed';
      }, 'another worker to go on with the run').catch((error: Error) => {
        throw new Error(`${error.message}\nworker: ${second.stderr().slice(-3000)}`);
      });
      // The approval's use is in the trace once; the held write ran once, in the worker that went on.
      expect((await store.query<{ n: number }>(consumedEvents))[0]!.n).toBe(1);
      expect(
        workspace
          .calls()
          .filter((call) => call.key === 'h-consume' && call.tool === 'write')
          .map((call) => call.pid),
      ).toEqual([second.pid]);
      const verified = await runIn(workspace, ['runs', 'verify', held.runId]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      await second.stop('SIGTERM');
      await serve.stop('SIGTERM');
    },
  );

  it(
    'killed after run.held, before the hold is checkpointed: the approval is granted, another worker goes on, the held write runs once',
    { timeout: 600_000 },
    async () => {
      const operator = await createToken(workspace, 'erin@acme.example', ['operator']);
      const approver = await createToken(workspace, 'frank@acme.example', ['approver', 'ops-lead']);
      const serve = await startUntil(workspace, ['serve', '--queue', '--port', '0'], /serving\S*\s+(http:\/\/\S+)/);
      started.push(serve);
      const url = serve.match[1]!;
      const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
      const first = await startUntil(workspace, ['worker', '--concurrency', '1'], /worker\S* ready/);
      started.push(first);

      // Hold the window open: with the checkpoints table locked against writes, the worker records
      // run.held (its approval opened) and then waits to write the checkpoint of the hold. It is killed there.
      const unlock = await lockAgainstWrites('checkpoints');
      let runId = '';
      let approvalId = '';
      try {
        // The answer never comes (its worker dies); only the run and its hold are looked at.
        void fetch(`${url}/v1/runs`, {
          method: 'POST',
          headers: headers(operator),
          body: JSON.stringify({ agent: 'courier', input: 'h-checkpoint' }),
        }).catch(() => undefined);
        await waitFor(async () => {
          const [hold] = await store.query<{ run_id: string; approval_id: string | null }>(
            sql`SELECT e.run_id, e.payload::jsonb->>'approval_id' AS approval_id FROM events e JOIN runs r ON r.id = e.run_id
                WHERE r.input->>'text' = 'h-checkpoint' AND e.type = 'run.held'`,
          );
          if (!hold?.approval_id) return false;
          runId = hold.run_id;
          approvalId = hold.approval_id;
          return true;
        }, 'the worker to record run.held');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await first.stop('SIGKILL');
      } finally {
        await unlock();
      }
      // The window was hit: the trace says held, no checkpoint of the run says so.
      const [checkpointed] = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = ${runId}`);
      expect(checkpointed!.n).toBe(0);

      // The approver approves what the trace says the run waits for.
      const vote = await fetch(`${url}/v1/approvals/${approvalId}/approve`, { method: 'POST', headers: headers(approver), body: '{}' });
      expect(vote.status, await vote.text()).toBe(200);

      const second = await startUntil(workspace, ['worker', '--concurrency', '1'], /worker\S* ready/);
      started.push(second);
      await waitFor(async () => {
        const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`);
        return row!.status === 'completed';
      }, 'another worker to go on with the run').catch(async (error: Error) => {
        const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`);
        throw new Error(`${error.message} (it is ${row?.status})\nworker: ${second.stderr().slice(-3000)}`);
      });
      // One approval for the hold, used once; the held write ran once, in the worker that went on.
      const [approvals] = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM approvals WHERE run_id = ${runId}`);
      expect(approvals!.n).toBe(1);
      const [consumed] = await store.query<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM events WHERE run_id = ${runId} AND type = 'approval.consumed'`,
      );
      expect(consumed!.n).toBe(1);
      expect(
        workspace
          .calls()
          .filter((call) => call.key === 'h-checkpoint' && call.tool === 'write')
          .map((call) => call.pid),
      ).toEqual([second.pid]);
      const verified = await runIn(workspace, ['runs', 'verify', runId]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      await second.stop('SIGTERM');
      await serve.stop('SIGTERM');
    },
  );
});
