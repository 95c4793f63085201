// Chaos, with real processes and real signals on Postgres: one `factory serve --queue` accepts a
// stream of runs of the example agents (example-workspace.ts: the demo's file clerk, whose writes
// wait for an ops lead, and the business app's order desk, whose refund promises wait for a
// support lead) while `factory worker` processes drive them. Three kill slots run side by side,
// each starting a worker, waiting until it drives a run, and SIGKILLing it at a random point of
// that (at once, a random moment later, or right after its next tool call, where the call's
// outcome is not yet recorded). A kill point counts only when the worker held a run's lease as it
// died: at least 200 of them over the test. Now and then a slot SIGSTOPs its worker instead, past
// its lease, and wakes it once another worker took its run over (a zombie, fenced out); Postgres
// itself is restarted once (`pg_ctlcluster <cluster> restart`) half way through the kills. The
// operator works all along, as one would: approves what waits for approval and settles what a
// kill left in doubt (confirming a write the tool received, retrying one it did not), over HTTP.
//
// Afterwards every run is completed, every run's write happened exactly once (counted at the tool
// itself: tool-call-tap.mjs, preloaded into the filesystem server, appends every call the server
// receives to a file, and the file is there), no zombie wrote for a run it had lost, everything the API acknowledged (a run
// accepted, a vote counted, a resolution accepted) is in the store, and the whole store verifies
// (`runs verify --all`).
//
// Leases are short here (AIFACTORY_LEASE_MS=1000, a 500 ms recovery interval) so that 200 kills fit
// in a few minutes: what costs time is starting 200 worker processes. It restarts a Postgres
// cluster — AIFACTORY_PG_CLUSTER, default "15 main", the cluster AIFACTORY_TEST_DATABASE_URL points
// at — so it runs alone (`pnpm test:chaos`, after every other test); Postgres is running again when it ends.
//
// Knobs, for iterating and for a post-mortem (CI sets none): AIFACTORY_CHAOS_KILLS (kill points, default
// 200), AIFACTORY_CHAOS_TIMEOUT_MS (the hard bound, default 15 min), AIFACTORY_CHAOS_KEEP=1 (keep the
// schema, the folder and every process's stderr in <folder>/logs).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '@aifactory/store';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, runIn, spawnIn, waitFor, type CourierWorkspace, type FactoryProcess } from '../fixtures/courier-workspace.ts';
import { createExampleWorkspace, type ExampleWorkspace } from './example-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
/** Kill points over the test: SIGKILLs of a worker that held a run's lease. */
const killTarget = Number(process.env.AIFACTORY_CHAOS_KILLS ?? 200);
/** Zombies over the test: workers SIGSTOPped past their lease and woken once their run was taken over. */
const pauseTarget = 4;
/** Kill slots: workers alive (and being killed) at once. */
const slots = 3;
/** Runs kept in flight (accepted and not yet completed) while the kills go on. */
const inFlight = 9;
const leaseMs = 1000;
/**
 * How often each worker's supervisor looks for runs to recover. A dead owner's run is found when
 * its lease lapses whatever this is (a supervisor wakes at the soonest lapse it saw coming within
 * an interval, and leases are renewed every third of theirs), so this only bounds how late a
 * decided approval or resolution nobody applied is picked up; at 100 ms the scans of four workers
 * cost ~0.02 CPU-s a second each of theirs and as much of Postgres's, for nothing here.
 */
const recoveryIntervalMs = 500;
const cluster = (process.env.AIFACTORY_PG_CLUSTER ?? '15 main').split(' ');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Restarts the Postgres cluster (as root, or through sudo without a password). */
function restartPostgres(): void {
  const args = [...cluster, 'restart'];
  if (process.getuid?.() === 0) execFileSync('pg_ctlcluster', args, { stdio: 'inherit' });
  else execFileSync('sudo', ['-n', 'pg_ctlcluster', ...args], { stdio: 'inherit' });
}

/** Tool servers of this workspace (the tap on their command line) still alive whose worker is gone (Linux /proc). */
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

/** CPU seconds a live process has used so far (Linux /proc; clock ticks of 10 ms), 0 once it is gone. */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The agent a request goes to: `clerk-…` to the file clerk, `refund …` and `where …` to the order desk. */
const agentOf = (input: string) => (input.startsWith('clerk-') ? 'file-clerk' : 'order-desk');

describe.skipIf(!databaseUrl)('chaos: workers SIGKILLed and paused at random, and Postgres restarted, while the example agents run', () => {
  let workspace: ExampleWorkspace;
  /** What the process helpers need of a workspace: its folder and environment. */
  let host: CourierWorkspace;
  const schema = `t_chaos_${randomBytes(4).toString('hex')}`;
  const everyProcess: FactoryProcess[] = [];
  let store: Store;
  let stopping = false;

  beforeAll(async () => {
    workspace = createExampleWorkspace({ databaseUrl: databaseUrl!, schema, leaseMs });
    host = { dir: workspace.dir, home: workspace.home, env: workspace.env, calls: () => [], remove: () => undefined };
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
    // Tool servers whose worker was killed end once their input closes; wait for them (by pid) so none outlives the test.
    await waitFor(() => orphanedToolServers(workspace.callsFile, new Set()).length === 0, 'tool servers to exit', 30_000, 100).catch(() => {
      for (const pid of orphanedToolServers(workspace.callsFile, new Set())) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
    // Postgres must be up again whatever happened above (later CI steps need it).
    await waitFor(() => reachable(), 'Postgres to accept connections again', 120_000, 250).catch(() => undefined);
    if (process.env.AIFACTORY_CHAOS_KEEP) {
      process.stderr.write(`chaos: kept schema ${schema} and folder ${workspace?.dir} (AIFACTORY_CHAOS_KEEP)\n`);
      await store?.close();
      return;
    }
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
    `every run completes and every write happens once, through ${killTarget} SIGKILLs of workers mid-run, ${pauseTarget} workers paused past their lease and a Postgres restart`,
    { timeout: Number(process.env.AIFACTORY_CHAOS_TIMEOUT_MS ?? 900_000) },
    async () => {
      const started = Date.now();
      const cpuAtStart = process.cpuUsage();
      const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
      // Where the test is, on stderr as it goes: a timeout then says which phase it was in.
      const note = (phase: string) => process.stderr.write(`chaos +${seconds()} s: ${phase}\n`);
      const operator = await createToken(host, 'alice@acme.example', ['operator']);
      const approver = await createToken(host, 'bob@acme.example', ['approver', 'ops-lead', 'support-lead']);
      const spawn = (args: string[]) => {
        const process = spawnIn(host, args);
        everyProcess.push(process);
        if (globalThis.process.env.AIFACTORY_CHAOS_KEEP)
          void process.exited.then(() => {
            mkdirSync(path.join(workspace.dir, 'logs'), { recursive: true });
            writeFileSync(path.join(workspace.dir, 'logs', `${args[0]}-${process.pid}.log`), process.stderr());
          });
        return process;
      };
      /** CPU the test's own processes used (read before each is killed): what sizes the test for CI. */
      let processCpu = 0;
      const { callsFile } = workspace;
      /** Writes the tool received for a request (the file clerk's summary of it). */
      const writesOf = (input: string) =>
        workspace.calls().filter((call) => call.tool === 'write_file' && call.args.path === `reports/${input}.md`);

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
      // Who held each run's lease when: a log of every change of owner, epoch or state (the server
      // created run_leases), so a zombie's write can be told from one it made after taking the run
      // back (woken, it is a worker like any other).
      for (const statement of [
        `CREATE TABLE chaos_lease_log (run_id text NOT NULL, owner text NOT NULL, epoch int NOT NULL, state text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
        `CREATE FUNCTION chaos_log_lease() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
           INSERT INTO ${schema}.chaos_lease_log (run_id, owner, epoch, state) VALUES (NEW.run_id, NEW.owner, NEW.epoch, NEW.state); RETURN NEW; END $$`,
        `CREATE TRIGGER chaos_log_lease_insert AFTER INSERT ON run_leases FOR EACH ROW EXECUTE FUNCTION chaos_log_lease()`,
        `CREATE TRIGGER chaos_log_lease_update AFTER UPDATE ON run_leases FOR EACH ROW
           WHEN (OLD.owner IS DISTINCT FROM NEW.owner OR OLD.epoch IS DISTINCT FROM NEW.epoch OR OLD.state IS DISTINCT FROM NEW.state)
           EXECUTE FUNCTION chaos_log_lease()`,
      ])
        await store.query(sql.raw(statement));
      const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

      const workers = new Set<FactoryProcess>();
      /** When each worker was started: what a kill point waits for is its start and its first run. */
      const spawnedAt = new Map<FactoryProcess, number>();
      const spawnWorker = () => {
        const worker = spawn(['worker', '--concurrency', '4', '--recovery-interval', String(recoveryIntervalMs), '--quiet']);
        spawnedAt.set(worker, Date.now());
        workers.add(worker);
        void worker.exited.then(() => workers.delete(worker));
        return worker;
      };
      const ready = (worker: FactoryProcess) => /worker\S* ready/.test(worker.stderr());
      const gone = (worker: FactoryProcess) => worker.child.exitCode !== null || worker.child.signalCode !== null;
      /** The runs whose live lease the worker holds (it drives them now). */
      const leasesOf = async (worker: FactoryProcess) =>
        (
          (await rowsOrNothing<{ run_id: string }>(
            sql`SELECT run_id FROM run_leases WHERE owner LIKE ${`%:${worker.pid}:%`} AND state <> 'released' AND expires_at > now()`,
          )) ?? []
        ).map((row) => row.run_id);
      /**
       * The pids of the processes holding a live lease, read once for every slot that asks within
       * 50 ms: three slots each polling for their worker was 120 queries a second, for nothing.
       */
      let holders: { at: number; pids: Promise<Set<number>> } | undefined;
      const leaseHolders = () => {
        if (!holders || Date.now() - holders.at >= 50)
          holders = {
            at: Date.now(),
            pids: rowsOrNothing<{ owner: string }>(sql`SELECT owner FROM run_leases WHERE state <> 'released' AND expires_at > now()`).then(
              (rows) => new Set((rows ?? []).map((row) => Number(row.owner.split(':').at(-2)))),
            ),
          };
        return holders.pids;
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
                    body: JSON.stringify({ agent: agentOf(input), input }),
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
        const doubts = await rowsOrNothing<{ id: string; input: string; seq: number; payload: string }>(
          sql`SELECT r.id, r.input->>'text' AS input, e.seq, e.payload FROM runs r JOIN LATERAL (SELECT seq, type, payload FROM events WHERE run_id = r.id ORDER BY seq DESC LIMIT 1) e ON true
              WHERE r.status = 'held' AND e.type = 'run.held' AND e.payload LIKE '%outcome_unknown%'`,
        );
        if (!doubts?.length) return;
        // A call a killed worker sent may still sit in its tool server's input: decide once no tool
        // server outlives its worker (as an operator checks the system the write went to).
        const alive = new Set([...workers, serve].filter((process) => !gone(process)).map((process) => process.pid));
        if (orphanedToolServers(callsFile, alive).length > 0) return;
        for (const doubt of doubts) {
          const marker = `${doubt.id}@${doubt.seq}`;
          if (decided.has(marker)) continue;
          decided.add(marker);
          // Did the call the kill left in doubt happen? The tool's own record says (only writes are not idempotent).
          const wrote = writesOf(doubt.input).length > 0;
          decisions += 1;
          void fetch(`${url}/v1/runs/${doubt.id}/resolve`, {
            method: 'POST',
            headers: headers(approver),
            body: JSON.stringify(
              wrote ? { resolution: 'confirmed', result: `Successfully wrote to reports/${doubt.input}.md` } : { resolution: 'retried' },
            ),
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

      /** Each run's status and last events, for a failure message. */
      const describeRuns = async (runIds: string[]) =>
        JSON.stringify(
          await Promise.all(
            runIds.map(async (runId) => ({
              runId,
              status: (await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`))[0]?.status,
              lease: await store.query(sql`SELECT owner, epoch, state, expires_at FROM run_leases WHERE run_id = ${runId}`),
              approvals: await store.query(sql`SELECT id, status FROM approvals WHERE run_id = ${runId}`),
              last: await store.query(
                sql`SELECT seq, type, left(payload, 200) AS payload FROM events WHERE run_id = ${runId} ORDER BY seq DESC LIMIT 6`,
              ),
            })),
          ),
          null,
          1,
        );
      /** Zombies: a worker paused past its lease, the run it lost, and the calls it had made when paused. */
      const zombies: Array<{ pid: number; runs: string[] }> = [];
      /** SIGSTOPs the worker, waits until another process took each of its runs over, then wakes it. */
      const pausePastLease = async (worker: FactoryProcess, runs: string[]) => {
        process.kill(worker.pid, 'SIGSTOP');
        zombies.push({ pid: worker.pid, runs });
        await waitFor(
          async () => {
            for (const runId of runs) {
              const recovered = await rowsOrNothing<{ payload: string }>(
                sql`SELECT payload FROM events WHERE run_id = ${runId} AND type IN ('run.recovered', 'run.completed', 'run.failed')`,
              );
              // Taken over by another process (a run.recovered whose owner is not the paused one), or settled.
              const takenOver = recovered?.some(
                (event) => !String((JSON.parse(event.payload) as { owner?: string }).owner ?? '').includes(`:${worker.pid}:`),
              );
              if (!takenOver) return false;
            }
            return true;
          },
          'another worker to take the paused worker’s runs over',
          120_000,
          50,
        ).catch(async (error: Error) => {
          throw new Error(`${error.message} Worker ${worker.pid}; its runs: ${await describeRuns(runs)}`);
        });
        process.kill(worker.pid, 'SIGCONT');
      };

      try {
        // The stream of runs, kept at `inFlight` runs accepted and not yet completed, while the kill
        // slots SIGKILL (and now and then pause) workers in the middle of runs.
        for (let slot = 0; slot < slots; slot += 1) spawnWorker();
        let killPoints = 0;
        let idleKills = 0;
        let restarted = false;
        const claimed = new Set<FactoryProcess>();
        let pausing = false;
        /** Until both the kill points and the zombies are done. */
        const chaosGoesOn = () => killPoints < killTarget || zombies.length < pauseTarget;
        /** Per kill: ms from a worker's start to ready, and from ready to driving a run. */
        const startTimes: number[] = [];
        const driveTimes: number[] = [];
        const median = (values: number[]) => [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)] ?? 0;
        const killSlot = async () => {
          while (chaosGoesOn()) {
            const worker = [...workers].find((candidate) => !claimed.has(candidate) && !gone(candidate)) ?? spawnWorker();
            claimed.add(worker);
            await waitFor(() => ready(worker) || gone(worker), 'a worker to be ready', 300_000, 20);
            if (gone(worker)) continue;
            const readyAt = Date.now();
            // Until it drives a run (or 60 s, should work run short). Not sooner: a worker killed idle
            // before it took the recovery job it was offered only delays recovery, and under load a
            // fresh worker takes many seconds from ready to driving.
            const until = Date.now() + 60_000;
            while (!gone(worker) && Date.now() < until && !(await leaseHolders()).has(worker.pid)) await sleep(50);
            if (gone(worker)) continue;
            startTimes.push(readyAt - (spawnedAt.get(worker) ?? readyAt));
            driveTimes.push(Date.now() - readyAt);
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
            if (!chaosGoesOn() || gone(worker)) continue;
            const driving = await leasesOf(worker);
            // A zombie now and then (spread over the kills, one at a time): paused past its lease, then woken.
            if (
              driving.length > 0 &&
              !pausing &&
              zombies.length < pauseTarget &&
              killPoints >= (zombies.length * killTarget) / pauseTarget
            ) {
              pausing = true;
              workers.delete(worker);
              spawnWorker();
              await pausePastLease(worker, driving).finally(() => (pausing = false));
              note(`worker ${worker.pid} paused past its lease, its run(s) taken over, woken (${driving.join(', ')})`);
              // Awake again, it is a worker like any other: the kill slots may take it.
              workers.add(worker);
              claimed.delete(worker);
              continue;
            }
            workers.delete(worker);
            spawnWorker();
            processCpu += cpuSecondsOf(worker.pid);
            try {
              process.kill(worker.pid, 'SIGKILL');
            } catch {
              continue; // it exited on its own meanwhile
            }
            if (driving.length > 0) killPoints += 1;
            else idleKills += 1;
            if ((killPoints + idleKills) % 20 === 0)
              note(
                `${killPoints} kill points, ${idleKills} idle kills, ${inputs.length} runs; median worker start ${median(startTimes)} ms, ready to driving ${median(driveTimes)} ms; load ${loadavg()[0]!.toFixed(1)}`,
              );
          }
        };
        let next = 0;
        const stream = (async () => {
          while (chaosGoesOn()) {
            // Submitted and not yet completed (counting requests the store has not recorded yet).
            const done = await rowsOrNothing<{ n: number }>(
              sql`SELECT count(*)::int AS n FROM runs WHERE status IN ('completed', 'failed')`,
            );
            if (done) {
              for (let count = inputs.length - done[0]!.n; count < inFlight; count += 1) {
                const index = next++;
                // The file clerk (its write waits for an ops lead) two runs in three; the order desk
                // the third, a refund (held for a support lead) every other time.
                submit(index % 3 !== 2 ? `clerk-${index}` : index % 6 === 2 ? `refund order ${index}` : `where is order ${index}`);
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
        note(
          `kills done (${killPoints} kill points, ${idleKills} idle kills, ${zombies.length} zombies, ${inputs.length} runs); letting every run finish`,
        );

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
          const open = await store.query<{ id: string; status: string; input: string; last: string }>(
            sql`SELECT r.id, r.status, r.input->>'text' AS input, (SELECT type || ' ' || left(payload, 300) FROM events WHERE run_id = r.id ORDER BY seq DESC LIMIT 1) AS last FROM runs r WHERE status <> 'completed'`,
          );
          throw new Error(
            `${error.message}\n${inputs.length} submitted; open runs: ${JSON.stringify(open, null, 1)}\nopen runs in detail: ${await describeRuns(open.map((run) => run.id))}\nAPI server (pid ${serve.pid}): ${serve.stderr().slice(-3000)}\nworkers: ${[...workers].map((worker) => worker.stderr().slice(-800)).join('\n---\n')}`,
          );
        });
        operating = false;
        await operatorLoop;
        await Promise.all(requests);

        expect(killPoints).toBeGreaterThanOrEqual(killTarget);
        expect(zombies.length).toBe(pauseTarget);
        expect(restarted).toBe(true);
        // One run per input (none started twice), each completed exactly once.
        const runs = await store.query<{ id: string; input: string }>(sql`SELECT id, input->>'text' AS input FROM runs`);
        expect(runs.map((run) => run.input).sort()).toEqual([...inputs].sort());
        const completions = await store.query<{ run_id: string; n: number }>(
          sql`SELECT run_id, count(*)::int AS n FROM events WHERE type = 'run.completed' GROUP BY run_id`,
        );
        expect(completions).toHaveLength(inputs.length);
        expect(completions.every((row) => row.n === 1)).toBe(true);
        // Each clerk run's write (not idempotent) reached the tool exactly once, and the file is there.
        const clerkInputs = inputs.filter((input) => agentOf(input) === 'file-clerk');
        expect(
          clerkInputs.filter((input) => writesOf(input).length !== 1).map((input) => `${input}: ${writesOf(input).length} writes`),
        ).toEqual([]);
        expect(clerkInputs.filter((input) => !existsSync(path.join(workspace.shared, 'reports', `${input}.md`)))).toEqual([]);
        expect(workspace.calls().filter((call) => call.tool === 'write_file')).toHaveLength(clerkInputs.length);
        // No zombie, once woken, wrote for a run it had lost: each write a zombie made for one of
        // those runs came while it held the run's lease again (the lease log's last entry before the
        // write names it, driving).
        const inputOf = new Map(runs.map((run) => [run.id, run.input]));
        const leaseLog = await store.query<{ run_id: string; owner: string; epoch: number; state: string; at_ms: string }>(
          sql`SELECT run_id, owner, epoch, state, (extract(epoch FROM at) * 1000)::bigint::text AS at_ms FROM chaos_lease_log ORDER BY at`,
        );
        const holderAt = (runId: string, atMs: number) =>
          leaseLog.filter((entry) => entry.run_id === runId && Number(entry.at_ms) <= atMs).at(-1);
        const zombieWrites = zombies.flatMap((zombie) =>
          zombie.runs.flatMap((runId) =>
            writesOf(inputOf.get(runId) ?? '')
              .filter((call) => call.pid === zombie.pid)
              .map((call) => ({ runId, call, holder: holderAt(runId, call.at) }))
              .filter(({ holder }) => !holder?.owner.includes(`:${zombie.pid}:`) || holder.state === 'released'),
          ),
        );
        expect(zombieWrites).toEqual([]);
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
        const verified = await runIn(host, ['runs', 'verify', '--all']);
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        const inDoubt = (
          await store.query<{ n: number }>(
            sql`SELECT count(*)::int AS n FROM events WHERE type = 'run.held' AND payload LIKE '%outcome_unknown%'`,
          )
        )[0]!.n;
        const cpu = process.cpuUsage(cpuAtStart);
        for (const survivor of everyProcess) processCpu += cpuSecondsOf(survivor.pid);
        process.stderr.write(
          `chaos: ${killPoints} kill points (SIGKILLs of a worker driving a run; ${idleKills} more of idle workers), ${zombies.length} workers paused past their lease, a Postgres restart (API server restarted ${serveRestarts} time(s)); ${inputs.length} runs (${clerkInputs.length} file clerk), ${inDoubt} held in doubt, ${decisions} resolutions, ${acknowledged.votes.size} approvals; chaos ${((chaosEnded - started) / 1000).toFixed(0)} s, all ${seconds()} s; CPU: test ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s, factory processes ${processCpu.toFixed(0)} s (not counting tool servers); load ${loadavg()[0]!.toFixed(1)}\n`,
        );
      } finally {
        operating = false;
        await operatorLoop;
      }
    },
  );
});
