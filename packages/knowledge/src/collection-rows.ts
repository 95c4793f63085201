// The rows a collection is loaded from: its documents, its chunks and their stored embeddings
// (the knowledge tables' queries for collection-state.ts and search.ts, kept here with the schema).
import type { Store } from '@aifactory/store';
import { chunks, collections, documents } from '@aifactory/store/schema';
import { and, eq, inArray, or } from 'drizzle-orm';

/** A kn_collections row. */
export type CollectionRow = typeof collections.$inferSelect;

/** The documents of a collection, as filters and citations need them. */
export function collectionDocumentRows(store: Store, name: string) {
  return store.db
    .select({
      id: documents.id,
      sourcePath: documents.sourcePath,
      mediaType: documents.mediaType,
      classifications: documents.classifications,
    })
    .from(documents)
    .where(eq(documents.collection, name));
}

/** The chunks of a collection: label, document and text (what the keyword index is built from). */
export function collectionChunkRows(store: Store, name: string) {
  return store.db
    .select({ label: chunks.label, documentId: chunks.documentId, content: chunks.content })
    .from(chunks)
    .where(eq(chunks.collection, name));
}

/** The chunks of a collection with the given labels, with their stored embeddings (null when none). */
export function chunkEmbeddingRows(store: Store, name: string, labels: number[]) {
  return store.db
    .select({ id: chunks.id, label: chunks.label, content: chunks.content, embedding: chunks.embedding })
    .from(chunks)
    .where(and(eq(chunks.collection, name), inArray(chunks.label, labels)));
}

/** Stores one chunk's embedding. */
export async function storeChunkEmbedding(store: Store, chunkId: string, embedding: Uint8Array): Promise<void> {
  await store.db.update(chunks).set({ embedding }).where(eq(chunks.id, chunkId));
}

/** Forgets every stored embedding of a collection. */
export async function clearChunkEmbeddings(store: Store, name: string): Promise<void> {
  await store.db.update(chunks).set({ embedding: null }).where(eq(chunks.collection, name));
}

/** The collections with the given names that exist. */
export function collectionRows(store: Store, names: readonly string[]): Promise<CollectionRow[]> {
  return store.db
    .select()
    .from(collections)
    .where(inArray(collections.name, [...names]));
}

/** The names of every collection. */
export async function collectionNames(store: Store): Promise<string[]> {
  return (await store.db.select({ name: collections.name }).from(collections)).map((row) => row.name);
}

/** The chunks with the given labels in each collection, with what citations need of their documents. */
export function chunkDetailRows(store: Store, labelsByCollection: ReadonlyMap<string, number[]>) {
  const conditions = [...labelsByCollection].map(([collection, labels]) =>
    and(eq(chunks.collection, collection), inArray(chunks.label, labels)),
  );
  return store.db
    .select({
      collection: chunks.collection,
      label: chunks.label,
      id: chunks.id,
      content: chunks.content,
      contentHash: chunks.contentHash,
      location: chunks.location,
      sourcePath: chunks.sourcePath,
      documentVersion: chunks.documentVersion,
      documentHash: chunks.documentHash,
      mediaType: documents.mediaType,
      classifications: documents.classifications,
      metadata: documents.metadata,
    })
    .from(chunks)
    .innerJoin(documents, eq(documents.id, chunks.documentId))
    .where(conditions.length === 1 ? conditions[0] : or(...conditions));
}
