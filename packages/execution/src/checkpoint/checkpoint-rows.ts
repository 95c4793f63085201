// The checkpoint tables' queries (checkpoints, checkpoint_blobs, checkpoint_writes): the saver
// stores and loads checkpoints, their channel values and pending writes; erasure reads the stored
// values of chosen threads, seals each again in place, and deletes a finished run's checkpoints.
// Those files decide what to store; this one only reads and writes the rows.
import { runPrepared, type PreparedParameter, type Store } from '@aifactory/store';
import { checkpointBlobs, checkpointWrites, checkpoints } from '@aifactory/store/schema';
import { and, desc, eq, inArray, lt, sql, type SQL } from 'drizzle-orm';

/** A checkpoint row as stored. */
export type CheckpointRow = typeof checkpoints.$inferSelect;
/** A channel value (blob) row as stored. */
export type CheckpointBlobRow = typeof checkpointBlobs.$inferSelect;
/** A pending write row as stored. */
export type CheckpointWriteRow = typeof checkpointWrites.$inferSelect;

/** Every channel value of the given threads (runs), or of all threads. */
export async function selectCheckpointBlobs(store: Store, threadIds?: string[]): Promise<CheckpointBlobRow[]> {
  return store.db
    .select()
    .from(checkpointBlobs)
    .where(threadIds ? inArray(checkpointBlobs.threadId, threadIds) : undefined);
}

/** Replaces the stored bytes of one channel value. */
export async function updateCheckpointBlob(store: Store, row: CheckpointBlobRow, blob: Uint8Array): Promise<void> {
  await store.db
    .update(checkpointBlobs)
    .set({ blob })
    .where(
      and(
        eq(checkpointBlobs.threadId, row.threadId),
        eq(checkpointBlobs.checkpointNs, row.checkpointNs),
        eq(checkpointBlobs.channel, row.channel),
        eq(checkpointBlobs.version, row.version),
      ),
    );
}

/** Every pending write of the given threads (runs), or of all threads. */
export async function selectCheckpointWrites(store: Store, threadIds?: string[]): Promise<CheckpointWriteRow[]> {
  return store.db
    .select()
    .from(checkpointWrites)
    .where(threadIds ? inArray(checkpointWrites.threadId, threadIds) : undefined);
}

/** Replaces the stored bytes of one pending write. */
export async function updateCheckpointWrite(store: Store, row: CheckpointWriteRow, value: Uint8Array): Promise<void> {
  await store.db
    .update(checkpointWrites)
    .set({ value })
    .where(
      and(
        eq(checkpointWrites.threadId, row.threadId),
        eq(checkpointWrites.checkpointNs, row.checkpointNs),
        eq(checkpointWrites.checkpointId, row.checkpointId),
        eq(checkpointWrites.taskId, row.taskId),
        eq(checkpointWrites.idx, row.idx),
      ),
    );
}

/** Every checkpoint of the given threads (runs), or of all threads. */
export async function selectCheckpoints(store: Store, threadIds?: string[]): Promise<CheckpointRow[]> {
  return store.db
    .select()
    .from(checkpoints)
    .where(threadIds ? inArray(checkpoints.threadId, threadIds) : undefined);
}

/** Replaces the stored bytes of one checkpoint and/or its metadata. */
export async function updateCheckpointValues(
  store: Store,
  row: CheckpointRow,
  values: { checkpoint?: Uint8Array; metadata?: Uint8Array },
): Promise<void> {
  await store.db
    .update(checkpoints)
    .set(values)
    .where(
      and(
        eq(checkpoints.threadId, row.threadId),
        eq(checkpoints.checkpointNs, row.checkpointNs),
        eq(checkpoints.checkpointId, row.checkpointId),
      ),
    );
}

/** Deletes every checkpoint, pending write and channel value of one thread (run), in one transaction. */
export async function deleteThreadCheckpoints(store: Store, threadId: string): Promise<void> {
  await store.db.transaction(async (transaction) => {
    await transaction.delete(checkpoints).where(eq(checkpoints.threadId, threadId));
    await transaction.delete(checkpointWrites).where(eq(checkpointWrites.threadId, threadId));
    await transaction.delete(checkpointBlobs).where(eq(checkpointBlobs.threadId, threadId));
  });
}

/** Which checkpoints selectCheckpointsWhere reads (each part optional). */
export interface CheckpointRowFilter {
  threadId?: string;
  checkpointNs?: string;
  checkpointId?: string;
  /** Only checkpoints older than this id. */
  beforeId?: string;
  /** Per metadata key: the keyed digest its queryable copy must equal, or undefined for "key absent". */
  metadata?: Array<[key: string, digest: string | undefined]>;
}

/** The checkpoints `filter` selects, newest first, at most `limit` (default all). */
export async function selectCheckpointsWhere(store: Store, filter: CheckpointRowFilter, limit?: number): Promise<CheckpointRow[]> {
  const conditions: SQL[] = [];
  if (filter.threadId !== undefined) conditions.push(eq(checkpoints.threadId, filter.threadId));
  if (filter.checkpointNs !== undefined) conditions.push(eq(checkpoints.checkpointNs, filter.checkpointNs));
  if (filter.checkpointId !== undefined) conditions.push(eq(checkpoints.checkpointId, filter.checkpointId));
  if (filter.beforeId !== undefined) conditions.push(lt(checkpoints.checkpointId, filter.beforeId));
  for (const [key, digest] of filter.metadata ?? []) {
    // Exact equality per key, as LangGraph's in-memory saver does (jsonb `=` compares structure).
    conditions.push(
      digest === undefined
        ? sql`not (${checkpoints.metadataJson} ? ${key})`
        : sql`${checkpoints.metadataJson} -> ${key} = ${JSON.stringify(digest)}::jsonb`,
    );
  }
  const query = store.db
    .select()
    .from(checkpoints)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(checkpoints.checkpointId));
  return limit === undefined ? query : query.limit(limit);
}

/**
 * Stores a checkpoint (replacing one with the same key) and the channel values it points at in
 * one statement (a data-modifying WITH runs whether or not the insert reads it): one round trip,
 * and never a checkpoint without its values.
 *
 * Written as SQL text rather than through drizzle's builder: every run stores one at its end, and
 * building that insert of some fifteen rows cost drizzle about 0.7 ms of CPU, more than the round
 * trip. On PGlite it goes as a named prepared statement with the bytes as hex text (runPrepared):
 * PGlite's own bytea serialiser builds a string per byte, a millisecond for a long conversation.
 */
export async function insertCheckpointWithBlobs(
  store: Store,
  row: typeof checkpoints.$inferInsert,
  blobs: Array<typeof checkpointBlobs.$inferInsert>,
): Promise<void> {
  const text = checkpointInsertText(blobs.length);
  const metadataJson = JSON.stringify(row.metadataJson ?? {});
  const checkpointParams = [
    row.threadId,
    row.checkpointNs ?? '',
    row.checkpointId,
    row.parentCheckpointId ?? null,
    row.type ?? null,
    row.checkpoint,
    row.metadataType ?? null,
    row.metadata,
    metadataJson,
  ];
  const blobParams = blobs.flatMap((blob) => [
    blob.threadId,
    blob.checkpointNs ?? '',
    blob.channel,
    blob.version,
    blob.type,
    blob.blob ?? null,
  ]);
  if (store.driver.kind === 'pglite') {
    const asText = (value: unknown): PreparedParameter => (value instanceof Uint8Array ? byteaText(value) : (value as PreparedParameter));
    await runPrepared(store.driver.client, text, [...checkpointParams, ...blobParams].map(asText));
    return;
  }
  await store.driver.client.unsafe(text, [...checkpointParams, ...blobParams] as never[], { prepare: true });
}

const checkpointInsertTexts: string[] = [];

/** The statement of insertCheckpointWithBlobs for `count` channel values: the checkpoint's parameters are $1..$9, the values' follow, six each. */
function checkpointInsertText(count: number): string {
  let text = checkpointInsertTexts[count];
  if (text === undefined) {
    const insert = `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata_type, metadata, metadata_json)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bytea, $7::text, $8::bytea, $9::jsonb)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET type = excluded.type, checkpoint = excluded.checkpoint,
  metadata_type = excluded.metadata_type, metadata = excluded.metadata, metadata_json = excluded.metadata_json`;
    const values: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const p = (column: number) => `$${10 + index * 6 + column}`;
      values.push(`(${p(0)}::text, ${p(1)}::text, ${p(2)}::text, ${p(3)}::text, ${p(4)}::text, ${p(5)}::bytea)`);
    }
    text =
      count === 0
        ? insert
        : `WITH stored_blobs AS (INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) VALUES ${values.join(', ')} ON CONFLICT DO NOTHING)\n${insert}`;
    checkpointInsertTexts[count] = text;
  }
  return text;
}

/** Bytes in bytea's hex text form. */
function byteaText(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

/** Stores pending writes: a regular one (idx >= 0) is kept once, a special one (errors, interrupts) is replaced. */
export async function insertCheckpointWrites(
  store: Store,
  regular: Array<typeof checkpointWrites.$inferInsert>,
  special: Array<typeof checkpointWrites.$inferInsert>,
): Promise<void> {
  if (regular.length > 0) await store.db.insert(checkpointWrites).values(regular).onConflictDoNothing();
  if (special.length > 0) {
    await store.db
      .insert(checkpointWrites)
      .values(special)
      .onConflictDoUpdate({
        target: [
          checkpointWrites.threadId,
          checkpointWrites.checkpointNs,
          checkpointWrites.checkpointId,
          checkpointWrites.taskId,
          checkpointWrites.idx,
        ],
        set: { channel: sql`excluded.channel`, type: sql`excluded.type`, value: sql`excluded.value`, taskPath: sql`excluded.task_path` },
      });
  }
}

/** The channel values of one thread and namespace at these (channel, version) pairs. */
export async function selectCheckpointBlobsAt(
  store: Store,
  threadId: string,
  checkpointNs: string,
  pairs: Array<[channel: string, version: string]>,
): Promise<CheckpointBlobRow[]> {
  const list = sql.join(
    pairs.map(([channel, version]) => sql`(${channel}, ${version})`),
    sql`, `,
  );
  return store.db
    .select()
    .from(checkpointBlobs)
    .where(
      and(
        eq(checkpointBlobs.threadId, threadId),
        eq(checkpointBlobs.checkpointNs, checkpointNs),
        sql`(${checkpointBlobs.channel}, ${checkpointBlobs.version}) in (${list})`,
      ),
    );
}

/** The pending writes of these checkpoints of one thread and namespace, of one channel if given. */
export async function selectCheckpointWritesOf(
  store: Store,
  threadId: string,
  checkpointNs: string,
  checkpointIds: string[],
  channel?: string,
): Promise<CheckpointWriteRow[]> {
  const conditions = [
    eq(checkpointWrites.threadId, threadId),
    eq(checkpointWrites.checkpointNs, checkpointNs),
    inArray(checkpointWrites.checkpointId, checkpointIds),
  ];
  if (channel !== undefined) conditions.push(eq(checkpointWrites.channel, channel));
  return store.db
    .select()
    .from(checkpointWrites)
    .where(and(...conditions));
}
