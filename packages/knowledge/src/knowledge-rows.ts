// The knowledge package owns the knowledge tables (collections, documents, chunks). Readers
// elsewhere (replay, which compares recorded retrievals with what the store holds now) go through
// these functions instead of querying the tables themselves, and so do the knowledge base's own
// parts (collection-rows.ts holds the queries a collection is loaded from).
import { eq, inArray, sql } from 'drizzle-orm';
import type { Store } from '@aifactory/store';
import { chunks, collections, documents } from '@aifactory/store/schema';
import type { CollectionRow } from './collection-rows.ts';

/** The classifications of each named collection that exists: its own and those its documents carry, sorted, without repeats. */
export async function collectionClassifications(store: Store, names: readonly string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  if (names.length === 0) return found;
  const rows = await store.db
    .select({ name: collections.name, own: collections.classifications, fromDocuments: collections.documentClassifications })
    .from(collections)
    .where(inArray(collections.name, [...names]));
  for (const row of rows) found.set(row.name, [...new Set([...row.own, ...row.fromDocuments])].sort());
  return found;
}

/** The stored text and content hash of each chunk among `chunkIds` that still exists. */
export async function chunkContents(
  store: Store,
  chunkIds: readonly string[],
): Promise<Map<string, { content: string; contentHash: string }>> {
  const found = new Map<string, { content: string; contentHash: string }>();
  if (chunkIds.length === 0) return found;
  const rows = await store.db
    .select({ id: chunks.id, content: chunks.content, contentHash: chunks.contentHash })
    .from(chunks)
    .where(inArray(chunks.id, [...chunkIds]));
  for (const row of rows) found.set(row.id, { content: row.content, contentHash: row.contentHash });
  return found;
}

/** The collection `name` as stored, or undefined. */
export async function findCollectionRow(store: Store, name: string): Promise<CollectionRow | undefined> {
  const [row] = await store.db.select().from(collections).where(eq(collections.name, name));
  return row;
}

/** The name of every collection. */
export async function collectionNames(store: Store): Promise<string[]> {
  return (await store.db.select({ name: collections.name }).from(collections)).map((entry) => entry.name);
}

/** Every collection, by name. */
export function listCollectionRows(store: Store): Promise<CollectionRow[]> {
  return store.db.select().from(collections).orderBy(collections.name);
}

/** How many documents and chunks each collection holds. */
export async function collectionCounts(
  store: Store,
): Promise<{ documents: { collection: string; count: number }[]; chunks: { collection: string; count: number }[] }> {
  const documentCounts = await store.db
    .select({ collection: documents.collection, count: sql<number>`count(*)::int` })
    .from(documents)
    .groupBy(documents.collection);
  const chunkCounts = await store.db
    .select({ collection: chunks.collection, count: sql<number>`count(*)::int` })
    .from(chunks)
    .groupBy(chunks.collection);
  return { documents: documentCounts, chunks: chunkCounts };
}

/** Name, embedding model and labels (own and from documents) of each named collection that exists: one indexed lookup. */
export function collectionDescriptionRows(store: Store, names: readonly string[]) {
  return store.db
    .select({
      name: collections.name,
      embeddingModel: collections.embeddingModel,
      own: collections.classifications,
      fromDocuments: collections.documentClassifications,
    })
    .from(collections)
    .where(inArray(collections.name, [...names]));
}

/** Stores a collection's settings. */
export async function updateCollectionConfig(store: Store, name: string, config: Record<string, unknown>, updatedAt: Date): Promise<void> {
  await store.db.update(collections).set({ config, updatedAt }).where(eq(collections.name, name));
}

/** Deletes a collection with its documents and chunks, in one transaction; returns whether it existed. */
export function deleteCollectionRows(store: Store, name: string): Promise<boolean> {
  return store.db.transaction(async (tx) => {
    await tx.delete(chunks).where(eq(chunks.collection, name));
    await tx.delete(documents).where(eq(documents.collection, name));
    return (await tx.delete(collections).where(eq(collections.name, name)).returning({ name: collections.name })).length > 0;
  });
}
