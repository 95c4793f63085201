// `factory runs resolve` on a deployment of API servers and workers, as real processes on Postgres:
// a worker is SIGKILLed while a non-idempotent write is in flight (it happened at the tool, its
// outcome was never recorded); `runs list` reads the run orphaned; another worker holds it with
// reason outcome_unknown. A human then settles it — on the store with the CLI, and through the API
// server with a token — and each time the decision is recorded and the run handed to the job queue
// like any resume: a worker (never the CLI, never the server) goes on with it. `runs list` reads
// the run running while its owner lives, orphaned once it died, held while a human decides. A confirmed write is
// not run again; a retried one runs once more, as asked; every run verifies.
import { listRuns, readRunEvents } from '@aifactory/verification';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, runIn, waitFor } from '../fixtures/courier-workspace.ts';

describeOnCourierPostgres(
  'runs resolve through the job queue (real processes, Postgres)',
  { prefix: 't_resolveq', leaseMs: 2000 },
  (courier) => {
    const listed = async (runId: string) => {
      const result = await runIn(courier.workspace, ['runs', 'list', '--json']);
      return (JSON.parse(result.stdout) as { runs: Array<{ id: string; status: string }> }).runs.find((run) => run.id === runId)?.status;
    };
    const trace = async (runId: string) => {
      const events: Array<{ type: string; payload: Record<string, unknown> }> = [];
      for await (const event of readRunEvents(courier.store, runId))
        events.push({
          type: event.type,
          payload: event.payloadText === null ? {} : (JSON.parse(event.payloadText) as Record<string, unknown>),
        });
      return events;
    };

    it(
      'a write in doubt after a SIGKILL is held; confirmed on the store or retried through the server, the run goes on in a worker',
      { timeout: 1_800_000 },
      async () => {
        const { workspace, store, schema, writesOf } = courier;
        const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
        const approver = await createToken(workspace, 'bob@acme.example', ['approver']);
        const serve = await courier.serve(['--queue']);
        const url = serve.url;
        let worker = await courier.worker();

        /** Starts a run of `key`, kills its worker while the write is in flight, and waits until another worker holds it. */
        const putInDoubt = async (key: string): Promise<string> => {
          const reply = courier.postRun(url, operator, key);
          await waitFor(() => writesOf(key).length > 0, `the write of ${key} to reach the tool`);
          expect(writesOf(key)[0]!.pid).toBe(worker.pid);
          const runId = await courier.runOf(key);
          // Its owner is alive (the write takes seconds): the run reads running.
          for await (const row of listRuns(store, { runIds: [runId] })) expect(row.status).toBe('running');
          await worker.stop('SIGKILL');
          // No live owner: `runs list` no longer says running.
          await waitFor(async () => (await listed(runId)) === 'orphaned', `run ${runId} to read orphaned`, 120_000, 200);
          worker = await courier.worker();
          expect(await reply).toMatchObject({ runId: runId, status: 'held' });
          const held = (await trace(runId)).filter((event) => event.type === 'run.held').at(-1)!;
          expect(held.payload).toMatchObject({ reason: 'outcome_unknown', name: 'courier.write' });
          expect(await listed(runId)).toBe('held');
          return runId;
        };

        // 1. On the store (DATABASE_URL): the CLI records the decision and queues the run; a worker goes on.
        const confirmed = await putInDoubt('u-confirm');
        const onStore = await runIn(workspace, [
          'runs',
          'resolve',
          confirmed,
          '--confirm',
          '--result',
          'wrote u-confirm',
          '--as',
          'ops@acme.example',
          '--json',
        ]);
        expect(onStore.code, onStore.stderr + onStore.stdout).toBe(0);
        expect(JSON.parse(onStore.stdout)).toMatchObject({
          runId: confirmed,
          status: 'completed',
          resolution: 'confirmed',
          by: 'ops@acme.example',
          queue: `${schema}_jobs`,
        });
        // Confirmed: the write is not run again.
        expect(writesOf('u-confirm')).toHaveLength(1);
        const confirmedTrace = await trace(confirmed);
        const resolvedAt = confirmedTrace.findIndex((event) => event.type === 'action.resolved');
        expect(confirmedTrace[resolvedAt]!.payload).toMatchObject({
          resolution: 'confirmed',
          by: 'ops@acme.example',
          name: 'courier.write',
        });
        // After the decision the run was taken over by the live worker, not by the CLI.
        const takenOver = confirmedTrace.slice(resolvedAt).find((event) => event.type === 'run.recovered')!;
        expect(String(takenOver.payload.owner)).toContain(`:${worker.pid}:`);

        // 2. Through the API server with a token: --as is refused; the token's principal settles it.
        const retried = await putInDoubt('u-retry');
        const spoofed = await runIn(workspace, ['--server', url, 'runs', 'resolve', retried, '--retry', '--as', 'root@acme.example'], {
          AIFACTORY_TOKEN: approver,
        });
        expect(spoofed.code).toBe(2);
        expect(spoofed.stderr).toMatch(/--as is not trusted over the network/);
        expect(await courier.statusOf(retried)).toBe('held');
        const throughServer = await runIn(workspace, ['--server', url, 'runs', 'resolve', retried, '--retry', '--json'], {
          AIFACTORY_TOKEN: approver,
        });
        expect(throughServer.code, throughServer.stderr + throughServer.stdout).toBe(0);
        expect(JSON.parse(throughServer.stdout)).toMatchObject({
          runId: retried,
          resolution: 'retried',
          by: 'bob@acme.example',
          server: url,
        });
        await waitFor(async () => (await courier.statusOf(retried)) === 'completed', `run ${retried} to complete`, 300_000, 100).catch(
          async (error: Error) => {
            const types = (await trace(retried)).map((event) => event.type).join(', ');
            throw new Error(
              `${error.message} Its trace: ${types}. Worker: ${worker.stderr().slice(-3000)} Server: ${serve.stderr().slice(-3000)}`,
            );
          },
        );
        // Retried, as the human asked: the write ran once more, in the live worker (not in the server).
        expect(writesOf('u-retry').map((call) => call.pid)).toEqual([expect.any(Number), worker.pid]);
        expect(writesOf('u-retry')[1]!.pid).not.toBe(serve.pid);

        // Nothing is left to resolve, and everything verifies.
        const again = await runIn(workspace, ['runs', 'resolve', retried, '--retry']);
        expect(again.code).toBe(2);
        expect(again.stderr).toContain('nothing to resolve');
        const verified = await runIn(workspace, ['runs', 'verify', '--all']);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      },
    );
  },
);
