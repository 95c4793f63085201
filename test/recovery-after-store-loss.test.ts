// The store goes away under a run, at a chosen moment, and comes back (real Postgres: the test
// holds a lock on a table the run must write next, and terminates the run's connection while it
// waits on it, as a Postgres restart does to every connection). The process that drove the run
// lets it go, and recovery — here in the very same process, as it is when a worker's own recovery
// picks its run up again — goes on from the trace alone:
// - the connection lost while the outcome of a non-idempotent write was about to be recorded: the
//   write is in doubt, so the run is held (outcome_unknown) — and the outcome this process still
//   had buffered is never written after that hold (it was: tool.returned, then run.held, and the
//   operator's resolution was refused as "nothing to resolve", the run held forever);
// - the connection lost while a hold's checkpoint was written (drizzle's "Failed query: with
//   stored_blobs …"): the run is not failed; recovery parks it on the same approval, recording
//   its hold once, and the approval then moves it on.
// In both, the write happens exactly once (counted at the tool) and the run verifies.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aifactory/core';
import { openStore, sql, type Store } from '@aifactory/store';
import { verifyRun } from '@aifactory/verification';
import type { WorkspaceRuntime } from '@aifactory/workspace';
import { openCourierRuntime, waitFor, type CourierRuntime, type CourierWorkspace } from './fixtures/courier-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
const leaseMs = 600;

describe.skipIf(!databaseUrl)('a run whose store connection is lost mid-step (Postgres)', () => {
  let runtime: CourierRuntime;
  let courier: CourierWorkspace;
  let store: Store;
  /** The test's own connections: one holds the lock, one watches and terminates. */
  let admin: Store;
  let workspace: WorkspaceRuntime;

  beforeAll(async () => {
    runtime = await openCourierRuntime({ databaseUrl: databaseUrl!, prefix: 't_storeloss', leaseMs });
    ({ courier, store, workspace } = runtime);
    admin = await openStore({ databaseUrl: databaseUrl!, schema: runtime.schema, maxConnections: 2 });
  });
  afterAll(async () => {
    await runtime?.close();
    await admin?.close();
  });

  /**
   * Holds `lock` (a LOCK TABLE statement) until a connection of the runtime waits on it with a
   * statement matching `statement`, then terminates that connection (57P01, as a restart does) and
   * lets go. Only a backend this very transaction blocks is ever terminated.
   */
  async function loseConnectionAt(lock: string, statement: RegExp, whileLocked: () => unknown = () => undefined): Promise<string> {
    return admin.db.transaction(async (transaction) => {
      await transaction.execute(sql.raw(lock));
      const [holder] = (await transaction.execute(sql`SELECT pg_backend_pid() AS pid`)) as unknown as Array<{ pid: number }>;
      const pid = holder!.pid;
      whileLocked();
      let terminated = '';
      await waitFor(
        async () => {
          const blocked = await admin.query<{ pid: number; query: string }>(
            sql`SELECT pid, query FROM pg_stat_activity WHERE ${pid}::int = ANY (pg_blocking_pids(pid))`,
          );
          const victim = blocked.find((row) => statement.test(row.query));
          if (!victim) return false;
          await admin.query(sql`SELECT pg_terminate_backend(${victim.pid}::int)`);
          terminated = victim.query;
          return true;
        },
        `a statement matching ${statement} to wait on the lock`,
        60_000,
        20,
      );
      return terminated;
    });
  }

  /**
   * Runs are opened and driven as `factory serve --queue` and a worker do (open, then drive): the
   * recoveries below then go through the very agent session, and gate, that drove it first.
   */
  const workerDrive = (key: string, runId: string) => runtime.workerDrive(key, runId);
  const trace = (runId: string) => runtime.trace(runId);

  /**
   * Recovers the run in this process once its lease has lapsed (the process let it go: nothing
   * renews it), as a supervisor does: looking again while another process owns it, or while the
   * store is unavailable (a pool may still hold a connection the server closed).
   */
  async function recoverWhenLapsed(runId: string) {
    for (let attempt = 0; ; attempt += 1) {
      const result = await workspace.runtime.recover(runId).catch((error: unknown) => {
        if ((error as { code?: string }).code === ErrorCode.StoreUnavailable && attempt < 5) return undefined;
        throw error;
      });
      if (result && (result.outcome !== 'skipped' || result.reason !== 'another process owns it')) return result;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it(
    'a write whose outcome was buffered when the connection went is held in doubt, the buffered outcome is never written after the hold, and confirming it completes the run',
    { timeout: 180_000 },
    async () => {
      const key = 'u-lost-outcome';
      const runId = `run_lost_outcome_${randomBytes(3).toString('hex')}`;
      const started = workerDrive(key, runId).then(
        (result) => ({ result }),
        (error: unknown) => ({ error: error as { code?: string } }),
      );
      // The write happened and answers 4 s later; its outcome is buffered, to be written with the
      // next model call's record — which waits on the lock, and loses its connection.
      await waitFor(() => courier.calls().some((call) => call.tool === 'write' && call.key === key), 'the write to reach the tool', 60_000);
      const lost = await loseConnectionAt('LOCK TABLE events IN EXCLUSIVE MODE', /events/i);
      expect(lost).toMatch(/insert/i);
      const outcome = await started;
      expect(outcome).toMatchObject({ error: { code: ErrorCode.StoreUnavailable } });
      const before = await trace(runId);
      const written = before.findLast((event) => event.type === 'tool.called' && event.payload.name === 'courier.write')!;
      // The write's intent is the last thing recorded: its outcome was not.
      expect(before.at(-1)).toEqual(written);

      const recovered = await recoverWhenLapsed(runId);
      expect(recovered).toMatchObject({ outcome: 'held', reason: 'outcome_unknown', actions: [{ name: 'courier.write' }] });
      const events = await trace(runId);
      const intent = events.findLast((event) => event.type === 'tool.called' && event.payload.name === 'courier.write')!;
      // Nothing of what the first drive buffered follows the intent: only the hold.
      expect(events.filter((event) => event.seq > intent.seq).map((event) => event.type)).toEqual(['run.held']);

      const settled = await workspace.runtime.resolveInDoubt(runId, {
        resolution: 'confirmed',
        by: 'bob@acme.example',
        result: `wrote ${key}`,
      });
      expect(settled).toMatchObject({ status: 'completed' });
      expect(courier.calls().filter((call) => call.tool === 'write' && call.key === key)).toHaveLength(1);
      expect(await verifyRun(store, runId)).toMatchObject({ ok: true });
    },
  );

  it(
    'a hold whose checkpoint write lost its connection is not failed: recovery parks it on the same approval, recorded once, which then moves it on',
    { timeout: 180_000 },
    async () => {
      const key = 'h-lost-checkpoint';
      const runId = `run_lost_checkpoint_${randomBytes(3).toString('hex')}`;
      let started: Promise<{ result?: unknown; error?: { code?: string; message?: string } }> | undefined;
      // Checkpoints are written at holds and hand-backs only: the first one this run writes is its hold's.
      const lost = await loseConnectionAt('LOCK TABLE checkpoint_blobs, checkpoints IN EXCLUSIVE MODE', /stored_blobs|checkpoint/i, () => {
        started = workerDrive(key, runId).then(
          (result) => ({ result }),
          (error: unknown) => ({ error: error as { code?: string; message?: string } }),
        );
      });
      expect(lost).toMatch(/stored_blobs/);
      const outcome = await started!;
      expect(outcome.error?.code, outcome.error?.message).toBe(ErrorCode.StoreUnavailable);
      const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`);
      expect(row?.status).toBe('running');

      const recovered = await recoverWhenLapsed(runId);
      expect(recovered).toMatchObject({ outcome: 'continued', result: { status: 'held' } });
      const holds = (await trace(runId)).filter((event) => event.type === 'run.held');
      expect(holds).toHaveLength(1);
      const approvalId = String(holds[0]!.payload.approval_id);
      expect(recovered).toMatchObject({ result: { held: { approvalId } } });

      await workspace.approvals.vote(approvalId, { approver: { id: 'bob@acme.example', roles: ['ops-lead'] }, vote: 'approve' });
      const resumed = await workspace.runtime.drive(runId);
      expect(resumed).toMatchObject({ outcome: 'continued', result: { status: 'completed' } });
      expect(courier.calls().filter((call) => call.tool === 'write' && call.key === key)).toHaveLength(1);
      expect(await verifyRun(store, runId)).toMatchObject({ ok: true });
    },
  );
  it(
    'a held run whose approval was consumed by a resumer that died before going on, then refused to a late resume, goes on with it once',
    { timeout: 180_000 },
    async () => {
      const key = 'h-consumed-late';
      const runId = `run_consumed_late_${randomBytes(3).toString('hex')}`;
      const held = await workerDrive(key, runId);
      expect(held).toMatchObject({ outcome: 'continued', result: { status: 'held' } });
      const [approval] = await store.query<{ id: string; step: number; args_hash: string; policy_hash: string }>(
        sql`SELECT id, step, args_hash, policy_hash FROM approvals WHERE run_id = ${runId}`,
      );
      await workspace.approvals.vote(approval!.id, { approver: { id: 'bob@acme.example', roles: ['ops-lead'] }, vote: 'approve' });
      // The resumer that died: it consumed the approval (approval.consumed) and went no further.
      const binding = { runId, step: approval!.step, argsHash: approval!.args_hash, policyHash: approval!.policy_hash };
      await workspace.approvals.consume(approval!.id, binding);
      // A late resume is refused (single use), and says so in the trace.
      await expect(workspace.approvals.consume(approval!.id, binding)).rejects.toMatchObject({ code: ErrorCode.ApprovalInvalid });
      expect((await trace(runId)).at(-1)!.type).toBe('approval.refused');

      const resumed = await workspace.runtime.drive(runId);
      expect(resumed).toMatchObject({ outcome: 'continued', result: { status: 'completed' } });
      expect(courier.calls().filter((call) => call.tool === 'write' && call.key === key)).toHaveLength(1);
      expect(await verifyRun(store, runId)).toMatchObject({ ok: true });
    },
  );
});
