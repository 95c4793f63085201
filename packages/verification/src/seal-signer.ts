// Ed25519 seal keys (node:crypto) and the seal format. A key is generated on first use into the
// data directory (mode 0600) or loaded from a configured path; its key id (a fingerprint of the
// public key) is recorded in every seal so auditors can pin the key they trust.
//
// Beside the key the signer keeps an anchor per store: the last seal it made. The seal chain is
// signed link by link, so removing a run anywhere but at the end breaks a link nobody can re-sign;
// the anchor is what shows a removed *last* run (the tail of the seal chain).
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as signBytes,
  verify as verifyBytes,
  type KeyObject,
} from 'node:crypto';
import { appendFileSync, chmodSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, SystemError, UserError, canonicalJson, sha256Hex } from '@aifactory/core';
import type { Checkpoint } from './checkpoint.ts';
import { createFileOnce } from './key-file.ts';

/** The last seal a signer made in one store: the chain must still reach it. */
export interface SealAnchor {
  /** Seal chain position. */
  seq: number;
  /** That seal's hash. */
  sealHash: string;
  /** The signed checkpoint of that seal, when it was made by a version that signs checkpoints. */
  checkpoint?: Checkpoint;
}

/** Signs seals; one Ed25519 key. */
export interface SealSigner {
  /** Fingerprint of the public key: `ed25519:` + 16 hex characters of sha256(SPKI DER). */
  readonly keyId: string;
  /** Public key, SPKI DER in base64 (what seals and exports carry). */
  readonly publicKey: string;
  /** Signs a UTF-8 message; returns the signature in base64. */
  sign(message: string): string;
  /** The last seal this signer made in the store named by storeKey (`store:<store id>`, or a URL for anchors written before store identities), if it remembers one. */
  readAnchor(storeKey: string): Promise<SealAnchor | undefined>;
  /** Remembers a seal as the newest one in the store (kept if newer than the one remembered). */
  writeAnchor(storeKey: string, anchor: SealAnchor): Promise<void>;
}

/** What a seal vouches for: a run's end, its start, or its head so far (a held or long run). */
export type SealKind = 'final' | 'start' | 'checkpoint';

/** The fields a seal's signature covers. */
export interface SealFields {
  /** Absent on seals written before kinds existed (they are final). */
  kind?: SealKind;
  /** The store identity; absent on seals written before store identities (format v1). */
  storeId?: string | null;
  seq: number;
  runId: string;
  headSeq: number;
  headHash: string;
  prevSealHash: string;
  keyId: string;
  /** ISO 8601 with milliseconds, UTC. */
  ts: string;
}

/** prev_seal_hash of the first seal in a store. */
export const genesisSealHash = '0'.repeat(64);

/**
 * The canonical message a seal's signature covers (the link to the previous seal included).
 * Version 2 adds the seal's kind and the store identity; a seal without a store id is version 1,
 * as written before store identities existed (final seals only).
 */
export function sealMessage(fields: SealFields): string {
  if (fields.storeId !== undefined && fields.storeId !== null) {
    return canonicalJson({
      v: 2,
      kind: fields.kind ?? 'final',
      store_id: fields.storeId,
      seq: fields.seq,
      run_id: fields.runId,
      head_seq: fields.headSeq,
      head_hash: fields.headHash,
      prev_seal_hash: fields.prevSealHash,
      key_id: fields.keyId,
      ts: fields.ts,
    });
  }
  return canonicalJson({
    v: 1,
    seq: fields.seq,
    run_id: fields.runId,
    head_seq: fields.headSeq,
    head_hash: fields.headHash,
    prev_seal_hash: fields.prevSealHash,
    key_id: fields.keyId,
    ts: fields.ts,
  });
}

/** A seal's own hash, which the next seal links to. */
export function sealHash(message: string, signature: string): string {
  return sha256Hex(`${message}\n${signature}`);
}

/** Key id of a public key given as SPKI DER base64. */
export function keyIdOf(publicKey: string): string {
  return `ed25519:${sha256Hex(Buffer.from(publicKey, 'base64')).slice(0, 16)}`;
}

const publicKeyCache = new Map<string, KeyObject | null>();

/** Checks an Ed25519 signature; false (never a throw) for a malformed key or signature. */
export function verifySealSignature(publicKey: string, message: string, signature: string): boolean {
  let key = publicKeyCache.get(publicKey);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
      if (key.asymmetricKeyType !== 'ed25519') key = null;
    } catch {
      key = null;
    }
    if (publicKeyCache.size > 1000) publicKeyCache.clear();
    publicKeyCache.set(publicKey, key);
  }
  if (!key) return false;
  try {
    return verifyBytes(null, Buffer.from(message), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** The default key location inside a data directory. */
export function defaultKeyPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'seal-ed25519.pem');
}

/**
 * Loads the seal key from options.keyPath (which must exist), or from the data directory,
 * generating it there on first use (mode 0600).
 */
export async function loadOrCreateSigner(dataDir: string, options: { keyPath?: string } = {}): Promise<SealSigner> {
  if (options.keyPath) {
    const signer = await loadSigner(options.keyPath);
    if (!signer)
      throw new UserError(
        ErrorCode.NotFound,
        `Seal key '${options.keyPath}' does not exist; give the path of an Ed25519 private key in PEM (PKCS#8).`,
      );
    return signer;
  }
  const keyPath = defaultKeyPath(dataDir);
  const existing = await loadSigner(keyPath);
  if (existing) return existing;
  await mkdir(path.dirname(keyPath), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  try {
    // Two processes creating the key at once must agree on one, and neither may read it half-written.
    await createFileOnce(keyPath, pem);
  } catch (error) {
    throw new SystemError(ErrorCode.Internal, `Could not write the seal key to '${keyPath}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  const created = await loadSigner(keyPath);
  if (!created) throw new SystemError(ErrorCode.Internal, `The seal key at '${keyPath}' vanished right after it was written.`);
  return created;
}

/** Loads the signer whose private key is at keyPath; undefined when the file does not exist. */
export async function loadSigner(keyPath: string): Promise<SealSigner | undefined> {
  let pem: string;
  try {
    pem = await readFile(keyPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SystemError(ErrorCode.Internal, `Could not read the seal key '${keyPath}': ${(error as Error).message}`, { cause: error });
  }
  const mode = (await stat(keyPath)).mode & 0o777;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new UserError(
      ErrorCode.Forbidden,
      `Seal key '${keyPath}' is readable by others (mode ${mode.toString(8)}); run 'chmod 600 ${keyPath}'.`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new UserError(ErrorCode.InputInvalid, `Seal key '${keyPath}' is not a PEM private key: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new UserError(ErrorCode.InputInvalid, `Seal key '${keyPath}' is a ${privateKey.asymmetricKeyType} key; seals need Ed25519.`);
  }
  return createSigner(privateKey, `${keyPath}.anchors.json`);
}

/** A signer over a key in memory; anchors are kept in anchorPath when given, else in memory only. */
export function createSigner(privateKey: KeyObject, anchorPath?: string): SealSigner {
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
  const keyId = keyIdOf(publicKey);
  const anchors = new Map<string, SealAnchor>();
  const log = anchorPath ? anchorLog(anchorPath) : undefined;
  let appended = 0;
  return {
    keyId,
    publicKey,
    sign: (message) => signBytes(null, Buffer.from(message), privateKey).toString('base64'),
    async readAnchor(storeKey) {
      const fromFile = anchorPath ? readAllAnchors(anchorPath)[storeKey] : undefined;
      const inMemory = anchors.get(storeKey);
      if (fromFile && inMemory) return fromFile.seq >= inMemory.seq ? fromFile : inMemory;
      return fromFile ?? inMemory;
    },
    async writeAnchor(storeKey, anchor) {
      const previous = anchors.get(storeKey);
      if (previous && anchor.seq <= previous.seq) return;
      anchors.set(storeKey, anchor);
      if (!anchorPath || !log || storeKey.startsWith('memory:')) return;
      appendFileSync(log, `${JSON.stringify(anchorLine(storeKey, anchor))}\n`, { mode: 0o600 });
      appended += 1;
      if (appended % compactEvery === 0) compactAnchors(anchorPath);
    },
  };
}

// Anchors are appended, one line a seal, to a log beside the anchor file (<key>.anchors.log), and
// folded into the anchor file (<key>.anchors.json, written whole, then renamed over) every
// `compactEvery` appends. Rewriting and renaming the file on every seal, twice a run, cost ~0.25 ms
// of CPU and 1-2 ms of waiting each (ext4 starts writing a file's data back when it is renamed over
// another): more than a governed step's commit (bench/execution, issue #21). An append costs ~20
// microseconds. Readers take, per store, the anchor of highest seq across the file, the log and
// a log being folded: a line lost or torn (a crash mid-write) can only make an anchor older, and
// the anchor is the newest seal, which the next seal's line supersedes.
const compactEvery = 1000;

/** The append-only log of anchors beside the anchor file. */
function anchorLog(anchorPath: string): string {
  return anchorPath.endsWith('.json') ? `${anchorPath.slice(0, -'.json'.length)}.log` : `${anchorPath}.log`;
}

/** One line of the anchor log. */
function anchorLine(storeKey: string, anchor: SealAnchor): Record<string, unknown> {
  return { store: storeKey, seq: anchor.seq, sealHash: anchor.sealHash, ...(anchor.checkpoint ? { checkpoint: anchor.checkpoint } : {}) };
}

/** Reads a file, or undefined when it does not exist. */
function readIfExists(file: string, what: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SystemError(ErrorCode.Internal, `Seal anchors '${file}' are unreadable (${what}): ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Keeps `anchor` for `storeKey` when it is newer than the one held. */
function keepNewer(all: Record<string, SealAnchor>, storeKey: string, anchor: SealAnchor): void {
  const current = Object.hasOwn(all, storeKey) ? all[storeKey] : undefined;
  if (current && current.seq >= anchor.seq) return;
  all[storeKey] = { seq: anchor.seq, sealHash: anchor.sealHash, ...(anchor.checkpoint ? { checkpoint: anchor.checkpoint } : {}) };
}

/** Folds the lines of an anchor log into `all`; an unreadable line (torn by a crash) is skipped. */
function foldLog(all: Record<string, SealAnchor>, text: string | undefined): void {
  if (!text) return;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    let entry: { store?: unknown; seq?: unknown; sealHash?: unknown; checkpoint?: Checkpoint };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (typeof entry?.store !== 'string' || typeof entry.seq !== 'number' || typeof entry.sealHash !== 'string') continue;
    keepNewer(all, entry.store, {
      seq: entry.seq,
      sealHash: entry.sealHash,
      ...(entry.checkpoint ? { checkpoint: entry.checkpoint } : {}),
    });
  }
}

/** Logs being folded into the anchor file by some process (left behind if it died doing so). */
function foldingLogs(anchorPath: string): string[] {
  const log = anchorLog(anchorPath);
  const directory = path.dirname(log);
  const prefix = `${path.basename(log)}.`;
  try {
    return readdirSync(directory)
      .filter((name) => name.startsWith(prefix) && name.endsWith('.folding'))
      .map((name) => path.join(directory, name));
  } catch {
    return [];
  }
}

/** Every anchor kept beside the key: the anchor file, logs being folded and the log, newest per store. */
function readAllAnchors(anchorPath: string): Record<string, SealAnchor> {
  // No prototype: a store key read from a file is data, never `__proto__`.
  const all = Object.create(null) as Record<string, SealAnchor>;
  const text = readIfExists(anchorPath, 'file');
  if (text !== undefined) {
    let parsed: Record<string, SealAnchor>;
    try {
      parsed = JSON.parse(text) as Record<string, SealAnchor>;
    } catch (error) {
      throw new SystemError(ErrorCode.Internal, `Seal anchors '${anchorPath}' are unreadable: ${(error as Error).message}`, {
        cause: error,
      });
    }
    for (const [storeKey, anchor] of Object.entries(parsed)) keepNewer(all, storeKey, anchor);
  }
  for (const folding of foldingLogs(anchorPath)) foldLog(all, readIfExists(folding, 'log'));
  foldLog(all, readIfExists(anchorLog(anchorPath), 'log'));
  return all;
}

/**
 * Folds the log into the anchor file: the log is first renamed aside (appends after that start a
 * new log), then the file is rewritten whole with the newest anchor per store and renamed over,
 * and only then is the renamed log removed. A process that dies part way leaves the renamed log,
 * which readers still read. Being synchronous, folds of this process never interleave; across
 * processes each folds the log it renamed aside.
 */
function compactAnchors(anchorPath: string): void {
  const folding = `${anchorLog(anchorPath)}.${process.pid}.${Date.now()}.folding`;
  try {
    renameSync(anchorLog(anchorPath), folding);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const all = readAllAnchors(anchorPath);
  const temporary = `${anchorPath}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, anchorPath);
  try {
    chmodSync(anchorPath, 0o600);
  } catch {
    // The file was written with mode 0600; a file system without modes keeps what it has.
  }
  rmSync(folding, { force: true });
}

/** Reads a trusted public key from a PEM file (public or private key); returns SPKI DER base64. */
export async function readPublicKeyFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(ErrorCode.NotFound, `Key file '${file}' cannot be read: ${(error as Error).message}`, { cause: error });
  }
  try {
    const key = text.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(text)) : createPublicKey(text);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not Ed25519`);
    return key.export({ format: 'der', type: 'spki' }).toString('base64');
  } catch (error) {
    throw new UserError(ErrorCode.InputInvalid, `Key file '${file}' holds no Ed25519 key in PEM: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A public key (SPKI DER base64) as PEM text, for sharing with auditors. */
export function publicKeyPem(publicKey: string): string {
  return createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' })
    .export({ format: 'pem', type: 'spki' })
    .toString();
}
