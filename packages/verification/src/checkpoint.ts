// Signed checkpoints: after every seal the seal key signs (store id, seal seq, seal hash, time),
// the head of the store's seal chain. A checkpoint is kept beside the key (the anchor file) and,
// when one is configured, by a witness outside the database, so an insider holding the database
// cannot remove the newest runs, and one holding the key too cannot rewrite sealed history,
// without the copy kept elsewhere disagreeing (Certificate Transparency and Rekor work the same way).
import { canonicalJson } from '@aifactory/core';
import { keyIdOf, verifySealSignature, type SealSigner } from './seal-signer.ts';

/** The signed head of a store's seal chain. */
export interface Checkpoint {
  /** The store identity (store_identity.id). */
  storeId: string;
  /** Seal chain position of the newest seal. */
  sealSeq: number;
  /** That seal's seal_hash. */
  sealHash: string;
  /** When it was signed: ISO 8601 with milliseconds, UTC. */
  ts: string;
  keyId: string;
  /** Ed25519 public key, SPKI DER base64 (so a witness can check it without the store). */
  publicKey: string;
  /** Signature (base64) over checkpointMessage(). */
  signature: string;
}

/** The canonical message a checkpoint's signature covers. */
export function checkpointMessage(checkpoint: Pick<Checkpoint, 'storeId' | 'sealSeq' | 'sealHash' | 'ts' | 'keyId'>): string {
  return canonicalJson({
    v: 1,
    kind: 'aifactory.checkpoint',
    store_id: checkpoint.storeId,
    seal_seq: checkpoint.sealSeq,
    seal_hash: checkpoint.sealHash,
    ts: checkpoint.ts,
    key_id: checkpoint.keyId,
  });
}

/** Signs the head of a store's seal chain. */
export function signCheckpoint(signer: SealSigner, head: { storeId: string; sealSeq: number; sealHash: string; ts?: Date }): Checkpoint {
  const unsigned = {
    storeId: head.storeId,
    sealSeq: head.sealSeq,
    sealHash: head.sealHash,
    ts: (head.ts ?? new Date()).toISOString(),
    keyId: signer.keyId,
  };
  return { ...unsigned, publicKey: signer.publicKey, signature: signer.sign(checkpointMessage(unsigned)) };
}

/** Whether a checkpoint's key id matches its key and its signature verifies (never throws). */
export function checkpointSignatureValid(checkpoint: Checkpoint): boolean {
  if (typeof checkpoint.publicKey !== 'string' || typeof checkpoint.signature !== 'string') return false;
  if (keyIdOf(checkpoint.publicKey) !== checkpoint.keyId) return false;
  return verifySealSignature(checkpoint.publicKey, checkpointMessage(checkpoint), checkpoint.signature);
}

const hex64 = /^[0-9a-f]{64}$/;
const storeIdPattern = /^[\w.:-]{1,100}$/;

/** Reads a checkpoint from its JSON form (snake_case), or says what is wrong with it. */
export function parseCheckpoint(value: unknown): Checkpoint | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'a checkpoint is a JSON object';
  const record = value as Record<string, unknown>;
  const storeId = record.store_id;
  const sealSeq = record.seal_seq;
  if (typeof storeId !== 'string' || !storeIdPattern.test(storeId)) return 'store_id must be 1-100 letters, digits and . _ : -';
  if (typeof sealSeq !== 'number' || !Number.isSafeInteger(sealSeq) || sealSeq < 1) return 'seal_seq must be a positive integer';
  if (typeof record.seal_hash !== 'string' || !hex64.test(record.seal_hash)) return 'seal_hash must be a lower-case hex sha256';
  if (typeof record.ts !== 'string' || Number.isNaN(Date.parse(record.ts))) return 'ts must be an ISO 8601 time';
  for (const field of ['key_id', 'public_key', 'signature'] as const) {
    if (typeof record[field] !== 'string' || (record[field] as string).length === 0 || (record[field] as string).length > 400)
      return `${field} must be a non-empty string`;
  }
  return {
    storeId,
    sealSeq,
    sealHash: record.seal_hash,
    ts: record.ts,
    keyId: record.key_id as string,
    publicKey: record.public_key as string,
    signature: record.signature as string,
  };
}

/** A checkpoint as JSON (snake_case, as witnesses and anchor files keep it). */
export function checkpointJson(checkpoint: Checkpoint): Record<string, unknown> {
  return {
    store_id: checkpoint.storeId,
    seal_seq: checkpoint.sealSeq,
    seal_hash: checkpoint.sealHash,
    ts: checkpoint.ts,
    key_id: checkpoint.keyId,
    public_key: checkpoint.publicKey,
    signature: checkpoint.signature,
  };
}
