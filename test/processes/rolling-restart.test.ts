// A rolling restart of `factory serve` (in-process workers, no queue) as an operator does it, on
// Postgres: runs are in the middle of a step when the server gets SIGTERM. It refuses new runs,
// lets the step in flight finish, writes a fresh checkpoint, hands each run back (its lease
// released, not left to lapse), answers their callers so, and exits 0. A second server on the same
// store goes on with them at once. Every run completes, each tool call happened exactly once
// (counted at the MCP tool server itself: read and wait in the first server, write in the second),
// a run held for an approval across the restart is approved on the new server, and every run verifies.
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, runIn, waitFor } from '../fixtures/courier-workspace.ts';

// The timing: SIGTERM comes while every run is in its wait (4.5 s). The server first gives runs in
// flight --shutdown-timeout (2 s) to park or end on their own, then asks them to stop at their next
// step boundary and waits up to 2 s more for that: so each wait must have begun between 0.5 s and
// 2.5 s before the SIGTERM to be handed back rather than finished in the first server.
const waitMs = 4500;
const shutdownTimeoutMs = 2000;

describeOnCourierPostgres(
  'a rolling restart of factory serve (real processes, Postgres)',
  { prefix: 't_rolling', leaseMs: 2000, waitMs },
  (courier) => {
    it(
      'SIGTERM with runs mid-step: serve hands them back at a checkpoint and exits 0; a second serve goes on with them; nothing runs twice, nothing is lost',
      { timeout: 900_000 },
      async () => {
        const { workspace, store } = courier;
        const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
        const approver = await createToken(workspace, 'bob@acme.example', ['approver', 'ops-lead']);
        const first = await courier.serve(['--shutdown-timeout', String(shutdownTimeoutMs)]);

        // One run held for an approval, and three in flight.
        const held = await courier.postRun<{ runId: string; status: string; held: { approvalId: string } }>(first.url, operator, 'h-roll');
        expect(held.status).toBe('held');
        const keys = ['s-roll-1', 's-roll-2', 's-roll-3'];
        const replies = keys.map(async (key) => {
          const reply = await fetch(`${first.url}/v1/runs`, {
            method: 'POST',
            headers: courier.headers(operator),
            body: JSON.stringify({ agent: 'courier', input: key }),
          });
          return { status: reply.status, body: (await reply.json()) as { error?: { message?: string }; status?: string } };
        });
        const waits = () => workspace.calls().filter((call) => call.tool === 'wait' && keys.includes(call.key));
        await waitFor(() => waits().length === keys.length, 'every run to be in its wait', 300_000).catch((error: Error) => {
          throw new Error(`${error.message}\nserve: ${first.stderr().slice(-3000)}`);
        });
        const runIds = await Promise.all(keys.map((key) => courier.runOf(key)));
        // SIGTERM 0.7 s after the last wait began (see the timing above).
        const latest = Math.max(...waits().map((call) => call.at));
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, latest + 700 - Date.now())));
        const signalledAt = Date.now();
        const { code } = await first.stop('SIGTERM');
        expect(code, first.stderr()).toBe(0);
        expect(first.stderr()).toContain('SIGTERM: shutting down');
        expect(first.stderr()).toContain('\nstopped\n');
        // The timing held (else the runs were not mid-step when asked to stop, and this test says nothing).
        expect(signalledAt - Math.min(...waits().map((call) => call.at))).toBeLessThan(waitMs - shutdownTimeoutMs);

        // Each caller was told its run was handed back at a checkpoint; the runs are still running,
        // with a fresh checkpoint each, and nobody holds them (the leases were released, not left to lapse).
        for (const reply of await Promise.all(replies)) {
          expect(reply.status, JSON.stringify(reply.body)).toBe(409);
          expect(reply.body.error?.message).toContain('was handed back at a checkpoint');
        }
        for (const runId of runIds) {
          expect(await courier.statusOf(runId)).toBe('running');
          const [lease] = await store.query<{ state: string }>(sql`SELECT state FROM run_leases WHERE run_id = ${runId}`);
          expect(lease!.state).toBe('released');
          const [checkpoints] = await store.query<{ n: number }>(
            sql`SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = ${runId}`,
          );
          expect(checkpoints!.n).toBeGreaterThan(0);
        }
        expect(workspace.calls().filter((call) => call.tool === 'write')).toEqual([]);

        // The next server on the same store goes on with them, and the held run is approved there.
        const second = await courier.serve(['--shutdown-timeout', String(shutdownTimeoutMs)]);
        const vote = await fetch(`${second.url}/v1/approvals/${held.held.approvalId}/approve`, {
          method: 'POST',
          headers: courier.headers(approver),
          body: JSON.stringify({ comment: 'after the restart' }),
        });
        expect(vote.status, await vote.clone().text()).toBe(200);
        for (const runId of [...runIds, held.runId]) await courier.waitForStatus(runId, 'completed', `run ${runId} to complete`, second);
        for (const runId of runIds) {
          const detail = (await (await fetch(`${second.url}/v1/runs/${runId}`, { headers: courier.headers(operator) })).json()) as {
            run: { status: string };
          };
          expect(detail.run.status).toBe('completed');
        }

        // Each tool call happened once, counted at the tool: read and wait in the first server, the
        // write in the second; the held write once, in the second (where it was approved).
        const where = (pid: number) => (pid === first.pid ? 'first' : pid === second.pid ? 'second' : `pid ${pid}`);
        for (const key of keys)
          expect(
            workspace
              .calls()
              .filter((call) => call.key === key)
              .map((call) => `${call.tool}@${where(call.pid)}`),
          ).toEqual(['read@first', 'wait@first', 'write@second']);
        expect(courier.writesOf('h-roll').map((call) => where(call.pid))).toEqual(['second']);
        // The runs went on from their checkpoint in a new owner (run.recovered), and ended once.
        for (const runId of runIds) {
          const types = (
            await store.query<{ type: string }>(
              sql`SELECT type FROM events WHERE run_id = ${runId} AND type IN ('run.recovered', 'run.completed', 'run.failed') ORDER BY seq`,
            )
          ).map((event) => event.type);
          expect(types).toEqual(['run.recovered', 'run.completed']);
        }
        const verified = await runIn(workspace, ['runs', 'verify', '--all']);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        const { code: secondCode } = await second.stop('SIGTERM');
        expect(secondCode, second.stderr()).toBe(0);
      },
    );
  },
);
