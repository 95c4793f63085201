// The rows a collection is loaded from: its documents, its chunks and their stored embeddings
// (the knowledge tables' queries for collection-state.ts, kept here with the schema).
import type { Store } from '@aifactory/store';
import { chunks, documents, type collections } from '@aifactory/store/schema';
import { and, eq, inArray } from 'drizzle-orm';

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
