// The local credential: while `factory serve` owns the embedded store, it writes
// `<home>/server.json` (mode 0600, so only the home's owner reads it) with its URL, its pid and a
// secret that the server accepts as a local administrator. CLI commands in another terminal read
// it and go through the server instead of opening the store a second time. The file is removed
// when the server stops; one left by a killed server names a dead pid and is ignored.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, SystemError } from '@aifactory/core';
import { isAlive, processStartTime, type LockOwner } from '@aifactory/store';

/** What `factory serve` writes for the CLI beside it. */
export interface LocalCredential {
  /** Base URL of the running server. */
  url: string;
  /** The server's pid. */
  pid: number;
  /** The kernel's start time of that pid, so a reused pid is not taken for the server. */
  startTime: string | null;
  /** The secret the server accepts as a local administrator. */
  token: string;
  /** When the server started (ISO time). */
  startedAt: string;
}

/** Where the credential lives in a home. */
export function localCredentialFile(home: string): string {
  return path.join(home, 'server.json');
}

/** A fresh secret for the local credential. */
export function newLocalToken(): string {
  return `aifl_${randomBytes(32).toString('base64url')}`;
}

/** Writes the credential atomically with mode 0600 (never visible with wider permissions). */
export function writeLocalCredential(home: string, credential: Omit<LocalCredential, 'pid' | 'startTime' | 'startedAt'>): LocalCredential {
  const full: LocalCredential = {
    ...credential,
    pid: process.pid,
    startTime: processStartTime(process.pid),
    startedAt: new Date().toISOString(),
  };
  const file = localCredentialFile(home);
  const scratch = `${file}.${process.pid}.tmp`;
  writeFileSync(scratch, `${JSON.stringify(full, null, 2)}\n`, { mode: 0o600 });
  renameSync(scratch, file);
  return full;
}

/** The credential of a live server in this home, if there is one. */
export function readLocalCredential(home: string): LocalCredential | undefined {
  let value: Partial<LocalCredential>;
  try {
    value = JSON.parse(readFileSync(localCredentialFile(home), 'utf8')) as Partial<LocalCredential>;
  } catch {
    return undefined;
  }
  if (typeof value.url !== 'string' || typeof value.token !== 'string' || typeof value.pid !== 'number') return undefined;
  const credential: LocalCredential = {
    url: value.url,
    token: value.token,
    pid: value.pid,
    startTime: value.startTime ?? null,
    startedAt: value.startedAt ?? '',
  };
  const owner: LockOwner = {
    pid: credential.pid,
    startTime: credential.startTime,
    bootId: null,
    host: '',
    command: 'factory serve',
    acquiredAt: credential.startedAt,
  };
  return isAlive(owner) ? credential : undefined;
}

/** Removes the credential if it is still this process's. */
export function removeLocalCredential(home: string, token: string): void {
  try {
    const value = JSON.parse(readFileSync(localCredentialFile(home), 'utf8')) as Partial<LocalCredential>;
    if (value.token === token) unlinkSync(localCredentialFile(home));
  } catch {
    // Already gone.
  }
}

/** The embedded store is owned by a running `factory serve`; the message names it and what to do. */
export class ServedStoreError extends SystemError {
  /** The server's credential. */
  readonly credential: LocalCredential;
  constructor(location: string, credential: LocalCredential, cause?: unknown) {
    super(
      ErrorCode.StoreBusy,
      `factory serve (pid ${credential.pid}) at ${credential.url} owns the embedded store at ${location}, and this command needs the store itself. Stop the server (Ctrl-C in its terminal, or kill -TERM ${credential.pid}) and run the command again; to share one store among several processes, use Postgres (DATABASE_URL).`,
      { details: { server: credential.url, pid: credential.pid }, cause },
    );
    this.credential = credential;
  }
}
