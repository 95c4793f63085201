// Chaos, with real processes and real signals on Postgres: one `factory serve --queue` accepts a
// stream of runs of the courier agent (plain ones, ones held for an approval, ones that wait
// mid-step) while `factory worker` processes drive them. Four kill slots run side by side, each
// starting a worker, letting it live to a random point (a random moment after it is ready, or the
// moment right after it made a tool call, where its outcome is not yet recorded) and SIGKILLing it
// — at least 200 times over the test. One worker is SIGSTOPped in the middle of a step past its
// lease and woken up later, and Postgres itself is restarted once (`pg_ctlcluster 15 main
// restart`) while runs are going on. Afterwards, once the operator has approved what waits for
// approval and settled what a kill left in doubt (confirming a write the tool recorded, retrying
// one it did not), every run is completed exactly once, every run's write happened exactly once
// (counted at the tool itself), the paused worker wrote nothing after it woke, and the whole store
// verifies (`runs verify --all`).
//
// Leases are short here (AIFACTORY_LEASE_MS=1000, a 100 ms recovery interval) so that 200 kills fit
// in a few minutes: what costs time is starting 200 worker processes. It restarts the machine's
// Postgres, so it runs alone (`pnpm test:chaos`, a step of its own in .ci/run); Postgres is running
// again when it ends.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
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
/** SIGKILLs over the test. */
const killTarget = Number(process.env.AIFACTORY_CHAOS_KILLS ?? 200);
/** Kill slots: workers alive (and being killed) at once, besides the woken zombie. */
const slots = 4;
const leaseMs = 1000;
const cluster = (process.env.AIFACTORY_PG_CLUSTER ?? '15 main').split(' ');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Restarts the Postgres cluster (as root, or through sudo without a password). */
function restartPostgres(): void {
  const args = [...cluster, 'restart'];
  if (process.getuid?.() === 0) execFileSync('pg_ctlcluster', args, { stdio: 'inherit' });
  else execFileSync('sudo', ['-n', 'pg_ctlcluster', ...args], { stdio: 'inherit' });
}

describe.skipIf(!databaseUrl)('chaos: workers SIGKILLed and paused at random, and Postgres restarted, while runs go on', () => {
  let workspace: CourierWorkspace;
  const schema = `t_chaos_${randomBytes(4).toString('hex')}`;
  const everyProcess: FactoryProcess[] = [];
  let store: Store;
  let stopping = false;

  beforeAll(async () => {
    workspace = createCourierWorkspace({ databaseUrl: databaseUrl!, schema, leaseMs, waitMs: 800 });
    store = await openStore({ databaseUrl: databaseUrl!, schema, maxConnections: 2 });
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

  it(
    `every run completes exactly once and every write happens once, through ${killTarget} SIGKILLs, a worker paused past its lease and a Postgres restart`,
    { timeout: 1_500_000 },
    async () => {
      const started = Date.now();
      // Where the test is, on stderr as it goes: a timeout then says which phase it was in.
      const note = (phase: string) => process.stderr.write(`chaos +${((Date.now() - started) / 1000).toFixed(0)} s: ${phase}\n`);
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

      // A run is submitted until the store has it: a request cut by a restart is sent again only when
      // the run was not recorded (so no input is ever started twice).
      const submitted: Array<Promise<unknown>> = [];
      const submit = (input: string) =>
        submitted.push(
          (async () => {
            for (let attempt = 0; attempt < 50; attempt += 1) {
              const url = serverUrl();
              const ok = url
                ? await fetch(`${url}/v1/runs`, {
                    method: 'POST',
                    headers: headers(operator),
                    body: JSON.stringify({ agent: 'courier', input }),
                  })
                    .then((response) => response.text().then(() => response.status < 500))
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
      for (let slot = 0; slot < slots; slot += 1) spawnWorker();

      // First, one worker paused in the middle of a step (its wait) past its lease: another worker
      // takes the run over; then it is woken up and stays alive to the end, so it has every chance
      // to (wrongly) act on the run it lost.
      submit('s-paused');
      // A worker that exits on its own (before the kills start) is replaced, as a process manager would.
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
      note('the paused worker was fenced out and woken');

      // Then the stream of runs, in three waves, while the kill slots SIGKILL workers at random points.
      const inputs: string[] = [];
      for (let index = 0; index < 60; index += 1)
        inputs.push(index % 5 === 0 ? `h-${index}` : index % 5 === 1 ? `s-${index}` : `k-${index}`);
      let kills = 0;
      let restarted = false;
      const killSlot = async () => {
        let worker = [...workers].find((candidate) => candidate !== zombie && !claimed.has(candidate)) ?? spawnWorker();
        claimed.add(worker);
        while (kills < killTarget) {
          await waitFor(() => ready(worker) || gone(worker), 'a worker to be ready', 300_000, 20);
          if (!gone(worker)) {
            // A random point: some moment of its life, or right after its next tool call (in doubt).
            if (Math.random() < 0.5) await sleep(Math.random() * 1500);
            else {
              const before = workspace.calls().filter((call) => call.pid === worker.pid).length;
              await waitFor(
                () => workspace.calls().filter((call) => call.pid === worker.pid).length > before,
                'a tool call',
                3000,
                10,
              ).catch(() => undefined);
            }
            if (kills >= killTarget) return;
            workers.delete(worker);
            try {
              process.kill(worker.pid, 'SIGKILL');
              kills += 1;
              if (kills % 20 === 0) note(`${kills} SIGKILLs`);
            } catch {
              // it exited on its own meanwhile
            }
          }
          worker = spawnWorker();
          claimed.add(worker);
        }
      };
      const claimed = new Set<FactoryProcess>();
      for (const input of inputs.slice(0, 20)) submit(input);
      const slotsDone = Promise.all(Array.from({ length: slots }, () => killSlot()));
      let waves = 1;
      let stop = false;
      void slotsDone.finally(() => (stop = true));
      while (!stop) {
        // The second and third waves once a third and two thirds of the kills are done; Postgres
        // restarts half way, while runs are mid-step.
        if (waves < 3 && kills >= Math.floor((waves * killTarget) / 3)) {
          for (const input of inputs.slice(waves * 20, (waves + 1) * 20)) submit(input);
          waves += 1;
        }
        if (!restarted && kills >= killTarget / 2) {
          restarted = true;
          restartPostgres();
          note('Postgres restarted');
          await waitFor(() => reachable(), 'Postgres to be back', 120_000, 100);
        }
        await sleep(50);
      }
      await slotsDone;
      for (const input of inputs.slice(waves * 20)) submit(input);
      const chaosEnded = Date.now();
      note('kills done; approving and settling');

      // The operator's part: approve what waits for approval, settle what a kill left in doubt.
      const settled = new Set<string>();
      await waitFor(
        async () => {
          let rows: Array<{ id: string; status: string; input: string }>;
          try {
            rows = await store.query<{ id: string; status: string; input: string }>(
              sql`SELECT id, status, input->>'text' AS input FROM runs`,
            );
          } catch {
            return false;
          }
          const open = rows.filter((row) => row.status !== 'completed');
          if (rows.length === inputs.length + 1 && open.length === 0) return true;
          const url = serverUrl();
          if (!url) return false;
          for (const row of open.filter((candidate) => candidate.status === 'held')) {
            const [pending] = await store.query<{ id: string }>(
              sql`SELECT id FROM approvals WHERE run_id = ${row.id} AND status = 'pending'`,
            );
            if (pending && !settled.has(pending.id)) {
              settled.add(pending.id);
              await fetch(`${url}/v1/approvals/${pending.id}/approve`, { method: 'POST', headers: headers(approver), body: '{}' })
                .then((response) => response.ok || settled.delete(pending.id))
                .catch(() => settled.delete(pending.id));
              continue;
            }
            const [last] = await store.query<{ payload: string }>(
              sql`SELECT payload FROM events WHERE run_id = ${row.id} AND type = 'run.held' ORDER BY seq DESC LIMIT 1`,
            );
            const [seqRow] = await store.query<{ seq: number }>(sql`SELECT max(seq)::int AS seq FROM events WHERE run_id = ${row.id}`);
            const marker = `${row.id}@${seqRow?.seq}`;
            if (last && last.payload.includes('outcome_unknown') && !settled.has(marker)) {
              settled.add(marker);
              // Did the write the kill left in doubt happen? The tool's own record says.
              const wrote = workspace.calls().some((call) => call.tool === 'write' && call.key === row.input);
              await fetch(`${url}/v1/runs/${row.id}/resolve`, {
                method: 'POST',
                headers: headers(approver),
                body: JSON.stringify(wrote ? { resolution: 'confirmed', result: `wrote ${row.input}` } : { resolution: 'retried' }),
              })
                .then((response) => response.ok || settled.delete(marker))
                .catch(() => settled.delete(marker));
            }
          }
          return false;
        },
        'every run to complete',
        600_000,
        100,
      ).catch(async (error: Error) => {
        const open = await store.query<{ id: string; status: string; input: string }>(
          sql`SELECT id, status, input->>'text' AS input FROM runs WHERE status <> 'completed'`,
        );
        throw new Error(
          `${error.message}\nopen runs: ${JSON.stringify(open)}\nworkers: ${[...workers].map((worker) => worker.stderr().slice(-800)).join('\n---\n')}`,
        );
      });
      await Promise.all(submitted);

      expect(kills).toBeGreaterThanOrEqual(killTarget);
      expect(restarted).toBe(true);
      // Each run completed exactly once.
      const completions = await store.query<{ run_id: string; n: number }>(
        sql`SELECT run_id, count(*)::int AS n FROM events WHERE type = 'run.completed' GROUP BY run_id`,
      );
      expect(completions).toHaveLength(inputs.length + 1);
      expect(completions.every((row) => row.n === 1)).toBe(true);
      // Each run's write happened exactly once, counted at the tool.
      const writes = new Map<string, number>();
      for (const call of workspace.calls().filter((candidate) => candidate.tool === 'write'))
        writes.set(call.key, (writes.get(call.key) ?? 0) + 1);
      expect([...writes.keys()].sort()).toEqual([...inputs, 's-paused'].sort());
      expect([...writes.values()].every((count) => count === 1)).toBe(true);
      // The paused worker, once woken, wrote nothing for the run it had lost.
      expect(workspace.calls().filter((call) => call.pid === zombie.pid && call.key === 's-paused' && call.tool === 'write')).toEqual([]);
      const verified = await runIn(workspace, ['runs', 'verify', '--all']);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      const inDoubt = (
        await store.query<{ n: number }>(
          sql`SELECT count(*)::int AS n FROM events WHERE type = 'run.held' AND payload LIKE '%outcome_unknown%'`,
        )
      )[0]!.n;
      process.stderr.write(
        `chaos: ${kills} SIGKILLs, a worker paused past its lease, a Postgres restart (API server restarted ${serveRestarts} time(s)); ${inputs.length + 1} runs, ${inDoubt} held in doubt, ${settled.size} approvals and resolutions; chaos ${((chaosEnded - started) / 1000).toFixed(0)} s, all ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
      );
    },
  );
});
