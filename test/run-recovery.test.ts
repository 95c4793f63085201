// Runs survive their processes (real processes, real Postgres, real signals). A worker drives a run
// of the ledger keeper; the tool counts every call it receives in a file of its own.
// - SIGSTOP past the lease, SIGCONT: a second process recovers the run; the paused one, woken,
//   records nothing and executes nothing more; every non-idempotent tool ran once.
// - SIGKILL while a non-idempotent call's outcome is unknown: the run is held (outcome_unknown),
//   never run again silently; a human confirms it and the run completes, the tool having run once.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, sql, type Store } from '@aifactory/store';
import { explainRun, listRuns, loadOrCreateSigner, readRunEvents, verifyRun } from '@aifactory/verification';

const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!postgresUrl) console.warn('[run-recovery] AIFACTORY_TEST_DATABASE_URL is not set: the recovery tests are skipped.');

const fixtures = path.join(import.meta.dirname, 'fixtures', 'recovery');
const workerScript = path.join(fixtures, 'run-worker.ts');
const agentsDir = path.join(fixtures, 'agents');
const leaseMs = 1_500;

interface Worker {
  child: ChildProcess;
  lines: string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

function startWorker(config: Record<string, unknown>, env: Record<string, string>): Worker {
  const child = spawn(process.execPath, [workerScript, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  let buffer = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    async waitFor(pattern, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = lines.find((candidate) => pattern.test(candidate));
        if (line) return line;
        if (Date.now() > deadline)
          throw new Error(`no line matching ${pattern} within ${timeoutMs} ms; lines: ${lines.join('\n')}\nstderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

function toolCalls(callsFile: string): Array<{ tool: string; item?: string }> {
  if (!existsSync(callsFile)) return [];
  return readFileSync(callsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { tool: string; item?: string });
}

async function trace(store: Store, runId: string): Promise<Array<{ seq: number; type: string; payload: Record<string, unknown> }>> {
  const events = [];
  for await (const event of readRunEvents(store, runId))
    events.push({ seq: event.seq, type: event.type, payload: JSON.parse(event.payloadText ?? '{}') as Record<string, unknown> });
  return events;
}

async function runStatus(store: Store, runId: string): Promise<string | undefined> {
  const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`);
  return row?.status;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!postgresUrl)('runs that survive their processes (Postgres, real signals)', () => {
  const schema = `t_recover_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const scratch = mkdtempSync(path.join(tmpdir(), 'aifactory-recovery-'));
  const workers: ChildProcess[] = [];
  let store: Store;

  beforeAll(async () => {
    store = await openStore({ databaseUrl: postgresUrl!, schema });
    await loadOrCreateSigner(path.join(scratch, 'data'));
  });
  afterAll(async () => {
    for (const child of workers) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    }
    await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    await store.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  // Every process of one deployment shares the data directory's seal key (held runs are sealed, and
  // a run resumes only from a history sealed by a trusted key).
  const dataDir = path.join(scratch, 'data');
  const base = (_name: string) => ({ databaseUrl: postgresUrl!, schema, dataDir, agentsDir, leaseMs });
  const envFor = (callsFile: string) => ({ NODE_BINARY: process.execPath, CALLS_FILE: callsFile });

  it(
    'a process paused past its lease is fenced out when it wakes: it records nothing and runs no tool; another process finishes the run',
    { timeout: 420_000 },
    async () => {
      const callsFile = path.join(scratch, 'paused-calls.jsonl');
      const runId = `run_paused_${randomUUID().slice(0, 8)}`;
      const owner = startWorker(
        { ...base('owner'), mode: 'start', agent: 'ledger-keeper', input: 'keep the ledger', runId },
        envFor(callsFile),
      );
      workers.push(owner.child);
      // Pause the owner while its idempotent wait runs (the decision and intent are recorded).
      await owner.waitFor(/"type":"action\.decided".*"name":"counter\.slow"/);
      owner.child.kill('SIGSTOP');
      const pausedAt = Date.now();
      // Its lease lapses: `runs list` no longer shows the run running.
      await waitUntil(
        async () => {
          for await (const run of listRuns(store, { runIds: [runId] })) return run.status === 'orphaned';
          return false;
        },
        30_000,
        'the run to read orphaned',
      );
      const rescuer = startWorker({ ...base('rescuer'), mode: 'supervise' }, envFor(callsFile));
      workers.push(rescuer.child);
      const recovered = JSON.parse(
        (await rescuer.waitFor(new RegExp(`recovery .*"runId":"${runId}"`), 180_000)).slice('recovery '.length),
      ) as { outcome: string; result?: { status: string } };
      expect(recovered).toMatchObject({ outcome: 'continued', result: { status: 'completed' } });
      const traceBefore = await trace(store, runId);
      // Wake the paused owner: its next append and its next tool call are refused.
      owner.child.kill('SIGCONT');
      const failure = await owner.waitFor(/^(error|result) /, 60_000);
      expect(failure).toMatch(/^error LEASE_LOST /);
      await owner.exited;
      expect((await trace(store, runId)).length).toBe(traceBefore.length);
      // Counted at the tool: "a" and "b" each ran once; the idempotent wait ran again after the take-over.
      const calls = toolCalls(callsFile);
      expect(calls.filter((call) => call.tool === 'append').map((call) => call.item)).toEqual(['a', 'b']);
      // The wait was in doubt when the owner stopped (unless a loaded machine let it finish and record
      // first): then it was retried once, as an idempotent tool, and run.recovered says so.
      const recoveredEvent = traceBefore.find((event) => event.type === 'run.recovered')!;
      const retried = (recoveredEvent.payload.retried as Array<{ name: string }>).map((call) => call.name);
      expect(calls.filter((call) => call.tool === 'slow')).toHaveLength(1 + retried.length);
      expect(recoveredEvent.payload).toMatchObject({ epoch: 2 });
      expect(retried.every((name) => name === 'counter.slow')).toBe(true);
      expect(Date.now() - pausedAt).toBeGreaterThan(leaseMs);
      expect(await verifyRun(store, runId)).toMatchObject({ ok: true, sealed: true });
      rescuer.child.kill('SIGTERM');
      await rescuer.exited;
    },
  );

  it(
    'a run killed while a non-idempotent call is in doubt is held (outcome_unknown), and goes on once a human confirms the call happened',
    { timeout: 420_000 },
    async () => {
      const callsFile = path.join(scratch, 'killed-calls.jsonl');
      const runId = `run_killed_${randomUUID().slice(0, 8)}`;
      const owner = startWorker(
        { ...base('owner2'), mode: 'start', agent: 'ledger-keeper', input: 'keep the ledger', runId },
        envFor(callsFile),
      );
      workers.push(owner.child);
      // "b" answers after a second: kill the owner once its decision is recorded and the call is out.
      await owner.waitFor(/"type":"action\.decided".*"name":"counter\.append".*"item":"b"/);
      await waitUntil(async () => toolCalls(callsFile).some((call) => call.item === 'b'), 10_000, 'the tool to receive b');
      owner.child.kill('SIGKILL');
      await owner.exited;
      const rescuer = startWorker({ ...base('rescuer2'), mode: 'supervise' }, envFor(callsFile));
      workers.push(rescuer.child);
      const recovery = JSON.parse(
        (await rescuer.waitFor(new RegExp(`recovery .*"runId":"${runId}"`), 180_000)).slice('recovery '.length),
      ) as { outcome: string; reason?: string };
      expect(recovery).toMatchObject({ outcome: 'held', reason: 'outcome_unknown' });
      expect(await runStatus(store, runId)).toBe('held');
      const held = (await trace(store, runId)).filter((event) => event.type === 'run.held');
      expect(held.at(-1)!.payload).toMatchObject({ reason: 'outcome_unknown', name: 'counter.append' });
      rescuer.child.kill('SIGTERM');
      await rescuer.exited;

      // A human confirms with the CLI that the append happened; the run goes on without running it again.
      const cli = spawn(
        process.execPath,
        [
          path.join(import.meta.dirname, '..', 'packages', 'cli', 'dist', 'factory.mjs'),
          'runs',
          'resolve',
          runId,
          '--confirm',
          '--result',
          'appended b',
          '--as',
          'ops@example.com',
          '--agents',
          agentsDir,
          '--json',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...process.env,
            ...envFor(callsFile),
            DATABASE_URL: postgresUrl!,
            AIFACTORY_DB_SCHEMA: schema,
            AIFACTORY_HOME: dataDir,
            AIFACTORY_LEASE_MS: String(leaseMs),
          },
        },
      );
      workers.push(cli);
      let output = '';
      cli.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      cli.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => cli.on('exit', resolve));
      expect(code, output).toBe(0);
      expect(JSON.parse(output)).toMatchObject({ status: 'completed', resolution: 'confirmed', by: 'ops@example.com' });
      expect(
        toolCalls(callsFile)
          .filter((call) => call.tool === 'append')
          .map((call) => call.item),
      ).toEqual(['a', 'b']);
      const resolved = (await trace(store, runId)).find((event) => event.type === 'action.resolved')!;
      expect(resolved.payload).toMatchObject({ resolution: 'confirmed', by: 'ops@example.com', name: 'counter.append' });
      // `runs explain` tells the story: the call in doubt, who settled it, the process that applied
      // the decision (taking the held run), and that the call was not run again.
      const explanation = await explainRun(store, runId);
      expect(explanation.custody.map((entry) => entry.kind)).toEqual(['in_doubt', 'resolved', 'recovered']);
      expect(explanation.actions.some((action) => action.outcome.detail.includes('confirmed it happened'))).toBe(true);
      expect(await verifyRun(store, runId)).toMatchObject({ ok: true, sealed: true });
    },
  );
});
