// The job queue beside the supervisors that look for orphaned runs (Postgres): a run an API server
// queued has no lease until a worker takes it, so findOrphanedRuns finds it; its job waits for a free
// worker and is left alone, while a run whose job is gone or was taken by a process that died is
// queued again. Drives asked for together are added together. A backlog of queued runs never
// hides a run whose owner died.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunSupervisor } from '@aifactory/execution';
import { openStore, sql, type Store } from '@aifactory/store';
import { createRecorder, type Recorder } from '@aifactory/verification';
import { findOrphanedRuns } from '@aifactory/verification/internal';
import { openWorkspace, RunQueue, workspaceConfigAt, type Workspace } from '@aifactory/workspace';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

describe.skipIf(!databaseUrl)('runs queued for workers, as supervisors see them (Postgres)', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'aifactory-run-queue-'));
  const schema = `t_runqueue_${Math.random().toString(16).slice(2, 10)}`;
  let store: Store;
  let queue: RunQueue;
  let workspace: Workspace;
  let recorder: Recorder;
  let supervisor: RunSupervisor;
  const dispatched: string[] = [];

  beforeAll(async () => {
    store = await openStore({ databaseUrl: databaseUrl!, schema });
    queue = await RunQueue.open({ databaseUrl: databaseUrl!, storeSchema: schema });
    workspace = await openWorkspace(workspaceConfigAt(scratch), { store, queue });
    recorder = createRecorder(store, { signer: workspace.signer });
    supervisor = new RunSupervisor({
      store,
      runtime: workspace.runtime,
      dispatch: async (runId, reason) => {
        dispatched.push(runId);
        await queue.enqueueDrive({ runId, reason });
      },
      waiting: (runIds) => queue.waitingDrives(runIds),
    });
  });

  afterAll(async () => {
    await workspace?.close();
    await queue?.close();
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`)).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
    await store?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** A run recorded as a `serve --queue` records it: started, no lease. */
  const queuedRun = (id: string) => recorder.startRun({ id, agent: 'courier', principal: 'olga@example.com', input: { text: id } });
  const jobsOf = (runId: string) =>
    store.query<{ revision: number; locked: boolean }>(
      sql.raw(
        `SELECT revision, locked_at IS NOT NULL AS locked FROM ${schema}_jobs._private_jobs WHERE payload->>'runId' = '${runId}' ORDER BY id`,
      ),
    );

  it('leaves a run whose job waits for a free worker alone: its one job is never rewritten', async () => {
    await queuedRun('run_waiting');
    await queue.enqueueDrive({ runId: 'run_waiting', reason: 'start' });
    for (let scan = 0; scan < 3; scan += 1) await supervisor.scan();
    expect(dispatched).not.toContain('run_waiting');
    expect(await jobsOf('run_waiting')).toEqual([{ revision: 0, locked: false }]);
  });

  it('queues a run whose job never came (its server died before queuing it) or was taken by a process that died', async () => {
    await queuedRun('run_unqueued');
    await queuedRun('run_taken');
    await queue.enqueueDrive({ runId: 'run_taken', reason: 'start' });
    // A worker took the job and died before taking the run's lease: graphile-worker keeps the job locked for hours.
    await store.query(
      sql.raw(`UPDATE ${schema}_jobs._private_jobs SET locked_at = now(), locked_by = 'dead-worker' WHERE key = 'run:run_taken'`),
    );
    await supervisor.scan();
    expect(dispatched).toEqual(expect.arrayContaining(['run_unqueued', 'run_taken']));
    expect(await jobsOf('run_unqueued')).toEqual([{ revision: 0, locked: false }]);
    // The locked job keeps running its course; a fresh one waits for a live worker.
    expect(await jobsOf('run_taken')).toEqual([
      { revision: 0, locked: true },
      { revision: 0, locked: false },
    ]);
  });

  it('adds drives asked for together in one go, the last request for a run winning', async () => {
    await Promise.all([
      queue.enqueueDrive({ runId: 'run_together_a', reason: 'start' }),
      queue.enqueueDrive({ runId: 'run_together_b', reason: 'start' }),
      queue.enqueueDrive({ runId: 'run_together_a', reason: 'resume', approvalId: 'apr_1' }),
    ]);
    const jobs = await store.query<{ key: string; payload: unknown }>(
      sql.raw(`SELECT key, payload FROM ${schema}_jobs._private_jobs WHERE key LIKE 'run:run_together_%' ORDER BY key`),
    );
    expect(jobs).toEqual([
      { key: 'run:run_together_a', payload: { runId: 'run_together_a', reason: 'resume', approvalId: 'apr_1' } },
      { key: 'run:run_together_b', payload: { runId: 'run_together_b', reason: 'start' } },
    ]);
  });

  it('finds a run whose owner died before any run still waiting for its first worker', async () => {
    await recorder.startRun(
      { id: 'run_dead_owner', agent: 'courier', principal: 'olga@example.com', input: { text: 'x' } },
      { lease: { owner: 'dead-worker', ttlMs: 1 } },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [first] = await findOrphanedRuns(store, 1);
    expect(first?.runId).toBe('run_dead_owner');
  });
});
