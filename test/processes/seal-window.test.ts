// A worker SIGKILLed between two commits that belong together (real processes, Postgres); the
// window is held open for real by locking the table the second commit writes, and the worker is
// killed in it.
// - A run's end: run.completed, its final seal, the run's status and its lease hand-back are one
//   statement (0af7424). A worker killed while that statement waits on the seal chain records none
//   of it; another worker takes the run over and ends it once, without running its write again.
// - An approval's use and its record: the resumer moves the approval to consumed (single use), then
//   appends approval.consumed to the run. Another worker must go on with the run (the approval is
//   used once, the held write runs once).
// - A hold and its checkpoint: run.held is appended (the approval is open), then LangGraph writes
//   the checkpoint the run waits at. An approver approves meanwhile. Another worker must go on with
//   the run from its last checkpoint on that same approval (the held write runs once).
// - Both on one run (the chaos suite's stuck clerk-12): killed after run.held before its checkpoint,
//   the run is recovered and parks again on its approval, now decided; the next resumer is killed
//   after consuming it, before recording so. The last event is then the write's second
//   policy.decided, not the hold: the run must still be found and go on.
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, runIn, waitFor, type FactoryProcess } from '../fixtures/courier-workspace.ts';

describeOnCourierPostgres(
  'a worker killed between two commits that belong together (real processes, Postgres)',
  { prefix: 't_sealgap', leaseMs: 2000, waitMs: 1500, maxConnections: 3 },
  (courier) => {
    it(
      'killed while its end (run.completed with its seal, one statement) waits on the seal chain: none of it is recorded; another worker ends the run once, the write ran once, and it verifies',
      { timeout: 600_000 },
      async () => {
        const { workspace, store } = courier;
        const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
        const serve = await courier.serve(['--queue']);
        const first = await courier.worker(['--concurrency', '1']);
        const answer = courier.postRun(serve.url, operator, 's-sealgap');
        await waitFor(() => workspace.calls().some((call) => call.key === 's-sealgap' && call.tool === 'wait'), 'the run to be mid-step');
        const runId = await courier.runOf('s-sealgap');

        // Hold the window open: while the seals table is locked against writes, the worker's end
        // (run.completed, the final seal, the runs row and the lease, one statement) waits on it.
        // It is killed there.
        await courier.killInWindow(
          'seals',
          "the worker's end to wait on the seal chain",
          async () => first,
          async () => {
            const waiting = await store.query<{ n: number }>(
              sql`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                  JOIN pg_namespace s ON s.oid = c.relnamespace WHERE NOT l.granted AND c.relname = 'seals' AND s.nspname = ${courier.schema}`,
            );
            return waiting[0]!.n > 0 && workspace.calls().some((call) => call.key === 's-sealgap' && call.tool === 'write');
          },
        );
        const [between] = await store.query<{ status: string; seals: number; ended: number }>(
          sql`SELECT status, (SELECT count(*)::int FROM seals WHERE run_id = ${runId} AND kind = 'final') AS seals,
                (SELECT count(*)::int FROM events WHERE run_id = ${runId} AND type = 'run.completed') AS ended FROM runs WHERE id = ${runId}`,
        );
        // Nothing of the end was recorded: not the event, not the seal, not the status.
        expect(between).toEqual({ status: 'running', seals: 0, ended: 0 });

        const second = await courier.worker(['--concurrency', '1']);
        await courier.waitForStatus(runId, 'completed', 'another worker to seal the run', second);

        const ends = await store.query<{ type: string }>(
          sql`SELECT type FROM events WHERE run_id = ${runId} AND type IN ('run.completed', 'run.failed', 'run.recovered')`,
        );
        // Taken over, then ended once, and nothing was appended after its end.
        expect(ends.map((event) => event.type)).toEqual(['run.recovered', 'run.completed']);
        const [sealed] = await store.query<{ n: number }>(
          sql`SELECT count(*)::int AS n FROM seals WHERE run_id = ${runId} AND kind = 'final'`,
        );
        expect(sealed!.n).toBe(1);
        // Its lease was handed back with the seal, not left to lapse.
        const [lease] = await store.query<{ state: string }>(sql`SELECT state FROM run_leases WHERE run_id = ${runId}`);
        expect(lease!.state).toBe('released');
        // The write happened once, in the first worker.
        expect(courier.writesOf('s-sealgap').map((call) => call.pid)).toEqual([first.pid]);
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
        const { workspace, store } = courier;
        const operator = await createToken(workspace, 'carol@acme.example', ['operator']);
        const approver = await createToken(workspace, 'dave@acme.example', ['approver', 'ops-lead']);
        const serve = await courier.serve(['--queue']);
        const first = await courier.worker(['--concurrency', '1']);
        const held = await courier.postRun<{ runId: string; status: string; held: { approvalId: string } }>(
          serve.url,
          operator,
          'h-consume',
        );
        expect(held.status).toBe('held');
        // No worker while the vote is cast: its resume waits in the queue.
        await first.stop('SIGTERM');
        const vote = await fetch(`${serve.url}/v1/approvals/${held.held.approvalId}/approve`, {
          method: 'POST',
          headers: courier.headers(approver),
          body: '{}',
        });
        expect(vote.status, await vote.text()).toBe(200);

        // Hold the window open: with the events table locked against writes, a worker takes the resume,
        // moves the approval to consumed, and waits to append approval.consumed. It is killed there.
        await courier.killInWindow(
          'events',
          'the worker to consume the approval',
          () => courier.worker(['--concurrency', '1']),
          async () => {
            const [approval] = await store.query<{ status: string }>(sql`SELECT status FROM approvals WHERE id = ${held.held.approvalId}`);
            return approval!.status === 'consumed';
          },
        );
        const consumedEvents = sql`SELECT count(*)::int AS n FROM events WHERE run_id = ${held.runId} AND type = 'approval.consumed'`;
        // The window was hit: the approval is used, the run's trace does not say so, the run is held.
        expect((await store.query<{ n: number }>(consumedEvents))[0]!.n).toBe(0);
        expect(await courier.statusOf(held.runId)).toBe('held');

        const second = await courier.worker(['--concurrency', '1']);
        await courier.waitForStatus(held.runId, 'completed', 'another worker to go on with the run', second);
        // The approval's use is in the trace once; the held write ran once, in the worker that went on.
        expect((await store.query<{ n: number }>(consumedEvents))[0]!.n).toBe(1);
        expect(courier.writesOf('h-consume').map((call) => call.pid)).toEqual([second.pid]);
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
        const { workspace, store } = courier;
        const operator = await createToken(workspace, 'erin@acme.example', ['operator']);
        const approver = await createToken(workspace, 'frank@acme.example', ['approver', 'ops-lead']);
        const serve = await courier.serve(['--queue']);
        const first: FactoryProcess = await courier.worker(['--concurrency', '1']);

        // Hold the window open: with the checkpoints table locked against writes, the worker records
        // run.held (its approval opened) and then waits to write the checkpoint of the hold. It is killed there.
        let runId = '';
        let approvalId = '';
        await courier.killInWindow(
          'checkpoints',
          'the worker to record run.held',
          async () => {
            // The answer never comes (its worker dies); only the run and its hold are looked at.
            void courier.postRun(serve.url, operator, 'h-checkpoint').catch(() => undefined);
            return first;
          },
          async () => {
            const [hold] = await store.query<{ run_id: string; approval_id: string | null }>(
              sql`SELECT e.run_id, e.payload::jsonb->>'approval_id' AS approval_id FROM events e JOIN runs r ON r.id = e.run_id
                  WHERE r.input->>'text' = 'h-checkpoint' AND e.type = 'run.held'`,
            );
            if (!hold?.approval_id) return false;
            runId = hold.run_id;
            approvalId = hold.approval_id;
            return true;
          },
        );
        // The window was hit: the trace says held, no checkpoint of the run says so.
        const [checkpointed] = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = ${runId}`);
        expect(checkpointed!.n).toBe(0);

        // The approver approves what the trace says the run waits for.
        const vote = await fetch(`${serve.url}/v1/approvals/${approvalId}/approve`, {
          method: 'POST',
          headers: courier.headers(approver),
          body: '{}',
        });
        expect(vote.status, await vote.text()).toBe(200);

        const second = await courier.worker(['--concurrency', '1']);
        await courier.waitForStatus(runId, 'completed', 'another worker to go on with the run', second);
        // One approval for the hold, used once; the held write ran once, in the worker that went on.
        const [approvals] = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM approvals WHERE run_id = ${runId}`);
        expect(approvals!.n).toBe(1);
        const [consumed] = await store.query<{ n: number }>(
          sql`SELECT count(*)::int AS n FROM events WHERE run_id = ${runId} AND type = 'approval.consumed'`,
        );
        expect(consumed!.n).toBe(1);
        expect(courier.writesOf('h-checkpoint').map((call) => call.pid)).toEqual([second.pid]);
        const verified = await runIn(workspace, ['runs', 'verify', runId]);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        await second.stop('SIGTERM');
        await serve.stop('SIGTERM');
      },
    );

    it(
      'killed after run.held before its checkpoint, then another killed after consuming the approval: a third worker goes on, the held write runs once',
      { timeout: 240_000 },
      async () => {
        const { workspace, store } = courier;
        const operator = await createToken(workspace, 'grace@acme.example', ['operator']);
        const approver = await createToken(workspace, 'heidi@acme.example', ['approver', 'ops-lead']);
        const serve = await courier.serve(['--queue']);
        const first = await courier.worker(['--concurrency', '1']);

        // Window 3: the first worker records run.held and is killed waiting to write the hold's checkpoint.
        let runId = '';
        let approvalId = '';
        await courier.killInWindow(
          'checkpoints',
          'the first worker to record run.held',
          async () => {
            void courier.postRun(serve.url, operator, 'h-twice').catch(() => undefined);
            return first;
          },
          async () => {
            const [hold] = await store.query<{ run_id: string; approval_id: string | null }>(
              sql`SELECT e.run_id, e.payload::jsonb->>'approval_id' AS approval_id FROM events e JOIN runs r ON r.id = e.run_id
                  WHERE r.input->>'text' = 'h-twice' AND e.type = 'run.held'`,
            );
            if (!hold?.approval_id) return false;
            runId = hold.run_id;
            approvalId = hold.approval_id;
            return true;
          },
        );
        const vote = await fetch(`${serve.url}/v1/approvals/${approvalId}/approve`, {
          method: 'POST',
          headers: courier.headers(approver),
          body: '{}',
        });
        expect(vote.status, await vote.text()).toBe(200);

        // Window 2: the second worker recovers the run, which parks again on the (now approved)
        // approval, recording the write's decision a second time and no second run.held; then it
        // (its supervisor finding the run held on a decided approval) takes the approval to resume
        // the run. It is stopped on its way by the approvals table, locked against writes before it
        // started (recovering writes no approval); once it waits there, the events table is locked
        // and the approvals table let go: it consumes the approval, waits to record
        // approval.consumed, and is killed there.
        const writeDecisions = async () =>
          (
            await store.query<{ n: number }>(
              sql`SELECT count(*)::int AS n FROM events WHERE run_id = ${runId} AND type = 'policy.decided'
                  AND payload::jsonb->'action'->>'name' = 'courier.write'`,
            )
          )[0]!.n;
        const waitsOnApprovals = async () =>
          (
            await store.query<{ n: number }>(
              sql`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace s ON s.oid = c.relnamespace
                  WHERE NOT l.granted AND c.relname = 'approvals' AND s.nspname = ${courier.schema}`,
            )
          )[0]!.n > 0;
        const approvalsLocked = await courier.lockAgainstWrites('approvals');
        let eventsLocked: (() => Promise<void>) | undefined;
        try {
          const second = await courier.worker(['--concurrency', '1']);
          await waitFor(
            async () => (await courier.statusOf(runId)) === 'held' && (await writeDecisions()) === 2 && (await waitsOnApprovals()),
            'the second worker to park the run again on its approval and go to consume it',
            60_000,
          );
          eventsLocked = await courier.lockAgainstWrites('events');
          await approvalsLocked();
          await waitFor(
            async () =>
              (await store.query<{ status: string }>(sql`SELECT status FROM approvals WHERE id = ${approvalId}`))[0]!.status === 'consumed',
            'the second worker to consume the approval',
            60_000,
          );
          // Give the record of its use time to be asked for (it waits on the lock), then kill in between.
          await new Promise((resolve) => setTimeout(resolve, 300));
          await second.stop('SIGKILL');
          await courier.endLockWaiters('events');
        } finally {
          await approvalsLocked();
          await eventsLocked?.();
        }
        // Both windows were hit: held, the approval used, neither its use nor a resume in the trace,
        // and the write's second decision its last event.
        expect(await courier.statusOf(runId)).toBe('held');
        const types = await store.query<{ type: string }>(sql`SELECT type FROM events WHERE run_id = ${runId} ORDER BY seq`);
        expect(types.map((event) => event.type).filter((type) => type === 'approval.consumed' || type === 'run.resumed')).toEqual([]);
        expect(types.filter((event) => event.type === 'run.held')).toHaveLength(1);
        expect(types.at(-1)!.type).toBe('policy.decided');

        const third = await courier.worker(['--concurrency', '1']);
        await courier.waitForStatus(runId, 'completed', 'a third worker to go on with the run', third, 60_000);
        // One approval, used once and recorded once; one resume naming it; the write ran once, in the third worker.
        const [approvals] = await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM approvals WHERE run_id = ${runId}`);
        expect(approvals!.n).toBe(1);
        const recorded = await store.query<{ type: string; approval_id: string | null }>(
          sql`SELECT type, payload::jsonb->>'approval_id' AS approval_id FROM events WHERE run_id = ${runId}
              AND type IN ('approval.consumed', 'run.resumed') ORDER BY seq`,
        );
        expect(recorded).toEqual([
          { type: 'approval.consumed', approval_id: approvalId },
          { type: 'run.resumed', approval_id: approvalId },
        ]);
        expect(courier.writesOf('h-twice').map((call) => call.pid)).toEqual([third.pid]);
        const verified = await runIn(workspace, ['runs', 'verify', runId]);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        await third.stop('SIGTERM');
        await serve.stop('SIGTERM');
      },
    );
  },
);
