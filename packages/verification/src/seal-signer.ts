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
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, SystemError, UserError, canonicalJson, sha256Hex } from '@aifactory/core';
import type { Checkpoint } from './checkpoint.ts';

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
    // 'wx': two processes creating the key at once must not overwrite each other's.
    await writeFile(keyPath, pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SystemError(ErrorCode.Internal, `Could not write the seal key to '${keyPath}': ${(error as Error).message}`, {
        cause: error,
      });
    }
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
  // The anchor file is a few hundred bytes beside the key, read and rewritten on every seal (twice a
  // run). It is done synchronously: each step of fs/promises is a thread-pool round trip and a wake
  // of the event loop — eleven per seal, more CPU than the syscalls themselves and a third again on
  // top of the wakes of a run's own commits (bench/execution). Being synchronous, writes of this
  // process never interleave; across processes write-then-rename keeps the file whole.
  function readFileAnchors(): Record<string, SealAnchor> {
    if (!anchorPath) return {};
    try {
      return JSON.parse(readFileSync(anchorPath, 'utf8')) as Record<string, SealAnchor>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new SystemError(ErrorCode.Internal, `Seal anchors '${anchorPath}' are unreadable: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  function writeFileAnchor(file: string, storeKey: string, anchor: SealAnchor): void {
    const all = readFileAnchors();
    const current = all[storeKey];
    if (current && current.seq >= anchor.seq) return;
    all[storeKey] = { seq: anchor.seq, sealHash: anchor.sealHash, ...(anchor.checkpoint ? { checkpoint: anchor.checkpoint } : {}) };
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, file);
    try {
      chmodSync(file, 0o600);
    } catch {
      // The file was written with mode 0600; a file system without modes keeps what it has.
    }
  }
  return {
    keyId,
    publicKey,
    sign: (message) => signBytes(null, Buffer.from(message), privateKey).toString('base64'),
    async readAnchor(storeKey) {
      const fromFile = readFileAnchors()[storeKey];
      const inMemory = anchors.get(storeKey);
      if (fromFile && inMemory) return fromFile.seq >= inMemory.seq ? fromFile : inMemory;
      return fromFile ?? inMemory;
    },
    async writeAnchor(storeKey, anchor) {
      const previous = anchors.get(storeKey);
      if (!previous || anchor.seq > previous.seq) anchors.set(storeKey, anchor);
      if (!anchorPath || storeKey.startsWith('memory:')) return;
      writeFileAnchor(anchorPath, storeKey, anchor);
    },
  };
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
