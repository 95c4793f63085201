// The job queue (graphile-worker on Postgres) keeps its workers alive whatever a job fails with: a
// drive that fails with drizzle's "Failed query … params: <bytes>" (a NUL byte among them, as an
// encrypted checkpoint carries) is recorded as readable text, and the next job is taken. Before,
// Postgres refused to store that message, graphile-worker could not record the failure and
// stopped the worker ("Could not failJobs; queue is in an inconsistent state; aborting").
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, sql, type Store } from '@aifactory/store';
import { RunQueue, queueSchemaFor, type DriveRunJob } from '../src/index.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

describe.skipIf(!databaseUrl)('the run queue (Postgres)', () => {
  const schema = `t_runqueue_${randomBytes(4).toString('hex')}`;
  let store: Store;
  let queue: RunQueue;

  beforeAll(async () => {
    store = await openStore({ databaseUrl: databaseUrl!, schema, maxConnections: 2 });
    queue = await RunQueue.open({ databaseUrl: databaseUrl!, storeSchema: schema, maxConnections: 2, log: () => {} });
  });
  afterAll(async () => {
    await queue?.close();
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS "${queueSchemaFor(schema)}" CASCADE`));
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    await store?.close();
  });

  it(
    'a job that fails with raw bytes in its message is recorded as text, and the worker goes on with the next job',
    { timeout: 120_000 },
    async () => {
      const driven: string[] = [];
      const worker = await queue.work({
        concurrency: 1,
        drive: async (job: DriveRunJob) => {
          driven.push(job.runId);
          if (job.runId === 'run_poison') {
            const reason = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
            throw new Error(
              `Failed query: insert into "checkpoint_blobs" values ($1, $2)\nparams: run_poison,\u0000\u0001\u00ff${'x'.repeat(5000)}`,
              {
                cause: reason,
              },
            );
          }
          return { runId: job.runId, outcome: 'skipped', reason: 'nothing to do' };
        },
      });
      let stopped = false;
      void worker.done.then(
        () => (stopped = true),
        () => (stopped = true),
      );
      try {
        await queue.enqueueDrive({ runId: 'run_poison', reason: 'start' });
        await waitUntil(async () => (await lastError('run_poison')) !== null, 'the failure to be recorded');
        await queue.enqueueDrive({ runId: 'run_next', reason: 'start' });
        await waitUntil(async () => driven.includes('run_next'), 'the next job to be taken');
        expect(stopped).toBe(false);
        const recorded = (await lastError('run_poison'))!;
        expect([...recorded].some((character) => character.charCodeAt(0) < 9)).toBe(false);
        expect(recorded).not.toContain('params:');
        expect(recorded).toContain('Failed query: insert into "checkpoint_blobs"');
        expect(recorded).toContain('terminating connection due to administrator command');
        expect(recorded.length).toBeLessThanOrEqual(1000);
      } finally {
        await worker.stop();
      }
    },
  );

  it(
    'a worker opens its connections as it starts and keeps them through an idle spell: a burst of jobs starts no Postgres backend',
    { timeout: 120_000 },
    async () => {
      const connections = async () =>
        (
          await store.query<{ pid: number }>(
            sql`SELECT pid FROM pg_stat_activity WHERE application_name = ${`aifactory worker ${queueSchemaFor(schema)}`.slice(0, 63)}`,
          )
        ).map((row) => Number(row.pid));
      const driven: string[] = [];
      const worker = await queue.work({
        concurrency: 3,
        drive: async (job: DriveRunJob) => {
          driven.push(job.runId);
          return { runId: job.runId, outcome: 'skipped', reason: 'nothing to do' };
        },
      });
      try {
        const opened = await connections();
        // One per job slot, one to listen for new jobs, one spare (as graphile-worker sizes its pool).
        expect(opened).toHaveLength(5);
        // pg closes a connection idle for 10 s unless told otherwise.
        await new Promise((resolve) => setTimeout(resolve, 11_000));
        const burst = ['run_a', 'run_b', 'run_c'];
        await Promise.all(burst.map((runId) => queue.enqueueDrive({ runId, reason: 'start' })));
        // (The test before leaves a job to retry, which this worker may take too.)
        await waitUntil(async () => burst.every((runId) => driven.includes(runId)), 'the burst to be taken');
        expect((await connections()).sort()).toEqual(opened.sort());
      } finally {
        await worker.stop();
      }
      // Stopped, it closes them (a backend leaves pg_stat_activity a moment after its connection ends).
      await waitUntil(async () => (await connections()).length === 0, 'the connections to close', 5_000);
    },
  );

  async function lastError(runId: string): Promise<string | null> {
    const jobs = queueSchemaFor(schema);
    const rows = await store.query<{ last_error: string | null }>(
      sql`SELECT last_error FROM ${sql.identifier(jobs)}._private_jobs WHERE payload->>'runId' = ${runId}`,
    );
    return rows[0]?.last_error ?? null;
  }
});

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
