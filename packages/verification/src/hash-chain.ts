// How an event is hashed. Recording and verification both go through these functions, so the two
// can never disagree about what a hash covers.
//
//   payload_hash = sha256(salt + canonicalJson(payload))
//   hash         = sha256(prev_hash + canonicalJson({run_id, seq, ts, type, actor, payload_hash,
//                                                    schema_version[, redactions]}))
//
// The chain covers the salted payload hash, not the payload, so erasing a payload and its salt
// leaves every hash intact while the payload can no longer be guessed from its hash.
import { randomBytes } from 'node:crypto';
import { canonicalJson, sha256Hex } from '@aifactory/core';

/** prev_hash of a run's first event. */
export const genesisHash = '0'.repeat(64);

/** What redaction replaced in a payload: where, and what kind of value (never the value). */
export interface RedactionNote {
  /** Dotted path into the payload (`args.headers.authorization`, `messages[2].content`). */
  path: string;
  /** Kind of value replaced, e.g. `openai_key`, `email`. */
  kind: string;
}

/** The fields an event's hash covers. */
export interface EventHeader {
  runId: string;
  seq: number;
  /** ISO 8601 with milliseconds, UTC. */
  ts: string;
  type: string;
  actor: string;
  payloadHash: string;
  schemaVersion: number;
  /** Present only when redaction replaced something. */
  redactions?: readonly RedactionNote[] | null;
}

/** A fresh random salt for one payload (128 bits, hex). */
export function newSalt(): string {
  return randomBytes(16).toString('hex');
}

/** sha256 over the salt and the payload's canonical JSON text. */
export function payloadHash(salt: string, canonicalPayload: string): string {
  return sha256Hex(salt + canonicalPayload);
}

/** The canonical JSON an event's hash covers. */
export function canonicalHeader(header: EventHeader): string {
  const fields: Record<string, unknown> = {
    run_id: header.runId,
    seq: header.seq,
    ts: header.ts,
    type: header.type,
    actor: header.actor,
    payload_hash: header.payloadHash,
    schema_version: header.schemaVersion,
  };
  if (header.redactions && header.redactions.length > 0) fields.redactions = header.redactions;
  return canonicalJson(fields);
}

/** The event's hash: sha256 over the previous hash and the canonical header. */
export function eventHash(prevHash: string, header: EventHeader): string {
  return sha256Hex(prevHash + canonicalHeader(header));
}
