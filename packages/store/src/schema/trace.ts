// The verification plane's tables: runs, their append-only hash-chained events, and run seals.
// No foreign keys on purpose: the hash chain is the integrity mechanism, and the tables must
// migrate into any Postgres schema (tests isolate themselves in schemas of their own).
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

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
    headSeq: integer('head_seq').notNull().default(0),
    headHash: text('head_hash'),
  },
  (table) => [index('runs_agent_started_idx').on(table.agent, table.startedAt), index('runs_status_idx').on(table.status)],
);

/** One record of a run. hash = sha256(prev_hash + canonical JSON of the event with its salted payload hash). */
export const events = pgTable(
  'events',
  {
    runId: text('run_id').notNull(),
    seq: integer('seq').notNull(),
    ts: timestamp('ts', { withTimezone: true, mode: 'date' }).notNull(),
    type: text('type').notNull(),
    actor: text('actor').notNull(),
    /** Null once erased; the chain covers payloadHash, not the payload. */
    payload: jsonb('payload'),
    payloadSalt: text('payload_salt'),
    payloadHash: text('payload_hash').notNull(),
    schemaVersion: integer('schema_version').notNull().default(1),
    erasedAt: timestamp('erased_at', { withTimezone: true, mode: 'date' }),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (table) => [primaryKey({ columns: [table.runId, table.seq] }), index('events_type_idx').on(table.type), index('events_ts_idx').on(table.ts)],
);

/** A signature over a run's head hash; seals chain to each other so whole runs cannot vanish unnoticed. */
export const seals = pgTable('seals', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  runId: text('run_id').notNull().unique(),
  headSeq: integer('head_seq').notNull(),
  headHash: text('head_hash').notNull(),
  keyId: text('key_id').notNull(),
  publicKey: text('public_key').notNull(),
  prevSealHash: text('prev_seal_hash').notNull(),
  sealHash: text('seal_hash').notNull(),
  signature: text('signature').notNull(),
  ts: timestamp('ts', { withTimezone: true, mode: 'date' }).notNull(),
});
