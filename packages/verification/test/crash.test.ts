// Crash safety: child processes appending to several runs are SIGKILLed at random moments. What
// is left must verify, and must hold every event whose record() had resolved (the child reports
// each resolved seq on stdout before it is killed). Each new child continues the runs of the one
// before it, loading their heads from the store.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, sql, type StoreOptions } from '@aifactory/store';
import { loadOrCreateSigner, verifyAll } from '../src/index.ts';
import { freshSchema, postgresUrl, warnIfNoPostgres } from './engines.ts';

warnIfNoPostgres('verification');
const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'append-child.ts');

/** Starts a child, waits until it has appended a while, SIGKILLs it; returns every seq it reported resolved. */
async function appendAndKill(
  config: Record<string, unknown>,
  killAfterMs: number,
): Promise<{ acknowledged: Array<[string, number]>; sealed: string[] }> {
  const child = spawn(process.execPath, [childScript, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Kill only once appending is under way, at a random moment after that.
  for (let waited = 0; !/^ok /m.test(stdout) && waited < 20_000; waited += 20) {
    if (child.exitCode !== null) throw new Error(`append child exited early (${child.exitCode}): ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  child.kill('SIGKILL');
  await exited;
  // Only complete lines count: a line cut by the kill was never fully reported.
  const lines = stdout.split('\n').slice(0, -1);
  return {
    acknowledged: lines
      .filter((line) => line.startsWith('ok '))
      .map((line) => [line.split(' ')[1]!, Number(line.split(' ')[2])] as [string, number]),
    sealed: lines.filter((line) => line.startsWith('sealed ')).map((line) => line.split(' ')[1]!),
  };
}

const targets: Array<{ name: string; skip: boolean; options: () => StoreOptions }> = [
  {
    name: 'pglite (data directory)',
    skip: false,
    options: () => ({ dataDir: path.join(mkdtempSync(path.join(tmpdir(), 'aifactory-crash-')), 'pglite') }),
  },
  { name: 'postgres', skip: !postgresUrl, options: () => ({ databaseUrl: postgresUrl!, schema: freshSchema('t_crash') }) },
];

for (const target of targets) {
  describe.skipIf(target.skip)(`SIGKILL while appending on ${target.name}`, () => {
    const cleanup: Array<() => Promise<void> | void> = [];
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    it('leaves a log that verifies and holds every acknowledged event', { timeout: 90_000 }, async () => {
      const options = target.options();
      const keyDir = mkdtempSync(path.join(tmpdir(), 'aifactory-crash-keys-'));
      cleanup.push(() => rmSync(keyDir, { recursive: true, force: true }));
      if (options.dataDir) cleanup.push(() => rmSync(path.dirname(options.dataDir!), { recursive: true, force: true }));
      const config = { mode: 'append', ...options, keyDir, runs: ['crash-a', 'crash-b', 'crash-c'], finishEvery: 25 };
      const acknowledged = new Map<string, number>();
      const rounds = target.name === 'postgres' ? 4 : 3;
      for (let round = 0; round < rounds; round += 1) {
        const result = await appendAndKill(config, 100 + Math.floor(Math.random() * 400));
        for (const [runId, seq] of result.acknowledged) acknowledged.set(runId, Math.max(acknowledged.get(runId) ?? 0, seq));
      }
      expect(acknowledged.size).toBeGreaterThan(0);

      const store = await openStore(options);
      try {
        const signer = await loadOrCreateSigner(keyDir);
        const summary = await verifyAll(store, { signers: [signer] });
        expect(summary.problem).toBeUndefined();
        expect(summary.ok).toBe(true);
        const heads = await store.query<{ run_id: string; head: number }>(
          sql`SELECT run_id, max(seq)::int AS head FROM events GROUP BY run_id`,
        );
        const headOf = new Map(heads.map((row) => [row.run_id, Number(row.head)]));
        const lost = [...acknowledged].filter(([runId, seq]) => (headOf.get(runId) ?? 0) < seq);
        expect(lost).toEqual([]);
        // Every acknowledged run is gap-free up to its head (verify checks the chain; this checks the count).
        const counts = await store.query<{ run_id: string; count: number }>(
          sql`SELECT run_id, count(*)::int AS count FROM events GROUP BY run_id`,
        );
        for (const row of counts) expect(Number(row.count)).toBe(headOf.get(row.run_id));
      } finally {
        if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
        await store.close();
      }
    });
  });
}
