// Votes cast from another process while the run they decided goes on, as real processes on
// Postgres (the bug: "a vote cast from another process while the run continued made the run fail
// (seq 24 is taken)"). The courier run's first tool call (the read of a `v-` key) needs one
// ops-lead's approval; two approvers vote at the same moment through two different servers. One
// vote decides, and the run goes on in that server (the read, a wait of seconds, the write) while
// the other server keeps recording votes on it from its own process: each is refused (the approval
// is decided) and the refusal is appended to the very run that is appending its own steps. The run
// never fails, its seqs stay contiguous, each tool ran once and it verifies. Distinct from
// two-approvers.test.ts, where both votes land on a run that is still held.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, runIn } from '../fixtures/courier-workspace.ts';

describeOnCourierPostgres(
  'votes from another process while the run goes on (real processes, Postgres)',
  // Leases of 10 s: nothing here is about a lease lapsing, and a whole-suite run at load 20-30 can
  // stall a server past a 2-s lease, when the other server rightly takes the run over (fencing) and
  // the tool calls no longer all come from the server whose vote decided.
  { prefix: 't_voterun', leaseMs: 10_000, waitMs: 2500 },
  (courier) => {
    it(
      'the run never fails: refused votes from the other server land between its own events, seqs stay contiguous, the write runs once, it verifies',
      { timeout: 900_000 },
      async () => {
        const { workspace, store } = courier;
        const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
        const approvers = await Promise.all(
          ['bob@acme.example', 'dave@acme.example'].map((principal) => createToken(workspace, principal, ['approver', 'ops-lead'])),
        );
        const [east, west] = await Promise.all([courier.serve(), courier.serve()]);
        const attempt = randomBytes(3).toString('hex');
        const keys = [`v-vote-1-${attempt}`, `v-vote-2-${attempt}`];
        for (const key of keys) {
          const held = await courier.postRun<{ runId: string; status: string; held: { approvalId: string } }>(east.url, operator, key);
          expect(held.status).toBe('held');
          const vote = (url: string, token: string) =>
            fetch(`${url}/v1/approvals/${held.held.approvalId}/approve`, {
              method: 'POST',
              headers: courier.headers(token),
              body: JSON.stringify({ comment: `for ${key}` }),
            }).then(async (reply) => ({ status: reply.status, text: await reply.text() }));

          // Both vote at the same moment, each through a server of its own.
          const first = await Promise.all([vote(east.url, approvers[0]!), vote(west.url, approvers[1]!)]);
          // While the run goes on (it waits 2.5 s after its read), the west server keeps recording
          // votes on it: each is refused and appended to the run from that process. (Started only
          // once both votes are answered: a late vote sent beside them could decide first, leaving
          // both of theirs refused — what failed a whole-suite run of session 7.)
          const late: Array<{ status: number; text: string }> = [];
          let ended = false;
          const hammering = (async () => {
            while (!ended) {
              late.push(await vote(west.url, approvers[1]!));
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          })();
          await courier.waitForStatus(held.runId, 'completed', `run ${held.runId} to complete`, east).finally(() => (ended = true));
          await hammering;

          // Exactly one vote decided; the other was answered, not a server error.
          expect(first.map((reply) => reply.status).sort(), JSON.stringify(first)).toEqual([200, 409]);
          // The refused votes were recorded in the run while it was going on, between its own events.
          const events = await store.query<{ seq: number; type: string }>(
            sql`SELECT seq, type FROM events WHERE run_id = ${held.runId} ORDER BY seq`,
          );
          const types = events.map((event) => event.type);
          const refusedAt = types.flatMap((type, index) => (type === 'approval.refused' ? [index] : []));
          expect(refusedAt.length, types.join(', ')).toBeGreaterThan(0);
          expect(
            refusedAt.some((index) => index > types.indexOf('approval.consumed') && index < types.indexOf('run.completed')),
            types.join(', '),
          ).toBe(true);
          // Contiguous seqs from 1, one end, nothing after it.
          expect(events.map((event) => Number(event.seq))).toEqual(events.map((_, index) => index + 1));
          expect(types.filter((type) => type === 'run.completed' || type === 'run.failed')).toEqual(['run.completed']);
          expect(types.at(-1)).toBe('run.completed');
          // A vote after the run ended is refused with a clear answer, never a server error.
          for (const reply of late) expect(reply.status, reply.text).toBeLessThan(500);
          // The held-up read, the wait and the write each ran once, in the server whose vote decided.
          // (On a loaded machine that server's own supervisor used to take the resumed run for a
          // stalled one and drive it a second time, running the read and the wait twice; one driver
          // per run within a process: test/one-driver-per-process.test.ts.)
          const decider = first[0]!.status === 200 ? east : west;
          const calls = workspace.calls().filter((call) => call.key === key);
          expect(calls.every((call) => call.pid === decider.pid)).toBe(true);
          expect(calls.map((call) => call.tool).sort()).toEqual(['read', 'wait', 'write']);
        }
        const verified = await runIn(workspace, ['runs', 'verify', '--all']);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        for (const server of [east, west]) expect((await server.stop('SIGTERM')).code, server.stderr()).toBe(0);
      },
    );
  },
);
