// Chaos, with real processes and real signals on Postgres: one `factory serve --queue` accepts a
// stream of runs of the courier agent (plain ones, ones held for an approval, ones that wait
// mid-step) while `factory worker` processes drive them — and get SIGKILLed at random moments,
// again and again (at least 200 times), each replaced by a fresh worker; one worker is SIGSTOPped
// in the middle of a step past its lease and woken up later. Afterwards, once the operator has
// approved what waits for approval and settled what a kill left in doubt (confirming a write the
// tool recorded, retrying one it did not), every run is completed exactly once, every run's write
// happened exactly once (counted at the tool itself), the paused worker wrote nothing after it
// woke, and the whole store verifies.
import { randomBytes } from 'node:crypto';
import { openStore, type Store } from '@aifactory/store';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCourierWorkspace, createToken, runIn, spawnIn, startUntil, waitFor, type CourierWorkspace, type FactoryProcess } from '../fixtures/courier-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
/** SIGKILLs over the test. */
const killTarget = Number(process.env.AIFACTORY_CHAOS_KILLS ?? 200);
/** Worker processes alive at once. */
const slots = 4;
const leaseMs = 2000;

describe.skipIf(!databaseUrl)('chaos: workers SIGKILLed and paused at random while runs go on (Postgres)', () => {
  let workspace: CourierWorkspace;
  const schema = `t_chaos_${randomBytes(4).toString('hex')}`;
  const everyProcess: FactoryProcess[] = [];
  let store: Store;

  beforeAll(async () => {
    workspace = createCourierWorkspace({ databaseUrl: databaseUrl!, schema, leaseMs, waitMs: 400 });
    store = await openStore({ databaseUrl: databaseUrl!, schema, maxConnections: 2 });
  });
  afterAll(async () => {
    for (const process of everyProcess) {
      try {
        globalThis.process.kill(process.pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await Promise.all(everyProcess.map((process) => process.stop('SIGKILL')));
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`)).catch(() => undefined);
    await store?.query(sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
    await store?.close();
    workspace?.remove();
  });

  it(`every run completes exactly once and every write happens once, through ${killTarget} SIGKILLs and a worker paused past its lease`, { timeout: 1_800_000 }, async () => {
    const operator = await createToken(workspace, 'alice@acme.example', ['operator']);
    const approver = await createToken(workspace, 'bob@acme.example', ['approver', 'ops-lead']);
    const serve = await startUntil(workspace, ['serve', '--queue', '--port', '0', '--shutdown-timeout', '2000'], /serving\S*\s+(http:\/\/\S+)/);
    everyProcess.push(serve);
    const url = serve.match[1]!;
    const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

    const workers = new Set<FactoryProcess>();
    const spawnWorker = () => {
      const worker = spawnIn(workspace, ['worker', '--concurrency', '4', '--recovery-interval', '200', '--quiet']);
      everyProcess.push(worker);
      workers.add(worker);
      void worker.exited.then(() => workers.delete(worker));
      return worker;
    };
    const ready = (worker: FactoryProcess) => /worker\S* ready/.test(worker.stderr());
    for (let slot = 0; slot < slots; slot += 1) spawnWorker();

    // The runs: plain, held for approval, and waiting mid-step; submitted in waves during the chaos.
    const inputs: string[] = [];
    for (let index = 0; index < 60; index += 1) inputs.push(index % 5 === 0 ? `h-${index}` : index % 5 === 1 ? `s-${index}` : `k-${index}`);
    const submitted: Array<Promise<unknown>> = [];
    const submit = (input: string) =>
      submitted.push(
        fetch(`${url}/v1/runs`, { method: 'POST', headers: headers(operator), body: JSON.stringify({ agent: 'courier', input }) })
          .then((response) => response.text())
          .catch(() => undefined),
      );

    // First, one worker paused in the middle of a step (its wait) past its lease: another worker
    // takes the run over; then it is woken up.
    submit('s-paused');
    await waitFor(() => workspace.calls().some((call) => call.key === 's-paused' && call.tool === 'wait'), 'the run to be waiting in a worker', 600_000).catch((error: Error) => {
      throw new Error(`${error.message}\nserve: ${serve.stderr().slice(-2000)}\nworkers: ${[...workers].map((worker) => worker.stderr().slice(-1000)).join('\n---\n')}`);
    });
    const waitCall = workspace.calls().find((call) => call.key === 's-paused' && call.tool === 'wait')!;
    const zombie = [...workers].find((candidate) => candidate.pid === waitCall.pid)!;
    expect(zombie).toBeDefined();
    workers.delete(zombie);
    process.kill(zombie.pid, 'SIGSTOP');
    spawnWorker();
    const [pausedRun] = await store.query<{ id: string }>(sql`SELECT id FROM runs WHERE input->>'text' = 's-paused'`);
    await waitFor(async () => {
      const recovered = await store.query<{ payload: string }>(sql`SELECT payload FROM events WHERE run_id = ${pausedRun!.id} AND type = 'run.recovered'`);
      // Taken over by another process (the payload's owner; its previous_owner is the paused one).
      return recovered.some((event) => !String((JSON.parse(event.payload) as { owner?: string }).owner ?? '').includes(`:${zombie.pid}:`));
    }, 'another worker to take the paused run over', 600_000, 100);
    process.kill(zombie.pid, 'SIGCONT');
    await waitFor(async () => (await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${pausedRun!.id}`))[0]?.status === 'completed', 'the paused run to complete in its new worker', 600_000);
    await new Promise((resolve) => setTimeout(resolve, leaseMs)); // the woken worker gets its chance to (wrongly) act
    workers.add(zombie);

    // Then the stream of runs, in three waves, while workers are SIGKILLed at random moments.
    let kills = 0;
    let waves = 1;
    for (const input of inputs.slice(0, 20)) submit(input);
    while (kills < killTarget) {
      // The second and third waves, once a third and two thirds of the kills are done (each once).
      if (waves < 3 && kills >= Math.floor((waves * killTarget) / 3)) {
        for (const input of inputs.slice(waves * 20, (waves + 1) * 20)) submit(input);
        waves += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 180));
      const candidates = [...workers].filter(ready);
      if (candidates.length === 0) continue;
      const victim = candidates[Math.floor(Math.random() * candidates.length)]!;
      workers.delete(victim);
      process.kill(victim.pid, 'SIGKILL');
      kills += 1;
      spawnWorker();
    }
    for (const worker of workers) await waitFor(() => ready(worker) || worker.child.exitCode !== null, 'the last workers to be ready', 600_000);

    // The operator's part: approve what waits for approval, settle what a kill left in doubt.
    const keyOf = new Map<string, string>();
    const settled = new Set<string>();
    await waitFor(
      async () => {
        const rows = await store.query<{ id: string; status: string; input: string }>(sql`SELECT id, status, input->>'text' AS input FROM runs`);
        for (const row of rows) keyOf.set(row.id, row.input);
        const open = rows.filter((row) => row.status !== 'completed');
        if (rows.length === inputs.length + 1 && open.length === 0) return true;
        for (const row of open.filter((candidate) => candidate.status === 'held')) {
          const [pending] = await store.query<{ id: string }>(sql`SELECT id FROM approvals WHERE run_id = ${row.id} AND status = 'pending'`);
          if (pending && !settled.has(pending.id)) {
            settled.add(pending.id);
            await fetch(`${url}/v1/approvals/${pending.id}/approve`, { method: 'POST', headers: headers(approver), body: '{}' })
              .then((response) => response.ok || settled.delete(pending.id))
              .catch(() => settled.delete(pending.id));
            continue;
          }
          const [last] = await store.query<{ payload: string }>(sql`SELECT payload FROM events WHERE run_id = ${row.id} AND type = 'run.held' ORDER BY seq DESC LIMIT 1`);
          const [seqRow] = await store.query<{ seq: number }>(sql`SELECT max(seq)::int AS seq FROM events WHERE run_id = ${row.id}`);
          const marker = `${row.id}@${seqRow?.seq}`;
          if (last && last.payload.includes('outcome_unknown') && !settled.has(marker)) {
            settled.add(marker);
            // Did the write the kill left in doubt happen? The tool's own record says.
            const wrote = workspace.calls().some((call) => call.tool === 'write' && call.key === row.input);
            await fetch(`${url}/v1/runs/${row.id}/resolve`, { method: 'POST', headers: headers(approver), body: JSON.stringify(wrote ? { resolution: 'confirmed', result: `wrote ${row.input}` } : { resolution: 'retried' }) })
              .then((response) => response.ok || settled.delete(marker))
              .catch(() => settled.delete(marker));
          }
        }
        return false;
      },
      'every run to complete',
      900_000,
      500,
    ).catch(async (error: Error) => {
      const open = await store.query<{ id: string; status: string; input: string }>(sql`SELECT id, status, input->>'text' AS input FROM runs WHERE status <> 'completed'`);
      throw new Error(`${error.message}\nopen runs: ${JSON.stringify(open)}\nworkers: ${[...workers].map((worker) => worker.stderr().slice(-800)).join('\n---\n')}`);
    });
    await Promise.all(submitted);

    expect(kills).toBeGreaterThanOrEqual(killTarget);
    // Each run completed exactly once.
    const completions = await store.query<{ run_id: string; n: number }>(sql`SELECT run_id, count(*)::int AS n FROM events WHERE type = 'run.completed' GROUP BY run_id`);
    expect(completions).toHaveLength(inputs.length + 1);
    expect(completions.every((row) => row.n === 1)).toBe(true);
    // Each run's write happened exactly once, counted at the tool.
    const writes = new Map<string, number>();
    for (const call of workspace.calls().filter((candidate) => candidate.tool === 'write')) writes.set(call.key, (writes.get(call.key) ?? 0) + 1);
    expect([...writes.keys()].sort()).toEqual([...inputs, 's-paused'].sort());
    expect([...writes.values()].every((count) => count === 1)).toBe(true);
    // The paused worker, once woken, wrote nothing for the run it had lost, and recorded nothing after the take-over.
    expect(workspace.calls().filter((call) => call.pid === zombie.pid && call.key === 's-paused' && call.tool === 'write')).toEqual([]);
    const verified = await runIn(workspace, ['runs', 'verify', '--all']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    process.stderr.write(`chaos: ${kills} SIGKILLs, ${inputs.length + 1} runs, ${settled.size} approvals and resolutions, a paused worker fenced out\n`);
  });
});
