// Postgres restarted under running workers (`pg_ctlcluster 15 main restart`), as a database
// failover or a maintenance restart does it: a `factory serve --queue` and three `factory worker`
// processes are driving a batch of runs (some waiting mid-step, some held for approval) when the
// server goes away for a few seconds and comes back. Afterwards every run is completed exactly
// once, every run's write happened exactly once (counted at the tool), and the store verifies.
//
// This test restarts the machine's Postgres, so it is not part of `pnpm test`: vitest.config.ts
// excludes test/restart/, and CI runs it alone, after every other test, with
// `pnpm test:restart` (vitest.restart.config.ts). Postgres is running again when it ends. Processes
// that exit are started again, as a process manager would; how many did is printed.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
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
const cluster = (process.env.AIFACTORY_PG_CLUSTER ?? '15 main').split(' ');

/** Restarts the Postgres cluster (as root, or through sudo without a password). */
function restartPostgres(): void {
  const args = [...cluster, 'restart'];
  if (process.getuid?.() === 0) execFileSync('pg_ctlcluster', args, { stdio: 'inherit' });
  else execFileSync('sudo', ['-n', 'pg_ctlcluster', ...args], { stdio: 'inherit' });
}

describe.skipIf(!databaseUrl)('Postgres restarted while workers drive runs', () => {
  let workspace: CourierWorkspace;
  const schema = `t_pgrestart_${randomBytes(4).toString('hex')}`;
  const everyProcess: FactoryProcess[] = [];
  let store: Store;
  /** Set before the processes are ended, so the process manager below does not start them again. */
  let stopping = false;

  beforeAll(async () => {
    workspace = createCourierWorkspace({ databaseUrl: databaseUrl!, schema, leaseMs: 2000, waitMs: 1500 });
    store = await openStore({ databaseUrl: databaseUrl!, schema, maxConnections: 2 });
  });
  afterAll(async () => {
    stopping = true;
    await Promise.all(everyProcess.map((process) => process.stop('SIGKILL')));
    // Postgres must be up again whatever happened above (later CI steps need it).
    await waitFor(
      async () => {
        try {
          await store.query(sql`SELECT 1`);
          return true;
        } catch {
          return false;
        }
      },
      'Postgres to accept connections again',
      120_000,
      500,
    ).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`)).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
    await store?.close();
    workspace?.remove();
  });

  it('every run completes exactly once and every write happens once across a Postgres restart', { timeout: 1_200_000 }, async () => {
    const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
    const approver = await createToken(workspace, 'bob@acme.example', ['approver', 'ops-lead']);
    let restarts = 0;
    // A process manager: whatever exits is started again with the same arguments.
    const keep = (args: string[]): { current: FactoryProcess } => {
      const handle = { current: undefined as unknown as FactoryProcess };
      const launch = () => {
        const started = spawnIn(workspace, args);
        everyProcess.push(started);
        handle.current = started;
        void started.exited.then(() => {
          if (stopping) return;
          restarts += 1;
          process.stderr.write(`restarted factory ${args[0]} after it exited: ${started.stderr().slice(-500)}\n`);
          launch();
        });
      };
      launch();
      return handle;
    };
    const serve = keep(['serve', '--queue', '--port', '0']);
    // The URL of the server running now (a restarted one listens on another port).
    const serverUrl = () => /serving\S*\s+(http:\/\/\S+)/.exec(serve.current.stderr())?.[1];
    await waitFor(() => serverUrl() !== undefined, 'the API server', 600_000);
    const url = serverUrl()!;
    const workers = [0, 1, 2].map(() => keep(['worker', '--concurrency', '4', '--recovery-interval', '250']));
    await waitFor(() => workers.every((worker) => /worker\S* ready/.test(worker.current.stderr())), 'the workers', 600_000);
    const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

    const inputs = Array.from({ length: 24 }, (_, index) =>
      index % 4 === 0 ? `h-${index}` : index % 4 === 1 || index % 4 === 2 ? `s-${index}` : `k-${index}`,
    );
    const submitted = inputs.map((input) =>
      fetch(`${url}/v1/runs`, { method: 'POST', headers: headers(operator), body: JSON.stringify({ agent: 'courier', input }) })
        .then((response) => response.text())
        .catch(() => undefined),
    );
    // Every run is recorded (so none is lost to a refused request), then Postgres restarts while runs are mid-step.
    await waitFor(
      async () => (await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM runs`))[0]!.n === inputs.length,
      'every run to be recorded',
      600_000,
    );
    // Where the restart lands decides which window it tests, so each run picks one (printed; set
    // AIFACTORY_RESTART_AT to repeat one): while runs wait mid-step, while writes are being
    // recorded, while holds are written (their checkpoints), or while the first steps start.
    const moments = {
      'mid-step': () => workspace.calls().filter((call) => call.tool === 'wait').length >= 3,
      writes: () => workspace.calls().some((call) => call.tool === 'write'),
      holds: async () => (await store.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM events WHERE type = 'run.held'`))[0]!.n >= 1,
      starts: () => workspace.calls().length >= 1,
    } as const;
    const names = Object.keys(moments) as Array<keyof typeof moments>;
    const moment = (process.env.AIFACTORY_RESTART_AT as keyof typeof moments | undefined) ?? names[randomInt(names.length)]!;
    if (!(moment in moments)) throw new Error(`AIFACTORY_RESTART_AT '${moment}' is unknown; use one of ${names.join(', ')}.`);
    process.stderr.write(`postgres restart: restarting at '${moment}'\n`);
    await waitFor(moments[moment], `the moment '${moment}'`, 600_000, 20);
    restartPostgres();
    await waitFor(
      async () => {
        try {
          await store.query(sql`SELECT 1`);
          return true;
        } catch {
          return false;
        }
      },
      'Postgres to be back',
      120_000,
      250,
    );

    // The operator approves what waits for approval and settles what the outage left in doubt.
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
        if (rows.length === inputs.length && open.length === 0) return true;
        for (const row of open.filter((candidate) => candidate.status === 'held')) {
          const [pending] = await store.query<{ id: string }>(
            sql`SELECT id FROM approvals WHERE run_id = ${row.id} AND status = 'pending'`,
          );
          if (pending && !settled.has(pending.id)) {
            settled.add(pending.id);
            await fetch(`${serverUrl() ?? url}/v1/approvals/${pending.id}/approve`, {
              method: 'POST',
              headers: headers(approver),
              body: '{}',
            })
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
            const wrote = workspace.calls().some((call) => call.tool === 'write' && call.key === row.input);
            await fetch(`${serverUrl() ?? url}/v1/runs/${row.id}/resolve`, {
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
      'every run to complete after the restart',
      900_000,
      500,
    );
    await Promise.all(submitted);

    const completions = await store.query<{ run_id: string; n: number }>(
      sql`SELECT run_id, count(*)::int AS n FROM events WHERE type = 'run.completed' GROUP BY run_id`,
    );
    expect(completions).toHaveLength(inputs.length);
    expect(completions.every((row) => row.n === 1)).toBe(true);
    const writes = new Map<string, number>();
    for (const call of workspace.calls().filter((candidate) => candidate.tool === 'write'))
      writes.set(call.key, (writes.get(call.key) ?? 0) + 1);
    expect([...writes.keys()].sort()).toEqual([...inputs].sort());
    expect([...writes.values()].every((count) => count === 1)).toBe(true);
    const verified = await runIn(workspace, ['runs', 'verify', '--all']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    process.stderr.write(
      `postgres restart: ${inputs.length} runs completed, ${settled.size} approvals and resolutions, ${restarts} process restart(s)\n`,
    );
  });
});
