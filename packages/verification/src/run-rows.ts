// The verification plane owns the trace's tables (runs, events, seals, run leases). Other packages
// read a run's row, its children, a lease or a type of event through these functions instead of
// querying the tables themselves, so the table can change with one owner to update.
import { ErrorCode, UserError } from '@aifactory/core';
import { and, asc, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Store } from '@aifactory/store';
import { events, runLeases, runs } from '@aifactory/store/schema';

/** A run's row: who started which agent on what, its status, metadata and head. */
export type RunRecord = typeof runs.$inferSelect;

/** A run's lease row: who drives it, under which fencing epoch, until when. */
export type RunLeaseRecord = typeof runLeases.$inferSelect;

/** The run `runId`, or undefined when no such run exists. */
export async function findRun(store: Store, runId: string): Promise<RunRecord | undefined> {
  const [row] = await store.db.select().from(runs).where(eq(runs.id, runId));
  return row;
}

/** The runs among `runIds` that exist, in no particular order. */
export async function findRunsById(store: Store, runIds: readonly string[]): Promise<RunRecord[]> {
  if (runIds.length === 0) return [];
  return store.db
    .select()
    .from(runs)
    .where(inArray(runs.id, [...runIds]));
}

/** Which runs a query selects: an agent, a status, a parent, and metadata keys equal to text values. */
export interface RunRowFilter {
  /** Runs of this agent only. */
  agent?: string;
  /** Runs in this status only. */
  status?: string;
  /** Children of this run only. */
  parentRunId?: string;
  /**
   * Runs whose metadata holds each key with this value, or with one of these values (compared as
   * text, as `->>` reads it). A dotted key (`prompt.name`) reads a nested value.
   */
  metadata?: Readonly<Record<string, string | readonly string[]>>;
}

/** A metadata key written into SQL: plain lower-case words only, so no caller's text reaches the statement. */
function metadataKey(key: string): SQL {
  if (!/^[a-z][a-z0-9_]*$/.test(key))
    throw new UserError(ErrorCode.InputInvalid, `Run metadata key '${key}' is not a lower-case word (letters, digits, underscores).`);
  return sql.raw(`'${key}'`);
}

/** The text of a metadata key (`a`) or nested key (`a.b`), each part a lower-case word. */
function metadataText(key: string): SQL {
  const path = key.split('.');
  for (const part of path) metadataKey(part);
  return path.length === 1 ? sql`${runs.metadata}->>${metadataKey(key)}` : sql`${runs.metadata}#>>${sql.raw(`'{${path.join(',')}}'`)}`;
}

function conditionsOf(filter: RunRowFilter): SQL | undefined {
  const conditions: SQL[] = [];
  if (filter.agent !== undefined) conditions.push(eq(runs.agent, filter.agent));
  if (filter.status !== undefined) conditions.push(eq(runs.status, filter.status));
  if (filter.parentRunId !== undefined) conditions.push(eq(runs.parentRunId, filter.parentRunId));
  for (const [key, value] of Object.entries(filter.metadata ?? {}))
    conditions.push(typeof value === 'string' ? sql`${metadataText(key)} = ${value}` : inArray(metadataText(key), [...value]));
  return conditions.length > 0 ? and(...conditions) : undefined;
}

/** The order runs come in: newest or oldest started first, or first ended first (ties broken by id). */
export type RunRowOrder = 'newest' | 'oldest' | 'first-ended';

const runOrders: Record<RunRowOrder, SQL[]> = {
  newest: [desc(runs.startedAt), desc(runs.id)],
  oldest: [asc(runs.startedAt), asc(runs.id)],
  'first-ended': [asc(runs.endedAt), asc(runs.id)],
};

/** The runs `filter` selects, newest first unless `order` says otherwise, at most `limit` (default all). */
export async function findRunsWhere(
  store: Store,
  filter: RunRowFilter,
  options: { limit?: number; order?: RunRowOrder } = {},
): Promise<RunRecord[]> {
  const query = store.db
    .select()
    .from(runs)
    .where(conditionsOf(filter))
    .orderBy(...runOrders[options.order ?? 'newest']);
  return options.limit === undefined ? query : query.limit(options.limit);
}

/** The distinct text values of a metadata key among the runs `filter` selects, in no particular order. */
export async function distinctRunMetadata(store: Store, filter: RunRowFilter, key: string): Promise<string[]> {
  const rows = await store.db
    .selectDistinct({ value: metadataText(key) })
    .from(runs)
    .where(conditionsOf(filter));
  return rows.map((row) => String(row.value));
}

/** The earliest started child of `parentRunId` running `agent` (a hand-off's run), if any. */
export async function firstChildRun(store: Store, parentRunId: string, agent: string): Promise<RunRecord | undefined> {
  const [row] = await store.db
    .select()
    .from(runs)
    .where(and(eq(runs.parentRunId, parentRunId), eq(runs.agent, agent)))
    .orderBy(runs.startedAt)
    .limit(1);
  return row;
}

/** How many runs `filter` selects, grouped by the text values of two metadata keys (absent: 'unknown'). */
export async function countRunsByMetadata(
  store: Store,
  filter: RunRowFilter,
  keys: readonly [string, string],
): Promise<Array<{ values: [string, string]; count: number }>> {
  const first = sql<string>`coalesce(${runs.metadata}->>${metadataKey(keys[0])}, 'unknown')`;
  const second = sql<string>`coalesce(${runs.metadata}->>${metadataKey(keys[1])}, 'unknown')`;
  const rows = await store.db
    .select({ first, second, count: sql<number>`count(*)` })
    .from(runs)
    .where(conditionsOf(filter))
    .groupBy(first, second);
  return rows.map((row) => ({ values: [String(row.first), String(row.second)], count: Number(row.count) }));
}

/** The lease row of `runId`, or undefined when nobody has driven it under a lease. */
export async function findRunLease(store: Store, runId: string): Promise<RunLeaseRecord | undefined> {
  const [row] = await store.db.select().from(runLeases).where(eq(runLeases.runId, runId));
  return row;
}

/** A run's recorded events of one type, newest first: their sequence numbers and stored payload text (null once erased). */
export async function findEventsOfType(store: Store, runId: string, type: string): Promise<Array<{ seq: number; payload: string | null }>> {
  return store.db
    .select({ seq: events.seq, payload: events.payload })
    .from(events)
    .where(and(eq(events.runId, runId), eq(events.type, type)))
    .orderBy(desc(events.seq));
}

/**
 * Rewrites the input copy on the row of each run (among `runIds`, else any) whose input's JSON
 * text contains `needle`, with `rewrite` (erasure of a subject; the chain keeps the hashed copy).
 */
export async function rewriteRunInputsContaining(
  store: Store,
  needle: string,
  runIds: readonly string[] | undefined,
  rewrite: (input: unknown) => unknown,
): Promise<number> {
  const rows = await store.db
    .select({ id: runs.id, input: runs.input })
    .from(runs)
    .where(and(runIds ? inArray(runs.id, [...runIds]) : undefined, sql`strpos(${runs.input}::text, ${needle}) > 0`));
  for (const row of rows)
    await store.db
      .update(runs)
      .set({ input: rewrite(row.input) })
      .where(eq(runs.id, row.id));
  return rows.length;
}

/** A run's last recorded event: its sequence number, type and stored payload text (null once erased); undefined before any. */
export async function findLastEvent(
  store: Store,
  runId: string,
): Promise<{ seq: number; type: string; payload: string | null } | undefined> {
  const rows = await store.query<{ seq: number; type: string; payload: string | null }>(
    sql`SELECT seq, type, payload FROM events WHERE run_id = ${runId} ORDER BY seq DESC LIMIT 1`,
  );
  const row = rows[0];
  return row ? { seq: Number(row.seq), type: row.type, payload: row.payload } : undefined;
}

/**
 * The events recorded after each cursor (a run and the last sequence number seen there), in one
 * read, by run then sequence. With `payloadsOf`, only events of those types carry their payload
 * (the others come back with null): a follower that streams a few types reads no model output it
 * would not send.
 */
export async function findEventsAfter(
  store: Store,
  cursors: ReadonlyArray<{ runId: string; seq: number }>,
  options: { payloadsOf?: readonly string[] } = {},
): Promise<Array<{ runId: string; seq: number; type: string; payload: string | null }>> {
  if (cursors.length === 0) return [];
  const positions = JSON.stringify(cursors.map((cursor) => ({ run_id: cursor.runId, seq: cursor.seq })));
  const payload = options.payloadsOf
    ? sql`CASE WHEN e.type IN (SELECT json_array_elements_text(${JSON.stringify(options.payloadsOf)}::json)) THEN e.payload END`
    : sql`e.payload`;
  const rows = await store.query<{ run_id: string; seq: number; type: string; payload: string | null }>(
    sql`SELECT e.run_id, e.seq, e.type, ${payload} AS payload FROM events e JOIN json_to_recordset(${positions}::json) AS c(run_id text, seq int) ON e.run_id = c.run_id AND e.seq > c.seq ORDER BY e.run_id, e.seq`,
  );
  return rows.map((row) => ({ runId: row.run_id, seq: row.seq, type: row.type, payload: row.payload }));
}

/**
 * A recorded payload's text (canonical JSON; null once erased) as an object, for readers that map
 * events to what they stream or recover: {} when erased, not an object, or unreadable.
 */
export function payloadObject(text: string | null): Record<string, unknown> {
  if (text === null) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
