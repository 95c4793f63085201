// Chaos, with real processes and real signals on Postgres: one `factory serve --queue` accepts a
// stream of runs of the courier agent (plain ones, ones held for an approval, ones that wait
// mid-step) while `factory worker` processes drive them. Three kill slots run side by side, each
// starting a worker, waiting until it drives a run, and SIGKILLing it at a random point of that
// (at once, a random moment later, or right after its next tool call, where the call's outcome is
// not yet recorded). A kill point counts only when the worker held a run's lease as it died: at
// least 200 of them over the test. First, one worker is SIGSTOPped in the middle of a step past its
// lease and woken once another took its run over; Postgres itself is restarted once
// (`pg_ctlcluster <cluster> restart`) half way through the kills. The operator works all along, as
// one would: approves what waits for approval and settles what a kill left in doubt (confirming a
// write the tool recorded, retrying one it did not), over HTTP.
//
// Afterwards every run is completed exactly once, every run's write happened exactly once (counted
// at the tool itself: its MCP server appends every call it receives to its own file), the paused
// worker wrote nothing for the run it lost, everything the API acknowledged (a run accepted, a vote
// counted, a resolution accepted) is in the store, and the whole store verifies (`runs verify --all`).
//
// Leases are short here (AIFACTORY_LEASE_MS=1000, a 100 ms recovery interval) so that 200 kills fit
// in a few minutes: what costs time is starting 200 worker processes (about 1.5 s of CPU each).
// It restarts a Postgres cluster — AIFACTORY_PG_CLUSTER, default "15 main", the cluster
// AIFACTORY_TEST_DATABASE_URL points at — so it runs alone (`pnpm test:chaos`, after every other
// test); Postgres is running again when it ends.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '@aifactory/store';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCourierWorkspace,
  createToken,
  runIn,
  spawnIn,
  waitFor,
  type CourierWorkspace,
  type FactoryProcess,
} from '../fixtures/courier-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
/** Kill points over the test: SIGKILLs of a worker that held a run's lease. */
const killTarget = Number(process.env.AIFACTORY_CHAOS_KILLS ?? 200);
/** Kill slots: workers alive (and being killed) at once. */
const slots = 3;
/** Runs kept in flight (accepted and not yet completed) while the kills go on. */
const inFlight = 9;
const leaseMs = 1000;
const cluster = (process.env.AIFACTORY_PG_CLUSTER ?? '15 main').split(' ');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Restarts the Postgres cluster (as root, or through sudo without a password). */
function restartPostgres(): void {
  const args = [...cluster, 'restart'];
  if (process.getuid?.() === 0) execFileSync('pg_ctlcluster', args, { stdio: 'inherit' });
  else execFileSync('sudo', ['-n', 'pg_ctlcluster', ...args], { stdio: 'inherit' });
}

/** Tool servers (courier MCP servers of this workspace) still alive whose worker is gone (Linux /proc). */
function orphanedToolServers(callsFile: string, alive: Set<number>): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(callsFile)) continue;
      const parent = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      if (!alive.has(parent)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.skipIf(!databaseUrl)('chaos: workers SIGKILLed and paused at random, and Postgres restarted, while runs go on', () => {
  let workspace: CourierWorkspace;
  const schema = `t_chaos_${randomBytes(4).toString('hex')}`;
  const everyProcess: FactoryProcess[] = [];
  let store: Store;
  let stopping = false;

  beforeAll(async () => {
    workspace = createCourierWorkspace({ databaseUrl: databaseUrl!, schema, leaseMs, waitMs: 800 });
    store = await openStore({ databaseUrl: databaseUrl!, schema, maxConnections: 4 });
  });
  afterAll(async () => {
    stopping = true;
    for (const process of everyProcess) {
      try {
        globalThis.process.kill(process.pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await Promise.all(everyProcess.map((process) => process.stop('SIGKILL')));
    // Postgres must be up again whatever happened above (later CI steps need it).
    await waitFor(() => reachable(), 'Postgres to accept connections again', 120_000, 250).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`)).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
    await store?.close();
    workspace?.remove();
  });
  const reachable = () =>
    store.query(sql`SELECT 1`).then(
      () => true,
      () => false,
    );
  /** Rows, or undefined while Postgres is away (restarting). */
  const rowsOrNothing = <Row>(statement: ReturnType<typeof sql>) => store.query<Row>(statement).catch(() => undefined);

  it(
    `every run completes exactly once and every write happens once, through ${killTarget} SIGKILLs of workers mid-run, a worker paused past its lease and a Postgres restart`,
    { timeout: 900_000 },
    async () => {
      const started = Date.now();
      const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
      // Where the test is, on stderr as it goes: a timeout then says which phase it was in.
      const note = (phase: string) => process.stderr.write(`chaos +${seconds()} s: ${phase}\n`);
      const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
      const approver = await createToken(workspace, 'bob@acme.example', ['approver', 'ops-lead']);
      // Node's compile cache, shared by every process of the test: 200 worker starts parse the same modules.
      const compileCache = path.join(tmpdir(), 'aif-chaos-compile-cache');
      mkdirSync(compileCache, { recursive: true });
      const spawn = (args: string[]) => {
        const process = spawnIn(workspace, args, { NODE_COMPILE_CACHE: compileCache });
        everyProcess.push(process);
        return process;
      };
      const callsFile = path.join(workspace.dir, 'courier-calls.jsonl');

      // The API server, started again should it exit (as a process manager would; the Postgres restart may end it).
      let serve = spawn(['serve', '--queue', '--port', '0', '--shutdown-timeout', '2000']);
      let serveRestarts = 0;
      const keepServing = (current: FactoryProcess) =>
        void current.exited.then(() => {
          if (stopping) return;
          serveRestarts += 1;
          serve = spawn(['serve', '--queue', '--port', '0', '--shutdown-timeout', '2000']);
          keepServing(serve);
        });
      keepServing(serve);
      const serverUrl = () => /serving\S*\s+(http:\/\/\S+)/.exec(serve.stderr())?.[1];
      await waitFor(() => serverUrl() !== undefined, 'the API server', 300_000);
      note('API server up');
      const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

      const workers = new Set<FactoryProcess>();
      const spawnWorker = () => {
        const worker = spawn(['worker', '--concurrency', '4', '--recovery-interval', '100', '--quiet']);
        workers.add(worker);
        void worker.exited.then(() => workers.delete(worker));
        return worker;
      };
      const ready = (worker: FactoryProcess) => /worker\S* ready/.test(worker.stderr());
      const gone = (worker: FactoryProcess) => worker.child.exitCode !== null || worker.child.signalCode !== null;
      /** Whether the worker holds a live lease of a run (it drives one now). */
      const drivesARun = async (worker: FactoryProcess) => {
        const rows = await rowsOrNothing<{ n: number }>(
          sql`SELECT count(*)::int AS n FROM run_leases WHERE owner LIKE ${`%:${worker.pid}:%`} AND state <> 'released' AND expires_at > now()`,
        );
        return (rows?.[0]?.n ?? 0) > 0;
      };

      // What the API acknowledged: runs accepted (their ids), votes counted, resolutions accepted.
      const acknowledged = { runs: new Set<string>(), votes: new Set<string>(), resolutions: new Map<string, number>() };
      // A run is submitted until the store has it: a request cut by a restart is sent again only when
      // the run was not recorded (so no input is ever started twice). The answer comes once the run
      // completes or is held; nothing waits for it but the end of the test.
      const inputs: string[] = [];
      const requests: Array<Promise<unknown>> = [];
      const submit = (input: string) => {
        inputs.push(input);
        requests.push(
          (async () => {
            for (let attempt = 0; attempt < 100; attempt += 1) {
              const url = serverUrl();
              const ok = url
                ? await fetch(`${url}/v1/runs`, {
                    method: 'POST',
                    headers: headers(operator),
                    body: JSON.stringify({ agent: 'courier', input }),
                  })
                    .then(async (response) => {
                      const body = (await response.json().catch(() => ({}))) as { runId?: string };
                      if (response.ok && body.runId) acknowledged.runs.add(body.runId);
                      return response.status < 500;
                    })
                    .catch(() => false)
                : false;
              if (ok) return;
              await waitFor(() => reachable(), 'Postgres', 120_000, 250);
              const [known] = await store.query<{ id: string }>(sql`SELECT id FROM runs WHERE input->>'text' = ${input}`);
              if (known) return;
              await sleep(250);
            }
            throw new Error(`run ${input} could not be submitted`);
          })(),
        );
      };

      // The operator's part, all along: approve what waits for approval, settle what a kill left in doubt.
      const decided = new Set<string>();
      let decisions = 0;
      const operate = async () => {
        const url = serverUrl();
        if (!url) return;
        const pending = await rowsOrNothing<{ id: string }>(sql`SELECT id FROM approvals WHERE status = 'pending'`);
        for (const approval of pending ?? []) {
          if (decided.has(approval.id)) continue;
          decided.add(approval.id);
          void fetch(`${url}/v1/approvals/${approval.id}/approve`, { method: 'POST', headers: headers(approver), body: '{}' })
            .then(async (response) => {
              await response.text();
              if (response.ok) acknowledged.votes.add(approval.id);
              else decided.delete(approval.id);
            })
            .catch(() => decided.delete(approval.id));
        }
        const doubts = await rowsOrNothing<{ id: string; input: string; seq: number }>(
          sql`SELECT r.id, r.input->>'text' AS input, e.seq FROM runs r JOIN LATERAL (SELECT seq, type, payload FROM events WHERE run_id = r.id ORDER BY seq DESC LIMIT 1) e ON true
              WHERE r.status = 'held' AND e.type = 'run.held' AND e.payload LIKE '%outcome_unknown%'`,
        );
        if (!doubts?.length) return;
        // A write a killed worker sent may still sit in its tool server's input: decide once no tool
        // server outlives its worker (as an operator checks the system the write went to).
        const alive = new Set([...workers, serve].filter((process) => !gone(process)).map((process) => process.pid));
        if (orphanedToolServers(callsFile, alive).length > 0) return;
        for (const doubt of doubts) {
          const marker = `${doubt.id}@${doubt.seq}`;
          if (decided.has(marker)) continue;
          decided.add(marker);
          // Did the write the kill left in doubt happen? The tool's own record says.
          const wrote = workspace.calls().some((call) => call.tool === 'write' && call.key === doubt.input);
          decisions += 1;
          void fetch(`${url}/v1/runs/${doubt.id}/resolve`, {
            method: 'POST',
            headers: headers(approver),
            body: JSON.stringify(wrote ? { resolution: 'confirmed', result: `wrote ${doubt.input}` } : { resolution: 'retried' }),
          })
            .then(async (response) => {
              await response.text();
              if (response.ok) acknowledged.resolutions.set(doubt.id, (acknowledged.resolutions.get(doubt.id) ?? 0) + 1);
              else decided.delete(marker);
            })
            .catch(() => decided.delete(marker));
        }
      };
      let operating = true;
      const operatorLoop = (async () => {
        while (operating) {
          await operate().catch(() => undefined);
          await sleep(100);
        }
      })();

      try {
        // First, one worker paused in the middle of a step (its wait) past its lease: another worker
        // takes the run over; then it is woken up, and it must neither record nor write for that run.
        for (let slot = 0; slot < slots; slot += 1) spawnWorker();
        submit('s-paused');
        const topUp = () => {
          while (workers.size < slots) spawnWorker();
        };
        await waitFor(
          () => {
            topUp();
            return workspace.calls().some((call) => call.key === 's-paused' && call.tool === 'wait');
          },
          'the run to be waiting in a worker',
          300_000,
          20,
        ).catch((error: Error) => {
          throw new Error(
            `${error.message}\nserve: ${serve.stderr().slice(-2000)}\nprocesses: ${everyProcess
              .slice(-6)
              .map((process) => process.stderr().slice(-1000))
              .join('\n---\n')}`,
          );
        });
        const waitCall = workspace.calls().find((call) => call.key === 's-paused' && call.tool === 'wait')!;
        const zombie = [...workers].find((candidate) => candidate.pid === waitCall.pid)!;
        expect(zombie).toBeDefined();
        workers.delete(zombie);
        process.kill(zombie.pid, 'SIGSTOP');
        const [pausedRun] = await store.query<{ id: string }>(sql`SELECT id FROM runs WHERE input->>'text' = 's-paused'`);
        await waitFor(
          async () => {
            topUp();
            const recovered = await store.query<{ payload: string }>(
              sql`SELECT payload FROM events WHERE run_id = ${pausedRun!.id} AND type = 'run.recovered'`,
            );
            // Taken over by another process (the payload's owner; its previous_owner is the paused one).
            return recovered.some(
              (event) => !String((JSON.parse(event.payload) as { owner?: string }).owner ?? '').includes(`:${zombie.pid}:`),
            );
          },
          'another worker to take the paused run over',
          300_000,
          50,
        );
        process.kill(zombie.pid, 'SIGCONT');
        // Awake again, it is a worker like any other: the kill slots may take it.
        workers.add(zombie);
        note('the paused worker was fenced out and woken');

        // Then the stream of runs, kept at `inFlight` runs accepted and not yet completed, while the
        // kill slots SIGKILL workers in the middle of runs.
        let killPoints = 0;
        let idleKills = 0;
        let restarted = false;
        const claimed = new Set<FactoryProcess>();
        const killSlot = async () => {
          while (killPoints < killTarget) {
            const worker = [...workers].find((candidate) => !claimed.has(candidate) && !gone(candidate)) ?? spawnWorker();
            claimed.add(worker);
            await waitFor(() => ready(worker) || gone(worker), 'a worker to be ready', 300_000, 20);
            if (gone(worker)) continue;
            // Until it drives a run (or 10 s, should work run short).
            const until = Date.now() + 10_000;
            while (!gone(worker) && Date.now() < until && !(await drivesARun(worker))) await sleep(25);
            if (gone(worker)) continue;
            // A random point of what it does: at once, some moment later, or right after its next
            // tool call (in doubt: the call went out, its outcome is not recorded).
            const point = Math.random();
            if (point < 0.4) await sleep(Math.random() * 1500);
            else if (point < 0.8) {
              const before = workspace.calls().filter((call) => call.pid === worker.pid).length;
              await waitFor(
                () => workspace.calls().filter((call) => call.pid === worker.pid).length > before,
                'a tool call',
                3000,
                5,
              ).catch(() => undefined);
            }
            if (killPoints >= killTarget || gone(worker)) continue;
            const driving = await drivesARun(worker);
            workers.delete(worker);
            spawnWorker();
            try {
              process.kill(worker.pid, 'SIGKILL');
            } catch {
              continue; // it exited on its own meanwhile
            }
            if (driving) killPoints += 1;
            else idleKills += 1;
            if ((killPoints + idleKills) % 20 === 0) note(`${killPoints} kill points, ${idleKills} idle kills, ${inputs.length} runs`);
          }
        };
        let next = 0;
        const stream = (async () => {
          while (killPoints < killTarget) {
            // Submitted and not yet completed (counting requests the store has not recorded yet).
            const done = await rowsOrNothing<{ n: number }>(
              sql`SELECT count(*)::int AS n FROM runs WHERE status IN ('completed', 'failed')`,
            );
            if (done) {
              for (let count = inputs.length - done[0]!.n; count < inFlight; count += 1) {
                const index = next++;
                // Held for an approval, waiting mid-step, or plain: a quarter, a half and a quarter.
                submit(index % 4 === 0 ? `h-${index}` : index % 4 === 3 ? `k-${index}` : `s-${index}`);
              }
            }
            if (!restarted && killPoints >= killTarget / 2) {
              restarted = true;
              note('restarting Postgres');
              restartPostgres();
              note('Postgres restarted');
            }
            await sleep(100);
          }
        })();
        await Promise.all([stream, ...Array.from({ length: slots }, () => killSlot())]);
        const chaosEnded = Date.now();
        note(`kills done (${killPoints} kill points, ${idleKills} idle kills, ${inputs.length} runs); letting every run finish`);

        // Every run goes on to completion: workers enough, the operator still at work.
        await waitFor(
          async () => {
            while (workers.size < slots) spawnWorker();
            const rows = await rowsOrNothing<{ status: string }>(sql`SELECT status FROM runs`);
            return rows !== undefined && rows.length === inputs.length && rows.every((row) => row.status === 'completed');
          },
          'every run to complete',
          300_000,
          100,
        ).catch(async (error: Error) => {
          const open = await store.query<{ id: string; status: string; input: string }>(
            sql`SELECT id, status, input->>'text' AS input FROM runs WHERE status <> 'completed'`,
          );
          throw new Error(
            `${error.message}\n${inputs.length} submitted; open runs: ${JSON.stringify(open)}\nworkers: ${[...workers].map((worker) => worker.stderr().slice(-800)).join('\n---\n')}`,
          );
        });
        operating = false;
        await operatorLoop;
        await Promise.all(requests);

        expect(killPoints).toBeGreaterThanOrEqual(killTarget);
        expect(restarted).toBe(true);
        // One run per input (none started twice), each completed exactly once.
        const runs = await store.query<{ id: string; input: string }>(sql`SELECT id, input->>'text' AS input FROM runs`);
        expect(runs.map((run) => run.input).sort()).toEqual([...inputs].sort());
        const completions = await store.query<{ run_id: string; n: number }>(
          sql`SELECT run_id, count(*)::int AS n FROM events WHERE type = 'run.completed' GROUP BY run_id`,
        );
        expect(completions).toHaveLength(inputs.length);
        expect(completions.every((row) => row.n === 1)).toBe(true);
        // Each run's write happened exactly once, counted at the tool.
        const writes = new Map<string, number>();
        for (const call of workspace.calls().filter((candidate) => candidate.tool === 'write'))
          writes.set(call.key, (writes.get(call.key) ?? 0) + 1);
        expect([...writes.keys()].sort()).toEqual([...inputs].sort());
        expect([...writes].filter(([, count]) => count !== 1)).toEqual([]);
        // The paused worker, once woken, wrote nothing for the run it had lost.
        expect(workspace.calls().filter((call) => call.pid === zombie.pid && call.key === 's-paused' && call.tool === 'write')).toEqual([]);
        // Nothing the API acknowledged is lost: accepted runs, counted votes, accepted resolutions.
        const ids = new Set(runs.map((run) => run.id));
        expect([...acknowledged.runs].filter((id) => !ids.has(id))).toEqual([]);
        const votes = await store.query<{ approval_id: string }>(sql`SELECT DISTINCT approval_id FROM approval_votes`);
        const voted = new Set(votes.map((vote) => vote.approval_id));
        expect([...acknowledged.votes].filter((id) => !voted.has(id))).toEqual([]);
        const resolved = await store.query<{ run_id: string; n: number }>(
          sql`SELECT run_id, count(*)::int AS n FROM events WHERE type = 'action.resolved' GROUP BY run_id`,
        );
        const resolvedCount = new Map(resolved.map((row) => [row.run_id, row.n]));
        expect([...acknowledged.resolutions].filter(([id, n]) => (resolvedCount.get(id) ?? 0) < n)).toEqual([]);
        const verified = await runIn(workspace, ['runs', 'verify', '--all']);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        const inDoubt = (
          await store.query<{ n: number }>(
            sql`SELECT count(*)::int AS n FROM events WHERE type = 'run.held' AND payload LIKE '%outcome_unknown%'`,
          )
        )[0]!.n;
        process.stderr.write(
          `chaos: ${killPoints} kill points (SIGKILLs of a worker driving a run; ${idleKills} more of idle workers), a worker paused past its lease, a Postgres restart (API server restarted ${serveRestarts} time(s)); ${inputs.length} runs, ${inDoubt} held in doubt, ${decisions} resolutions, ${acknowledged.votes.size} approvals; chaos ${((chaosEnded - started) / 1000).toFixed(0)} s, all ${seconds()} s\n`,
        );
      } finally {
        operating = false;
        await operatorLoop;
      }
    },
  );
});
