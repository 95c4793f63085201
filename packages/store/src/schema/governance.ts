// The execution plane's governance tables: approvals, their votes, policy versions in force and
// the notification outbox.
import { bigserial, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/** A held action waiting for humans: bound to run, step, argument hash, policy version and expiry. */
export const approvals = pgTable(
  'approvals',
  {
    id: text('id').primaryKey(),
    runId: text('run_id').notNull(),
    step: integer('step').notNull(),
    /** The governed action as decided (kind, name, args after redaction). */
    action: jsonb('action').notNull(),
    argsHash: text('args_hash').notNull(),
    policyHash: text('policy_hash').notNull(),
    /** Who may approve: roles, count, separation of duties, on_expiry. */
    requirement: jsonb('requirement').notNull(),
    requestedBy: text('requested_by').notNull(),
    /** What approvers are shown besides the action: agent, matching rules, the decision's reason. */
    context: jsonb('context').notNull().default({}),
    status: text('status').notNull(), // pending | approved | rejected | expired | consumed
    /** The decision once made (approved | rejected), kept when the approval is consumed. */
    outcome: text('outcome'),
    requestedAt: timestamp('requested_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    decidedAt: timestamp('decided_at', { withTimezone: true, mode: 'date' }),
    consumedAt: timestamp('consumed_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [index('approvals_status_idx').on(table.status), index('approvals_run_idx').on(table.runId, table.step)],
);

/** One approver's yes or no to one approval. */
export const approvalVotes = pgTable(
  'approval_votes',
  {
    approvalId: text('approval_id').notNull(),
    approver: text('approver').notNull(),
    roles: jsonb('roles').notNull().default([]),
    vote: text('vote').notNull(), // approve | reject
    comment: text('comment'),
    ts: timestamp('ts', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.approvalId, table.approver] })],
);

/** Every policy version ever in force, by content hash, so runs can be re-decided and explained. */
export const policyVersions = pgTable('policy_versions', {
  hash: text('hash').primaryKey(),
  name: text('name').notNull(),
  version: text('version').notNull(),
  source: text('source').notNull(),
  file: text('file'),
  firstSeenAt: timestamp('first_seen_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** Agent definitions and prompts by content hash, so replay can find exactly what ran. */
export const artifacts = pgTable('artifacts', {
  hash: text('hash').primaryKey(),
  kind: text('kind').notNull(), // agent | prompt | script
  name: text('name').notNull(),
  content: text('content').notNull(),
  firstSeenAt: timestamp('first_seen_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** Transactional outbox of notifications: written with the decision, delivered after, retried. */
export const notifications = pgTable(
  'notifications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: text('run_id').notNull(),
    target: text('target').notNull(),
    payload: jsonb('payload').notNull(),
    status: text('status').notNull(), // pending | delivered | failed
    /** Delivery attempts so far; a claimed attempt pushes next_attempt_at out as a lease. */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull(),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, mode: 'date' }),
    readAt: timestamp('read_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [
    index('notifications_status_idx').on(table.status, table.nextAttemptAt),
    index('notifications_target_idx').on(table.target, table.id),
  ],
);

/**
 * Tool definitions pinned on first sight (the MCP proxy's defence against tool poisoning): the
 * hash of each tool's description and schemas as first seen, per upstream server. A later change
 * is a governed event (recorded in the run that saw it); only an allowed or approved change moves
 * the pin.
 */
export const toolPins = pgTable(
  'tool_pins',
  {
    /** The upstream server's name, as the proxy names it. */
    server: text('server').notNull(),
    /** The tool's name on that server. */
    tool: text('tool').notNull(),
    /** sha256 of the canonical JSON of the pinned definition (name, title, description, schemas, annotations). */
    definitionHash: text('definition_hash').notNull(),
    /** The pinned definition, as first seen (or last accepted). */
    definition: jsonb('definition').notNull(),
    /** The run that pinned it (its trace holds the tool.pinned event). */
    runId: text('run_id').notNull(),
    pinnedAt: timestamp('pinned_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.server, table.tool] })],
);
