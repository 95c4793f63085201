// Raw parameterised SQL on either engine. The trace's hot paths (append, the verification scan)
// bypass drizzle's query builder: they are a handful of fixed statements, and building them once
// as prepared text keeps an append to one round trip and a scanned row to a few microseconds.
import { ErrorCode, SystemError, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';

/** Runs a statement with $1.. parameters; rows as objects. */
export async function queryRows<Row = Record<string, unknown>>(store: Store, text: string, params: unknown[] = []): Promise<Row[]> {
  if (store.driver.kind === 'pglite') return (await store.driver.client.query<Row>(text, params)).rows;
  return (await store.driver.client.unsafe(text, params as never[], { prepare: true })) as unknown as Row[];
}

/** Runs a statement with $1.. parameters that returns no rows; resolves how many rows it changed. */
export async function executeCount(store: Store, text: string, params: unknown[] = []): Promise<number> {
  if (store.driver.kind === 'pglite') return (await store.driver.client.query(text, params)).affectedRows ?? 0;
  return (await store.driver.client.unsafe(text, params as never[], { prepare: true })).count;
}

/** Runs a statement with $1.. parameters; rows as arrays of column values (faster to build). */
export async function queryArrays(store: Store, text: string, params: unknown[] = []): Promise<unknown[][]> {
  if (store.driver.kind === 'pglite') return (await store.driver.client.query<unknown[]>(text, params, { rowMode: 'array' })).rows;
  return (await store.driver.client.unsafe(text, params as never[], { prepare: true }).values()) as unknown as unknown[][];
}

/**
 * Runs a statement with $1.. parameters, handing each row (an array of column values) to onRow.
 * On Postgres the rows are handed over as they arrive, so a large result is never collected; PGlite
 * returns the whole result first. onRow must not throw (on Postgres it runs inside the driver's
 * socket handler); resolves with the number of rows.
 */
export async function forEachArray(store: Store, text: string, params: unknown[], onRow: (row: unknown[]) => void): Promise<number> {
  if (store.driver.kind === 'pglite') {
    const { rows } = await store.driver.client.query<unknown[]>(text, params, { rowMode: 'array' });
    for (const row of rows) onRow(row);
    return rows.length;
  }
  let count = 0;
  await store.driver.client
    .unsafe(text, params as never[], { prepare: true })
    .values()
    .forEach((row) => {
      count += 1;
      onRow(row as unknown as unknown[]);
    });
  return count;
}

/** Postgres error fields we look at. */
interface DatabaseError {
  code?: string;
  constraint?: string;
  constraint_name?: string;
  detail?: string;
  message?: string;
}

/** The SQLSTATE and constraint of a database error, on either driver. */
export function databaseError(error: unknown): { code: string | undefined; constraint: string | undefined } {
  const candidate = error as DatabaseError & { cause?: DatabaseError };
  const inner = candidate?.code ? candidate : candidate?.cause;
  return { code: inner?.code, constraint: inner?.constraint ?? inner?.constraint_name ?? constraintFromMessage(inner?.message) };
}

function constraintFromMessage(message: string | undefined): string | undefined {
  return message?.match(/constraint "([^"]+)"/)?.[1];
}

/** Whether an error is a unique violation (on the given constraint, when named). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const details = databaseError(error);
  return details.code === '23505' && (constraint === undefined || details.constraint === undefined || details.constraint === constraint);
}

/**
 * Wraps an unexpected database error as STORE_UNAVAILABLE, naming what was being done. The driver's
 * own words follow in brackets: a store closed mid-statement can surface as an internal TypeError
 * that means nothing to a user on its own.
 */
export function storeFailure(doing: string, error: unknown): SystemError | UserError {
  if (error instanceof UserError || error instanceof SystemError) return error;
  return new SystemError(
    ErrorCode.StoreUnavailable,
    `Could not ${doing}: the store is unavailable (${(error as Error)?.message ?? String(error)}).`,
    { cause: error },
  );
}

/** Timestamps from either driver as Date. */
export function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

/** A stable identity of a store, for seal anchors: engine, location and schema. */
const memoryIds = new WeakMap<object, number>();
let nextMemoryId = 1;
export function storeKey(store: Store): string {
  if (store.kind === 'pglite' && store.location === 'memory') {
    // Keyed by the PGlite instance: copies of a Store object share one database.
    const client = store.driver.client as object;
    let id = memoryIds.get(client);
    if (id === undefined) {
      id = nextMemoryId++;
      memoryIds.set(client, id);
    }
    return `memory:${id}#${store.schemaName}`;
  }
  return `${store.kind}:${store.location}#${store.schemaName}`;
}

const storeIds = new WeakMap<object, Promise<string | null>>();

/**
 * The store's identity (store_identity.id, written once by the migration that created the table);
 * null if the row is missing (it was removed: nothing the application does removes it).
 * Cached per driver client: it never changes.
 */
export function readStoreId(store: Store, options: { fresh?: boolean } = {}): Promise<string | null> {
  const client = store.driver.client as object;
  let id = options.fresh ? undefined : storeIds.get(client);
  if (!id) {
    // Two rows would be two identities: none of them is the store's.
    id = queryRows<{ id: string }>(store, 'SELECT id FROM store_identity ORDER BY id LIMIT 2').then((rows) =>
      rows.length === 1 ? rows[0]!.id : null,
    );
    if (options.fresh) return id;
    id.catch(() => storeIds.delete(client));
    storeIds.set(client, id);
  }
  return id;
}

/** The key a signer's anchor for a store is kept under: its identity (in-memory stores are marked so nothing is written to the anchor file for them). */
export function anchorKey(store: Store, storeId: string): string {
  return store.kind === 'pglite' && store.location === 'memory' ? `memory:store:${storeId}` : `store:${storeId}`;
}
