// One writer per embedded store, tested with real processes: a second process is refused while
// the first lives (and told who holds it), a SIGKILLed holder's lock is recovered at once with its
// data intact, a lock naming a reused pid is recognised as dead, and of processes racing to open
// one directory exactly one wins.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, processStartTime, readLockOwner, sql, storeLockFile, StoreBusyError } from '../src/index.ts';

const holder = path.join(import.meta.dirname, 'fixtures', 'hold-store.ts');
const root = mkdtempSync(path.join(tmpdir(), 'aif-lock-'));
const started: ChildProcess[] = [];

/** Starts a process that opens the store and reports its first line. */
function hold(
  dataDir: string,
  note?: string,
): { child: ChildProcess; first: Promise<{ open?: number; error?: string; message?: string; pid?: number }> } {
  const child = spawn(process.execPath, [holder, dataDir, ...(note ? [note] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  const first = new Promise<{ open?: number; error?: string; message?: string }>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const newline = buffer.indexOf('\n');
      if (newline >= 0) resolve(JSON.parse(buffer.slice(0, newline)));
    });
    child.once('exit', (code) => reject(new Error(`holder exited (${code}) before reporting`)));
  });
  return { child, first };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    await exited(child);
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the embedded store lock', { timeout: 300_000 }, () => {
  it('refuses a second process while the first lives, naming it, and recovers the lock of a SIGKILLed holder with its data', async () => {
    const dataDir = path.join(root, 'kill', 'pglite');
    const first = hold(dataDir, 'written before the kill');
    const opened = await first.first;
    expect(opened.open).toBe(first.child.pid);
    expect(readLockOwner(storeLockFile(dataDir))).toMatchObject({ pid: first.child.pid, startTime: processStartTime(first.child.pid!) });

    // In this process too: refused before anything is opened, with the holder's pid.
    const refused = await openStore({ dataDir }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(StoreBusyError);
    expect(refused).toMatchObject({ code: 'STORE_BUSY', owner: { pid: first.child.pid } });
    expect(String((refused as Error).message)).toMatch(new RegExp(`in use by process ${first.child.pid} \\(hold-store\\.ts`));

    process.kill(first.child.pid!, 'SIGKILL');
    await exited(first.child);
    expect(existsSync(storeLockFile(dataDir))).toBe(true); // a SIGKILL leaves the file behind

    const store = await openStore({ dataDir });
    try {
      expect(readLockOwner(storeLockFile(dataDir))).toMatchObject({ pid: process.pid });
      expect(await store.query(sql`SELECT note FROM lock_notes`)).toEqual([{ note: 'written before the kill' }]);
    } finally {
      await store.close();
    }
    expect(existsSync(storeLockFile(dataDir))).toBe(false);
  });

  it('waits for a holder that lets go when asked to wait', async () => {
    const dataDir = path.join(root, 'wait', 'pglite');
    const first = hold(dataDir);
    await first.first;
    const waiting = openStore({ dataDir, lock: { waitMs: 120_000 } });
    process.kill(first.child.pid!, 'SIGTERM');
    const store = await waiting;
    await store.close();
  });

  it('takes over a lock whose pid now belongs to another process (pid reuse) and one left by an earlier boot', async () => {
    const dataDir = path.join(root, 'reuse', 'pglite');
    const lockFile = storeLockFile(dataDir);
    mkdirSync(path.dirname(lockFile), { recursive: true });
    const alive = {
      pid: process.pid,
      startTime: '1',
      bootId: null,
      host: '',
      command: 'factory serve',
      acquiredAt: '2026-01-01T00:00:00.000Z',
    };
    writeFileSync(lockFile, JSON.stringify(alive));
    const store = await openStore({ dataDir, migrate: false });
    await store.close();
    writeFileSync(lockFile, JSON.stringify({ ...alive, startTime: processStartTime(process.pid), bootId: 'an-earlier-boot' }));
    const again = await openStore({ dataDir, migrate: false });
    await again.close();
    expect(existsSync(lockFile)).toBe(false);
  });

  it('lets exactly one of several processes racing to open one directory win', async () => {
    const dataDir = path.join(root, 'race', 'pglite');
    const racers = Array.from({ length: 4 }, () => hold(dataDir));
    const outcomes = await Promise.all(racers.map((racer) => racer.first));
    expect(outcomes.filter((outcome) => outcome.open !== undefined)).toHaveLength(1);
    const refused = outcomes.filter((outcome) => outcome.error !== undefined);
    expect(refused).toHaveLength(3);
    const winner = outcomes.find((outcome) => outcome.open !== undefined)!.open;
    for (const outcome of refused)
      expect(outcome).toMatchObject({ error: 'STORE_BUSY', message: expect.stringContaining(`process ${winner}`) });
  });
});
