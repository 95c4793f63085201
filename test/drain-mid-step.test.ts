// Graceful shutdown hands a run back only at a checkpoint (real Postgres). With no grace at all
// (`factory serve --shutdown-timeout 0`) a run in the middle of a tool call used to have its lease
// released at once: another process could take the run over and act while this one's call still
// ran, its outcome never recorded by anyone. Now a run still mid-step keeps its lease; only once
// the step is over is it handed back at its checkpoint.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@aifactory/store';
import { openCourierRuntime, waitFor, type CourierRuntime } from './fixtures/courier-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!databaseUrl) console.warn('[drain-mid-step] AIFACTORY_TEST_DATABASE_URL is not set: these Postgres tests are skipped.');

describe.skipIf(!databaseUrl)('graceful shutdown with no grace (Postgres)', () => {
  let runtime: CourierRuntime;

  beforeAll(async () => {
    runtime = await openCourierRuntime({ databaseUrl: databaseUrl!, prefix: 't_drainstep', leaseMs: 30_000, waitMs: 3_000 });
  });
  afterAll(() => runtime?.close());

  it('never releases the lease of a run mid-step: it is handed back at its next checkpoint', { timeout: 120_000 }, async () => {
    const { courier, store, workspace } = runtime;
    const key = 's-drain';
    const runId = `run_drain_${randomBytes(3).toString('hex')}`;
    const lease = async () =>
      (await store.query<{ state: string; epoch: number }>(sql`SELECT state, epoch FROM run_leases WHERE run_id = ${runId}`))[0];
    const driving = runtime.workerDrive(key, runId).catch((error: unknown) => error);
    await waitFor(() => courier.calls().some((call) => call.tool === 'wait' && call.key === key), 'the run to be in its wait', 60_000);

    const handedBack = await workspace.runtime.drain(0);
    // The wait (3 s) is still running: the run is not handed back, and its lease is still held.
    expect(handedBack).not.toContain(runId);
    expect(await lease()).toMatchObject({ state: 'driving', epoch: 1 });

    // Once the wait returns, the graph stops at that step boundary and hands the run back there.
    const outcome = await driving;
    expect(outcome).toMatchObject({ details: { handedBack: true } });
    expect(await lease()).toMatchObject({ state: 'released', epoch: 1 });
    const types = (await runtime.trace(runId)).map((event) => event.type);
    expect(types.filter((type) => type === 'tool.returned')).toHaveLength(2);
    expect(types).not.toContain('run.completed');
    expect(courier.calls().filter((call) => call.key === key && call.tool === 'write')).toHaveLength(0);
  });
});
