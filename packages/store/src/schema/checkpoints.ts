// LangGraph checkpoints in the store, so any process can resume a held run. Channel values live
// apart from the checkpoint, keyed by channel version, so a step stores only the channels it
// changed (a long message history is not rewritten at every step).
import { customType, jsonb, pgTable, primaryKey, text, integer, timestamp } from 'drizzle-orm/pg-core';

/** Raw bytes: LangGraph serialises checkpoints with its own serde. */
const bytes = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });

/** One checkpoint of one thread in one namespace (its channel values live in checkpoint_blobs). */
export const checkpoints = pgTable(
  'checkpoints',
  {
    threadId: text('thread_id').notNull(),
    checkpointNs: text('checkpoint_ns').notNull().default(''),
    checkpointId: text('checkpoint_id').notNull(),
    parentCheckpointId: text('parent_checkpoint_id'),
    /** Serde type of `checkpoint`. */
    type: text('type'),
    /** The checkpoint without its channel values, as serialised by the saver's serde. */
    checkpoint: bytes('checkpoint').notNull(),
    metadataType: text('metadata_type'),
    /** Metadata exactly as serialised; metadata_json is a queryable copy for list filters. */
    metadata: bytes('metadata').notNull(),
    metadataJson: jsonb('metadata_json').notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.threadId, table.checkpointNs, table.checkpointId] })],
);

/** One version of one channel's value; checkpoints point at versions through channel_versions. */
export const checkpointBlobs = pgTable(
  'checkpoint_blobs',
  {
    threadId: text('thread_id').notNull(),
    checkpointNs: text('checkpoint_ns').notNull().default(''),
    channel: text('channel').notNull(),
    version: text('version').notNull(),
    /** Serde type, or 'empty' when the channel had no value at this version. */
    type: text('type').notNull(),
    blob: bytes('blob'),
  },
  (table) => [primaryKey({ columns: [table.threadId, table.checkpointNs, table.channel, table.version] })],
);

/** Pending writes attached to a checkpoint. */
export const checkpointWrites = pgTable(
  'checkpoint_writes',
  {
    threadId: text('thread_id').notNull(),
    checkpointNs: text('checkpoint_ns').notNull().default(''),
    checkpointId: text('checkpoint_id').notNull(),
    taskId: text('task_id').notNull(),
    /** Serialised path of the task that wrote; with task_id and idx it orders a superstep's writes. */
    taskPath: text('task_path').notNull().default(''),
    idx: integer('idx').notNull(),
    channel: text('channel').notNull(),
    type: text('type'),
    value: bytes('value'),
  },
  (table) => [primaryKey({ columns: [table.threadId, table.checkpointNs, table.checkpointId, table.taskId, table.idx] })],
);
