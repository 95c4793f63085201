// One writer per embedded store: the process that opens a PGlite data directory holds a lock file
// beside it (`<data dir>.lock`) naming itself by pid, the kernel's start time of that pid and the
// boot it runs in. A lock is held exactly while that process lives: a dead holder's lock (SIGKILL,
// a crash, a reboot) is recovered by the next process at once, and a live holder's lock is never
// taken from it however long its event loop is blocked. Written here rather than taken from
// proper-lockfile because that library decides staleness by an mtime it must keep refreshing: a
// holder busy in PGlite's synchronous WASM past the stale period loses its lock to a second writer
// (the corruption this exists to prevent), and a SIGKILLed holder blocks everyone for that period.
//
// Acquiring is atomic: the record is written to a private file, then hard-linked to the lock name
// (link fails if the name exists), so a lock file is never seen half-written. Only the holder of a
// second lock, `<lock>.recover` (taken the same way), may delete a dead holder's lock, after
// reading it again under that lock: two processes recovering at once can never both win.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ErrorCode, SystemError } from '@aifactory/core';

/** Who holds a lock, as written in its file. */
export interface LockOwner {
  /** Process id. */
  pid: number;
  /** The kernel's start time of that pid (clock ticks since boot, /proc/<pid>/stat field 22), so a reused pid is not mistaken for the holder; null where /proc is missing. */
  startTime: string | null;
  /** The boot the holder runs in (/proc/sys/kernel/random/boot_id); a lock from an earlier boot is dead. */
  bootId: string | null;
  /** Host name, so a lock on a shared disk is not judged by another host's processes. */
  host: string;
  /** The command line of the holder, for messages (e.g. "factory serve --port 8787"). */
  command: string;
  /** When it was acquired (ISO time). */
  acquiredAt: string;
}

/** A lock this process holds. */
export interface DirectoryLock {
  /** The lock file. */
  readonly file: string;
  /** This process's record in it. */
  readonly owner: LockOwner;
  /** Deletes the lock file if it is still ours; idempotent. */
  release(): void;
}

/** The lock is held by a live process; details name it. */
export class StoreBusyError extends SystemError {
  /** The live holder. */
  readonly owner: LockOwner;
  constructor(file: string, owner: LockOwner) {
    super(
      ErrorCode.StoreBusy,
      `The embedded store is in use by process ${owner.pid} (${owner.command || 'unknown command'}, since ${owner.acquiredAt}${owner.host !== hostname() ? ` on ${owner.host}` : ''}); only one process may open it (lock ${file}).`,
      { details: { lockFile: file, owner } },
    );
    this.owner = owner;
  }
}

/** Options of acquireDirectoryLock. */
export interface AcquireOptions {
  /** How long to wait for a live holder to let go before refusing (ms, default 0: refuse at once). */
  waitMs?: number;
  /** Called while waiting, with the holder (e.g. to look for its server credential); return true to stop waiting and refuse now. */
  onBusy?: (owner: LockOwner) => boolean | Promise<boolean>;
  /** Command line recorded in the lock (default: this process's argv). */
  command?: string;
}

/** Takes the lock at `file` for this process, recovering it from a dead holder; throws StoreBusyError while a live process holds it. */
export async function acquireDirectoryLock(file: string, options: AcquireOptions = {}): Promise<DirectoryLock> {
  const owner = currentOwner(options.command);
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (let attempt = 0; ; attempt += 1) {
    if (tryCreate(file, owner)) return heldLock(file, owner);
    const holder = readLockOwner(file);
    if (holder === undefined) continue; // released between our link and our read: try again
    if (holder === 'unreadable' || !isAlive(holder)) {
      // Recovered, or another process is recovering it right now: either way, look again shortly.
      if (!recoverDeadLock(file, holder)) await new Promise((resolve) => setTimeout(resolve, 10));
      if (attempt > 1000)
        throw new SystemError(
          ErrorCode.StoreUnavailable,
          `Could not recover the store lock ${file} from its dead holder; delete the file if no process uses the store.`,
        );
      continue;
    }
    if ((await options.onBusy?.(holder)) === true || Date.now() >= deadline) throw new StoreBusyError(file, holder);
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** Math.min(attempt, 4), 500)));
  }
}

/** The record in a lock file: undefined when there is none, 'unreadable' when it is not a record. */
export function readLockOwner(file: string): LockOwner | 'unreadable' | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SystemError(ErrorCode.StoreUnavailable, `Cannot read the store lock ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return 'unreadable';
    return {
      pid: value.pid,
      startTime: typeof value.startTime === 'string' ? value.startTime : null,
      bootId: typeof value.bootId === 'string' ? value.bootId : null,
      host: typeof value.host === 'string' ? value.host : '',
      command: typeof value.command === 'string' ? value.command : '',
      acquiredAt: typeof value.acquiredAt === 'string' ? value.acquiredAt : '',
    };
  } catch {
    return 'unreadable';
  }
}

/** Whether the process a lock names is still the one that took it. */
export function isAlive(owner: LockOwner): boolean {
  // Another host's processes cannot be seen from here: assume it lives, never take its lock.
  if (owner.host && owner.host !== hostname()) return true;
  const bootId = readBootId();
  if (owner.bootId && bootId && owner.bootId !== bootId) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists, under another user.
  }
  if (owner.startTime === null) return true;
  const startTime = processStartTime(owner.pid);
  return startTime === null || startTime === owner.startTime;
}

/** The kernel's start time of a pid, or null where /proc cannot tell (not Linux, or it just exited). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

function currentOwner(command?: string): LockOwner {
  return {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    bootId: readBootId(),
    host: hostname(),
    command: command ?? describeCommand(process.argv),
    acquiredAt: new Date().toISOString(),
  };
}

/** "factory serve --port 8787" rather than two absolute paths. */
function describeCommand(argv: readonly string[]): string {
  const script = argv[1] ?? '';
  const name =
    /packages[/\\]cli[/\\]src[/\\]main\.ts$/.test(script) || /[/\\]factory$/.test(script)
      ? 'factory'
      : script.split(/[/\\]/).pop() || 'node';
  return [name, ...argv.slice(2)].join(' ').slice(0, 200);
}

/** Creates the lock file holding `owner` if no lock file exists; false if one does. */
function tryCreate(file: string, owner: LockOwner): boolean {
  const scratch = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(scratch, `${JSON.stringify(owner)}\n`, { mode: 0o600 });
  try {
    linkSync(scratch, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new SystemError(ErrorCode.StoreUnavailable, `Cannot create the store lock ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    unlinkSync(scratch);
  }
}

/** Deletes a dead holder's lock, under the recovery lock, if it is still the one judged dead; false if another process holds the recovery lock. */
function recoverDeadLock(file: string, judged: LockOwner | 'unreadable'): boolean {
  const recovery = `${file}.recover`;
  const me = currentOwner('recovering a store lock');
  if (!tryCreate(recovery, me)) {
    const recoverer = readLockOwner(recovery);
    // A recoverer that died mid-recovery (a window of microseconds) leaves its file: clear it.
    if (recoverer !== undefined && (recoverer === 'unreadable' || !isAlive(recoverer))) unlinkIfSame(recovery, recoverer);
    return false; // someone else is recovering; the caller tries again
  }
  try {
    const current = readLockOwner(file);
    if (current !== undefined && sameOwner(current, judged)) unlinkIfSame(file, current);
  } finally {
    unlinkIfSame(recovery, me);
  }
  return true;
}

function sameOwner(a: LockOwner | 'unreadable', b: LockOwner | 'unreadable'): boolean {
  if (a === 'unreadable' || b === 'unreadable') return a === b;
  return a.pid === b.pid && a.startTime === b.startTime && a.acquiredAt === b.acquiredAt && a.host === b.host;
}

function unlinkIfSame(file: string, owner: LockOwner | 'unreadable'): void {
  const current = readLockOwner(file);
  if (current === undefined || !sameOwner(current, owner)) return;
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

const held = new Set<DirectoryLock>();
let exitHookInstalled = false;

function heldLock(file: string, owner: LockOwner): DirectoryLock {
  const lock: DirectoryLock = {
    file,
    owner,
    release() {
      if (!held.delete(lock)) return;
      unlinkIfSame(file, owner);
    },
  };
  held.add(lock);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A process that exits without closing its store still lets go (a SIGKILL cannot be caught:
    // the next process finds the holder dead and recovers the lock).
    process.once('exit', () => {
      for (const lock of [...held]) lock.release();
    });
  }
  return lock;
}
