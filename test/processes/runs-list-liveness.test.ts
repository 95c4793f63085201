// What `runs list` (the CLI) and GET /v1/runs say of a run whose process died, as real processes on
// Postgres: `running` while its owner lives (over HTTP: a CLI process starts slower than a loaded
// machine leaves the run mid-step; resolve-through-queue asserts it through listRuns); after a SIGKILL mid-step, `orphaned` once its lease
// lapsed (never `running` for a run nobody drives); `recovering` while a live server has taken it
// over and not yet gone on with it; `completed` after. The recovering window lasts only from the
// take-over to the commit of run.recovered (milliseconds), so the test holds it open for real by
// locking the events table against writes (reads go on); the take-over itself is the live server's.
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, runIn, waitFor, type FactoryProcess } from '../fixtures/courier-workspace.ts';

describeOnCourierPostgres(
  'runs list says who drives a run (real processes, Postgres)',
  { prefix: 't_liveness', leaseMs: 2000, waitMs: 8000 },
  (courier) => {
    /** The run's status as `factory runs list --json` prints it. */
    const listed = async (runId: string) => {
      const result = await runIn(courier.workspace, ['runs', 'list', '--json']);
      expect(result.code, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { runs: Array<{ id: string; status: string }> }).runs.find((run) => run.id === runId)?.status;
    };
    /** The run's status in GET /v1/runs of the server at `url`, and whether ?status= finds it. */
    const listedOver = async (url: string, token: string, runId: string) => {
      const page = (await (await fetch(`${url}/v1/runs`, { headers: courier.headers(token) })).json()) as {
        runs: Array<{ id: string; status: string }>;
      };
      const status = page.runs.find((run) => run.id === runId)?.status;
      const filtered = (await (await fetch(`${url}/v1/runs?status=${status}`, { headers: courier.headers(token) })).json()) as {
        runs: Array<{ id: string }>;
      };
      return { status, filtered: filtered.runs.some((run) => run.id === runId) };
    };

    it(
      'running while its server lives; orphaned after a SIGKILL mid-step; recovering while another server takes it over; completed after',
      { timeout: 900_000 },
      async () => {
        const { workspace, store } = courier;
        const auditor = await createToken(workspace, 'ivy@acme.example', ['operator', 'auditor']);
        const first = await courier.serve();
        void courier.postRun(first.url, auditor, 's-liveness').catch(() => undefined);
        await waitFor(() => workspace.calls().some((call) => call.tool === 'wait' && call.key === 's-liveness'), 'the run to be mid-step');
        const runId = await courier.runOf('s-liveness');
        expect(await listedOver(first.url, auditor, runId)).toEqual({ status: 'running', filtered: true });

        await first.stop('SIGKILL');
        // Its lease lapses (2 s): from then on it reads orphaned, on the CLI and (below) over HTTP.
        await waitFor(async () => (await listed(runId)) === 'orphaned', 'the run to read orphaned', 60_000, 200);
        const orphanedCli = await runIn(workspace, ['runs', 'list', '--status', 'orphaned', '--json']);
        expect((JSON.parse(orphanedCli.stdout) as { runs: Array<{ id: string }> }).runs.map((run) => run.id)).toContain(runId);
        const stillRunning = await runIn(workspace, ['runs', 'list', '--status', 'running', '--json']);
        expect((JSON.parse(stillRunning.stdout) as { runs: Array<{ id: string }> }).runs.map((run) => run.id)).not.toContain(runId);

        // Another server takes the run over; its run.recovered waits on the events table (locked
        // against writes), so the take-over is seen before it goes on.
        const unlock = await courier.lockAgainstWrites('events');
        let second: FactoryProcess & { url: string };
        try {
          second = await courier.serve();
          await waitFor(async () => {
            const [lease] = await store.query<{ state: string }>(sql`SELECT state FROM run_leases WHERE run_id = ${runId}`);
            return lease?.state === 'recovering';
          }, 'the second server to take the run over').catch((error: Error) => {
            throw new Error(`${error.message}\nserve: ${second.stderr().slice(-3000)}`);
          });
          expect(await listedOver(second.url, auditor, runId)).toEqual({ status: 'recovering', filtered: true });
          expect(await listed(runId)).toBe('recovering');
        } finally {
          await unlock();
        }
        await courier.waitForStatus(runId, 'completed', 'the second server to complete the run', second!);
        expect(await listedOver(second!.url, auditor, runId)).toEqual({ status: 'completed', filtered: true });
        expect(await listed(runId)).toBe('completed');

        // The read happened once; the wait (idempotent) was in flight at the kill and ran again; the write once, in the second server.
        const where = (pid: number) => (pid === first.pid ? 'first' : pid === second!.pid ? 'second' : `pid ${pid}`);
        expect(
          workspace
            .calls()
            .filter((call) => call.key === 's-liveness')
            .map((call) => `${call.tool}@${where(call.pid)}`),
        ).toEqual(['read@first', 'wait@first', 'wait@second', 'write@second']);
        const verified = await runIn(workspace, ['runs', 'verify', runId]);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        const { code } = await second!.stop('SIGTERM');
        expect(code, second!.stderr()).toBe(0);
      },
    );
  },
);
