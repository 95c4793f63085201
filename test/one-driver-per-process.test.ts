// One driver per run, within one process too (real Postgres). The lease arbitrates between
// processes; inside one process, two paths may reach the same run at once — a second resume with
// the same approval while the first drives the run on, a duplicate job of the queue, or the
// process's own supervisor finding the lease lapsed while the process was starved. They shared the
// process's lease (it is held per process), so the second path used to drive the run a second time
// from its last checkpoint (its reads and waits ran twice), or handed the first path's lease back
// when its approval was refused, which let the supervisor take the run over under its feet.
// Counted at the tool: every call runs once, and the run completes and verifies without a recovery.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aifactory/core';
import { sql, type Store } from '@aifactory/store';
import { verifyRun } from '@aifactory/verification';
import type { WorkspaceRuntime } from '@aifactory/workspace';
import { openCourierRuntime, waitFor, type CourierRuntime, type CourierWorkspace } from './fixtures/courier-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!databaseUrl) console.warn('[one-driver-per-process] AIFACTORY_TEST_DATABASE_URL is not set: these Postgres tests are skipped.');
// Long enough that no heartbeat renews a lease the test marks lapsed before the runtime looks at it.
const leaseMs = 30_000;

describe.skipIf(!databaseUrl)('one driver per run within a process (Postgres)', () => {
  let runtime: CourierRuntime;
  let courier: CourierWorkspace;
  let store: Store;
  let workspace: WorkspaceRuntime;

  beforeAll(async () => {
    runtime = await openCourierRuntime({ databaseUrl: databaseUrl!, prefix: 't_onedriver', leaseMs, waitMs: 2_000 });
    ({ courier, store, workspace } = runtime);
  });
  afterAll(() => runtime?.close());

  const workerDrive = (key: string, runId: string) => runtime.workerDrive(key, runId);
  const eventTypes = async (runId: string) => (await runtime.trace(runId)).map((event) => event.type);

  function callsOf(key: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const call of courier.calls().filter((candidate) => candidate.key === key)) counts[call.tool] = (counts[call.tool] ?? 0) + 1;
    return counts;
  }

  it(
    'a second resume with the same approval, while the first drives the run on, is refused and the run goes on once',
    { timeout: 120_000 },
    async () => {
      const key = 'v-twice';
      const runId = `run_twice_${randomBytes(3).toString('hex')}`;
      expect(await workerDrive(key, runId)).toMatchObject({ outcome: 'continued', result: { status: 'held' } });
      const [approval] = await store.query<{ id: string }>(sql`SELECT id FROM approvals WHERE run_id = ${runId}`);
      await workspace.approvals.vote(approval!.id, { approver: { id: 'bob@acme.example', roles: ['ops-lead'] }, vote: 'approve' });

      const first = workspace.runtime.resume(runId, { approvalId: approval!.id });
      await waitFor(
        () => courier.calls().some((call) => call.tool === 'wait' && call.key === key),
        'the resumed run to reach its wait',
        60_000,
      );
      // The run's checkpoint still shows the hold (checkpoints are written at holds and hand-backs), so the
      // second resume gets as far as taking the run: it is refused there, and takes nothing from the first.
      await expect(workspace.runtime.resume(runId, { approvalId: approval!.id })).rejects.toMatchObject({ code: ErrorCode.Conflict });
      // A duplicate job of the queue for the same run, in the same process.
      expect(await workspace.runtime.drive(runId)).toMatchObject({ outcome: 'skipped', reason: 'this process drives it already' });

      await expect(first).resolves.toMatchObject({ status: 'completed' });
      expect(callsOf(key)).toEqual({ read: 1, wait: 1, write: 1 });
      const types = await eventTypes(runId);
      expect(types).not.toContain('run.recovered');
      expect(types.filter((type) => type === 'run.resumed')).toHaveLength(1);
      expect(await verifyRun(store, runId)).toMatchObject({ ok: true });
    },
  );

  it(
    'a run whose lease lapsed while this process still drives it is not taken over by the same process',
    { timeout: 120_000 },
    async () => {
      const key = 's-starved';
      const runId = `run_starved_${randomBytes(3).toString('hex')}`;
      const first = workerDrive(key, runId);
      await waitFor(() => courier.calls().some((call) => call.tool === 'wait' && call.key === key), 'the run to reach its wait', 60_000);
      // As if this process had been starved past its lease: the lease reads lapsed, and its own
      // supervisor (or a job of the queue) asks it to recover the run.
      await store.query(sql`UPDATE run_leases SET expires_at = now() - interval '1 second' WHERE run_id = ${runId}`);
      expect(await workspace.runtime.drive(runId)).toMatchObject({ outcome: 'skipped', reason: 'this process drives it already' });
      expect(await workspace.runtime.recover(runId)).toMatchObject({ outcome: 'skipped' });

      await expect(first).resolves.toMatchObject({ outcome: 'continued', result: { status: 'completed' } });
      expect(callsOf(key)).toEqual({ read: 1, wait: 1, write: 1 });
      expect(await eventTypes(runId)).not.toContain('run.recovered');
      expect(await verifyRun(store, runId)).toMatchObject({ ok: true });
    },
  );
});
