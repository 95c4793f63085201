// How an event is hashed. Recording and verification both go through these functions, so the two
// can never disagree about what a hash covers.
//
//   payload_hash = sha256(salt + canonicalJson(payload))
//   hash         = sha256(prev_hash + canonicalJson({run_id, seq, ts, type, actor, payload_hash,
//                                                    schema_version[, redactions]}))
//
// The chain covers the salted payload hash, not the payload, so erasing a payload and its salt
// leaves every hash intact while the payload can no longer be guessed from its hash.
import { hash, randomFillSync } from 'node:crypto';
import { canonicalJson } from '@aifactory/core';

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

// Salts come from a pool refilled 256 at a time: the same CSPRNG bytes as randomBytes(16) per
// event, for one getrandom call instead of 256 (a recorded step asks for several salts).
const saltBytes = 16;
const saltPool = Buffer.alloc(saltBytes * 256);
let saltOffset = saltPool.length;

/** A fresh random salt for one payload (128 bits, hex). */
export function newSalt(): string {
  if (saltOffset === saltPool.length) {
    randomFillSync(saltPool);
    saltOffset = 0;
  }
  const salt = saltPool.toString('hex', saltOffset, saltOffset + saltBytes);
  saltOffset += saltBytes;
  return salt;
}

// Verification recomputes two hashes per event, so both take the one-shot crypto.hash (the same
// sha256 as sha256Hex in @aifactory/core, without a Hash object per call).
const sha256 = (text: string): string => hash('sha256', text, 'hex');

/** sha256 over the salt and the payload's canonical JSON text. */
export function payloadHash(salt: string, canonicalPayload: string): string {
  return sha256(salt + canonicalPayload);
}

/**
 * The canonical JSON (RFC 8785) an event's hash covers.
 *
 * The header is a flat object of fixed keys whose values are strings and integers (plus the
 * redaction notes, when present). Its RFC 8785 form is therefore the keys in UTF-16 order, each
 * string value as JSON.stringify writes it and each integer as Number#toString writes it — which
 * is what this builds directly, because verification runs it for every event and the general
 * canonicaliser is the largest cost there. A property test holds it equal to canonicalJson for
 * arbitrary strings and integers; anything nested (the redaction notes) goes through canonicalJson.
 */
export function canonicalHeader(header: EventHeader): string {
  if (!Number.isSafeInteger(header.seq) || !Number.isSafeInteger(header.schemaVersion)) {
    return canonicalJson({
      run_id: header.runId,
      seq: header.seq,
      ts: header.ts,
      type: header.type,
      actor: header.actor,
      payload_hash: header.payloadHash,
      schema_version: header.schemaVersion,
      ...(header.redactions && header.redactions.length > 0 ? { redactions: header.redactions } : {}),
    });
  }
  if (
    !(header.redactions && header.redactions.length > 0) &&
    typeof header.actor === 'string' &&
    typeof header.payloadHash === 'string' &&
    typeof header.runId === 'string' &&
    typeof header.ts === 'string' &&
    typeof header.type === 'string'
  ) {
    // The common case as one JSON.stringify of an object whose keys are written in RFC 8785 order:
    // the same text as the concatenation below, but built as one flat string, which sha256 reads
    // without first flattening a tree of a dozen concatenated pieces (a quarter of that hash's cost).
    return JSON.stringify({
      actor: header.actor,
      payload_hash: header.payloadHash,
      run_id: header.runId,
      schema_version: header.schemaVersion,
      seq: header.seq,
      ts: header.ts,
      type: header.type,
    });
  }
  const redactions = header.redactions && header.redactions.length > 0 ? `,"redactions":${canonicalJson(header.redactions)}` : '';
  return (
    `{"actor":${JSON.stringify(header.actor)},"payload_hash":${JSON.stringify(header.payloadHash)}${redactions},` +
    `"run_id":${JSON.stringify(header.runId)},"schema_version":${header.schemaVersion},"seq":${header.seq},` +
    `"ts":${JSON.stringify(header.ts)},"type":${JSON.stringify(header.type)}}`
  );
}

/** The event's hash: sha256 over the previous hash and the canonical header. */
export function eventHash(prevHash: string, header: EventHeader): string {
  return headerHash(prevHash, canonicalHeader(header));
}

/** The event's hash from its canonical header's text (canonicalHeader), for a writer that keeps that text. */
export function headerHash(prevHash: string, canonicalHeaderText: string): string {
  return sha256(prevHash + canonicalHeaderText);
}
