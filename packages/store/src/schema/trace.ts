// The verification plane's tables: runs, their append-only hash-chained events, and run seals.
// No foreign keys on purpose: the hash chain is the integrity mechanism, and the tables must
// migrate into any Postgres schema (tests isolate themselves in schemas of their own).
// A migration adds triggers that refuse UPDATE and DELETE on events and seals for every role
// (only the erasure update — payload and salt to null, erased_at set — passes).
import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** One execution of one agent on one input (one LangGraph thread). */
export const runs = pgTable(
  'runs',
  {
    id: text('id').primaryKey(),
    agent: text('agent').notNull(),
    team: text('team'),
    principal: text('principal').notNull(),
    status: text('status').notNull(), // running | held | completed | failed
    input: jsonb('input'),
    /** Content hashes of the agent definition and prompt, the policies in force, and other run facts. */
    metadata: jsonb('metadata').notNull().default({}),
    /** The run this one replays, when it is a replay. */
    replayOf: text('replay_of'),
    parentRunId: text('parent_run_id'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }),
    /** Set when the run is sealed (the chain itself is the truth; these are a convenience). */
    headSeq: integer('head_seq').notNull().default(0),
    headHash: text('head_hash'),
  },
  (table) => [
    index('runs_agent_started_idx').on(table.agent, table.startedAt),
    index('runs_status_idx').on(table.status),
    // Listing newest or oldest first walks (started_at, id); the id breaks ties for cursors.
    index('runs_started_id_idx').on(table.startedAt, table.id),
  ],
);

/**
 * One record of a run. hash = sha256(prev_hash + canonical JSON of {run_id, seq, ts, type, actor,
 * payload_hash, schema_version[, redactions]}); payload_hash = sha256(payload_salt + payload).
 * Only the primary key is indexed, so an append costs one index insert.
 */
export const events = pgTable(
  'events',
  {
    runId: text('run_id').notNull(),
    seq: integer('seq').notNull(),
    ts: timestamp('ts', { withTimezone: true, mode: 'date' }).notNull(),
    type: text('type').notNull(),
    actor: text('actor').notNull(),
    /**
     * The payload's RFC 8785 canonical JSON, exactly the text that was hashed (text, not jsonb:
     * jsonb would re-serialise it, and verification would have to canonicalise it again).
     * Null once erased; the chain covers payloadHash, not the payload.
     */
    payload: text('payload'),
    payloadSalt: text('payload_salt'),
    payloadHash: text('payload_hash').notNull(),
    /** Version of the payload schema of this event type. */
    schemaVersion: integer('schema_version').notNull().default(1),
    /** What redaction replaced before recording: [{path, kind}], never the values. Covered by the hash. */
    redactions: jsonb('redactions'),
    erasedAt: timestamp('erased_at', { withTimezone: true, mode: 'date' }),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (table) => [primaryKey({ columns: [table.runId, table.seq] })],
);

/**
 * The store's identity: one row, written by the migration that creates the table (a random UUID).
 * Seal anchors and witnessed checkpoints are keyed by it, not by a URL, and every seal since it
 * exists signs it, so a store reached through another URL is still the same store.
 */
export const storeIdentity = pgTable('store_identity', {
  id: text('id').primaryKey(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/**
 * A signature over a run's head hash; seals chain to each other so whole runs cannot vanish
 * unnoticed. kind: `final` (the run ended; one per run), `start` (the run was started by a
 * recorder holding the key) or `checkpoint` (a held or long run, sealed so far).
 */
export const seals = pgTable(
  'seals',
  {
    /** Position in the seal chain, from 1 without gaps. */
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    runId: text('run_id').notNull(),
    /** final | start | checkpoint; seals written before kinds existed are final. */
    kind: text('kind').notNull().default('final'),
    /** The store identity the seal signs (null on seals written before store identities). */
    storeId: text('store_id'),
    headSeq: integer('head_seq').notNull(),
    headHash: text('head_hash').notNull(),
    keyId: text('key_id').notNull(),
    /** Ed25519 public key (SPKI, base64) the signature verifies with; trust comes from pinning its key id. */
    publicKey: text('public_key').notNull(),
    prevSealHash: text('prev_seal_hash').notNull(),
    sealHash: text('seal_hash').notNull(),
    /** Ed25519 signature (base64) over the canonical JSON of the seal's fields, prev_seal_hash included. */
    signature: text('signature').notNull(),
    ts: timestamp('ts', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [
    uniqueIndex('seals_run_id_unique')
      .on(table.runId)
      .where(sql`kind = 'final'`),
    index('seals_run_idx').on(table.runId, table.seq),
  ],
);

/**
 * Who drives a running run: one owner at a time, holding a lease until `expires_at`. `epoch` is
 * the fencing token: it grows by one at every take-over, and every append and tool execution of
 * the owner checks it, so a process that lost its lease (paused past it) can do neither.
 */
export const runLeases = pgTable(
  'run_leases',
  {
    runId: text('run_id').primaryKey(),
    /** The owning process (`host:pid:random`). */
    owner: text('owner').notNull(),
    epoch: integer('epoch').notNull(),
    /** driving, or recovering (taken over from a dead owner, not yet going on). */
    state: text('state').notNull().default('driving'),
    acquiredAt: timestamp('acquired_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [index('run_leases_expires_idx').on(table.expiresAt), index('run_leases_owner_idx').on(table.owner)],
);
