// A human resolves a run held in doubt while the run's lease is held by a worker that died (the
// chaos suite's stuck clerk-22), as real processes on Postgres: `factory serve --queue`, `factory
// worker`s, the CLI. A worker is SIGKILLed while a non-idempotent write is in flight (it reached
// the tool; its outcome was never recorded); another worker holds the run (outcome_unknown). Then
// the dead worker is found holding the run's lease as a recoverer (`recovering`, its own owner id,
// not lapsed yet): what a worker killed right after taking a held run over leaves behind. The
// human's decision must not need that lease: over HTTP it is answered 2xx at once and recorded; on
// the store the CLI records it too; each is applied by a live worker once the dead one's lease
// lapses. Counted at the tool: a confirmed write is not run again, a retried one runs once more.
// Every run verifies, and `runs explain` tells who resolved what.
import { sql } from '@aifactory/store';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, runIn, waitFor, type FactoryProcess } from '../fixtures/courier-workspace.ts';

/** The deployment's lease: a dead worker's lease holds the run this long after its last renewal. */
const leaseMs = 6000;

describeOnCourierPostgres(
  'resolving a run in doubt whose lease a dead worker holds (real processes, Postgres)',
  { prefix: 't_deadlease', leaseMs },
  (courier) => {
    it(
      'a decision over HTTP is answered 2xx and one with the CLI is recorded, though a SIGKILLed worker holds the lease recovering; both are applied once it lapses',
      { timeout: 600_000 },
      async () => {
        const { workspace, store, writesOf } = courier;
        const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
        const approver = await createToken(workspace, 'bob@acme.example', ['approver']);
        const serve = await courier.serve(['--queue']);
        let worker: FactoryProcess = await courier.worker();

        /**
         * Starts a run of `key`, SIGKILLs its worker while the write is in flight, waits until a new
         * worker holds it in doubt, then leaves the dead worker holding its lease as a recoverer.
         */
        const inDoubtUnderDeadLease = async (key: string): Promise<{ runId: string; deadOwner: string }> => {
          void courier.postRun(serve.url, operator, key).catch(() => undefined);
          await waitFor(() => writesOf(key).length > 0, `the write of ${key} to reach the tool`);
          const runId = await courier.runOf(key);
          const [lease] = await store.query<{ owner: string }>(sql`SELECT owner FROM run_leases WHERE run_id = ${runId}`);
          const victim = worker;
          expect(lease?.owner).toContain(`:${victim.pid}:`);
          await victim.stop('SIGKILL');
          worker = await courier.worker();
          await courier.waitForStatus(runId, 'held', `run ${runId} to be held in doubt`, worker);
          const [held] = await store.query<{ payload: string }>(
            sql`SELECT payload FROM events WHERE run_id = ${runId} AND type = 'run.held' ORDER BY seq DESC LIMIT 1`,
          );
          expect(JSON.parse(held!.payload)).toMatchObject({ reason: 'outcome_unknown', name: 'courier.write' });
          // The dead worker took the held run over to recover it (a new epoch, `recovering`) and died
          // there: its lease holds the run until it lapses, and no process renews or releases it.
          const planted = await store.query<{ epoch: number }>(
            sql`UPDATE run_leases SET owner = ${lease!.owner}, epoch = epoch + 1, state = 'recovering', acquired_at = now(),
                expires_at = now() + ${leaseMs} * interval '1 millisecond' WHERE run_id = ${runId} RETURNING epoch`,
          );
          expect(planted).toHaveLength(1);
          return { runId, deadOwner: lease!.owner };
        };
        const leaseOf = async (runId: string) =>
          (
            await store.query<{ owner: string; state: string; live: boolean }>(
              sql`SELECT owner, state, expires_at > now() AS live FROM run_leases WHERE run_id = ${runId}`,
            )
          )[0];
        const typesOf = async (runId: string) =>
          (await store.query<{ type: string }>(sql`SELECT type FROM events WHERE run_id = ${runId} ORDER BY seq`)).map((row) => row.type);

        // 1. Over HTTP: the write did not take (as the human reads the target), so retry it.
        const retried = await inDoubtUnderDeadLease('u-dead-retry');
        const answer = await fetch(`${serve.url}/v1/runs/${retried.runId}/resolve`, {
          method: 'POST',
          headers: courier.headers(approver),
          body: JSON.stringify({ resolution: 'retried' }),
        });
        const body = await answer.text();
        expect(answer.status, body).toBe(202);
        expect(JSON.parse(body)).toMatchObject({ runId: retried.runId, resolution: 'retried', by: 'bob@acme.example' });
        // Recorded while the dead worker's lease still held the run.
        expect(await typesOf(retried.runId)).toContain('action.resolved');
        const duringDecision = await leaseOf(retried.runId);
        expect(duringDecision?.owner === retried.deadOwner && duringDecision.state === 'recovering').toBe(true);
        await courier.waitForStatus(retried.runId, 'completed', `run ${retried.runId} to complete after its retry`, worker, 180_000);
        // Retried, as asked: the write reached the tool once more, from the live worker.
        expect(writesOf('u-dead-retry').map((call) => call.pid)).toEqual([expect.any(Number), worker.pid]);

        // 2. With the CLI on the store: the write happened, confirm it.
        const confirmed = await inDoubtUnderDeadLease('u-dead-confirm');
        const cli = await runIn(
          workspace,
          ['runs', 'resolve', confirmed.runId, '--confirm', '--result', 'wrote u-dead-confirm', '--as', 'ops@acme.example', '--json'],
          {},
          180_000,
        );
        expect(cli.code, cli.stderr + cli.stdout).toBe(0);
        expect(JSON.parse(cli.stdout)).toMatchObject({
          runId: confirmed.runId,
          status: 'completed',
          resolution: 'confirmed',
          by: 'ops@acme.example',
        });
        // Confirmed: not run again.
        expect(writesOf('u-dead-confirm')).toHaveLength(1);

        // Every run verifies; `runs explain` tells who resolved what, and who went on.
        const verified = await runIn(workspace, ['runs', 'verify', '--all']);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        for (const [runId, by, resolution] of [
          [retried.runId, 'bob@acme.example', 'retried'],
          [confirmed.runId, 'ops@acme.example', 'confirmed'],
        ] as const) {
          const explained = await runIn(workspace, ['runs', 'explain', runId]);
          expect(explained.code, explained.stderr).toBe(0);
          expect(explained.stdout).toContain(`${by} resolved courier.write`);
          expect(explained.stdout).toContain(`as ${resolution}`);
          // Neither run is left held, nor its lease with the dead worker.
          expect(await courier.statusOf(runId)).toBe('completed');
          expect((await leaseOf(runId))?.state).toBe('released');
        }
      },
    );
  },
);
