// LangGraph checkpoints in the store, so any process can resume a held run.
import { customType, index, pgTable, primaryKey, text, integer } from 'drizzle-orm/pg-core';

/** Raw bytes: LangGraph serialises checkpoints with its own serde. */
const bytes = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });

/** One checkpoint of one thread in one namespace. */
export const checkpoints = pgTable(
  'checkpoints',
  {
    threadId: text('thread_id').notNull(),
    checkpointNs: text('checkpoint_ns').notNull().default(''),
    checkpointId: text('checkpoint_id').notNull(),
    parentCheckpointId: text('parent_checkpoint_id'),
    type: text('type'),
    checkpoint: bytes('checkpoint').notNull(),
    metadataType: text('metadata_type'),
    metadata: bytes('metadata').notNull(),
  },
  (table) => [primaryKey({ columns: [table.threadId, table.checkpointNs, table.checkpointId] })],
);

/** Pending writes attached to a checkpoint. */
export const checkpointWrites = pgTable(
  'checkpoint_writes',
  {
    threadId: text('thread_id').notNull(),
    checkpointNs: text('checkpoint_ns').notNull().default(''),
    checkpointId: text('checkpoint_id').notNull(),
    taskId: text('task_id').notNull(),
    idx: integer('idx').notNull(),
    channel: text('channel').notNull(),
    type: text('type'),
    value: bytes('value'),
  },
  (table) => [
    primaryKey({ columns: [table.threadId, table.checkpointNs, table.checkpointId, table.taskId, table.idx] }),
    index('checkpoint_writes_thread_idx').on(table.threadId),
  ],
);
