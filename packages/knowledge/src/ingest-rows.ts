// Ingestion's queries over the knowledge tables (collections, documents, chunks): preparing a
// collection, committing a document with its chunks in one transaction, relabelling and removing
// one. ingest.ts decides what to write; this file only reads and writes the rows.
import { ErrorCode, UserError } from '@aifactory/core';
import { sql, type Store } from '@aifactory/store';
import { chunks, collections, documents } from '@aifactory/store/schema';
import { and, eq, inArray } from 'drizzle-orm';

/** A documents row as stored. */
export type DocumentRow = typeof documents.$inferSelect;
/** A collections row as stored. */
type CollectionRecord = typeof collections.$inferSelect;

/** The documents of one collection read from one source root. */
export async function selectSourceDocuments(store: Store, collection: string, root: string): Promise<DocumentRow[]> {
  return store.db
    .select()
    .from(documents)
    .where(and(eq(documents.collection, collection), eq(documents.sourceRoot, root)));
}

/** One collection's row, if it exists. */
export async function selectCollection(store: Store, name: string): Promise<CollectionRecord | undefined> {
  const [row] = await store.db.select().from(collections).where(eq(collections.name, name));
  return row;
}

/** Creates a collection unless one of that name exists already. */
export async function insertCollectionIfAbsent(store: Store, row: typeof collections.$inferInsert): Promise<void> {
  await store.db.insert(collections).values(row).onConflictDoNothing();
}

/** Stores a collection's settings and labels. */
export async function updateCollectionSettings(
  store: Store,
  name: string,
  values: { config: Record<string, unknown>; classifications: string[]; updatedAt: Date },
): Promise<void> {
  await store.db.update(collections).set(values).where(eq(collections.name, name));
}

/** SQL for the collection's document labels with these added (inside the document's own transaction, so never too narrow). */
function withLabels(labels: string[]) {
  if (labels.length === 0) return sql`${collections.documentClassifications}`;
  return sql`(select coalesce(jsonb_agg(label order by label), '[]'::jsonb) from (select jsonb_array_elements_text(${collections.documentClassifications}) as label union select jsonb_array_elements_text(${JSON.stringify(labels)}::jsonb)) as merged)`;
}

/** Sets one document's labels and adds them to its collection's, in one transaction; the collection's new revision (or undefined when it is gone). */
export async function relabelDocument(
  store: Store,
  collection: string,
  documentId: number,
  labels: string[],
  at: Date,
): Promise<number | undefined> {
  return store.db.transaction(async (tx) => {
    await tx.update(documents).set({ classifications: labels }).where(eq(documents.id, documentId));
    const [row] = await tx
      .update(collections)
      .set({
        revision: sql`${collections.revision} + 1`,
        documentClassifications: withLabels(labels),
        updatedAt: at,
      })
      .where(eq(collections.name, collection))
      .returning({ revision: collections.revision });
    return row?.revision;
  });
}

/** A document to commit with its chunks. */
export interface DocumentCommit {
  collection: string;
  /** The document's labels (added to the collection's). */
  labels: string[];
  /** How many chunks it has (the labels they take). */
  chunkCount: number;
  at: Date;
  /** The document row's values. */
  values: typeof documents.$inferInsert;
  /** The document it replaces (its chunks are deleted), if any. */
  previousId?: number;
  /** The chunk rows, given the document's id and the first chunk label. */
  chunkRows: (documentId: number, firstLabel: number) => Array<typeof chunks.$inferInsert>;
}

/**
 * Commits a document in one transaction: takes the next chunk labels and a new revision from its
 * collection, replaces or inserts the document row, and writes its chunks. CONFLICT when the
 * collection was deleted meanwhile.
 */
export async function commitDocument(
  store: Store,
  commit: DocumentCommit,
): Promise<{ documentId: number; firstLabel: number; revision: number; removed: number }> {
  return store.db.transaction(async (tx) => {
    const [labels] = await tx
      .update(collections)
      .set({
        nextLabel: sql`${collections.nextLabel} + ${commit.chunkCount}`,
        revision: sql`${collections.revision} + 1`,
        documentClassifications: withLabels(commit.labels),
        updatedAt: commit.at,
      })
      .where(eq(collections.name, commit.collection))
      .returning({ nextLabel: collections.nextLabel, revision: collections.revision });
    if (!labels) throw new UserError(ErrorCode.Conflict, `Collection '${commit.collection}' was deleted while being ingested into.`);
    let documentId: number;
    let removed = 0;
    if (commit.previousId !== undefined) {
      documentId = commit.previousId;
      removed = (await tx.delete(chunks).where(eq(chunks.documentId, commit.previousId)).returning({ id: chunks.id })).length;
      await tx.update(documents).set(commit.values).where(eq(documents.id, commit.previousId));
    } else {
      const [inserted] = await tx.insert(documents).values(commit.values).returning({ id: documents.id });
      documentId = inserted!.id;
    }
    const firstLabel = labels.nextLabel - commit.chunkCount;
    const rows = commit.chunkRows(documentId, firstLabel);
    for (let start = 0; start < rows.length; start += 500) await tx.insert(chunks).values(rows.slice(start, start + 500));
    return { documentId, firstLabel, revision: labels.revision, removed };
  });
}

/** Deletes a document and its chunks and bumps its collection's revision, in one transaction; the new revision (or undefined when the collection is gone). */
export async function deleteDocument(store: Store, collection: string, documentId: number, at: Date): Promise<number | undefined> {
  return store.db.transaction(async (tx) => {
    await tx.delete(chunks).where(eq(chunks.documentId, documentId));
    await tx.delete(documents).where(eq(documents.id, documentId));
    const [row] = await tx
      .update(collections)
      .set({ revision: sql`${collections.revision} + 1`, updatedAt: at })
      .where(eq(collections.name, collection))
      .returning({ revision: collections.revision });
    return row?.revision;
  });
}

/** Sets a collection's document labels to exactly the union of its documents' labels. */
export async function recomputeCollectionDocumentLabels(store: Store, collection: string): Promise<void> {
  await store.db
    .update(collections)
    .set({
      documentClassifications: sql`coalesce((select jsonb_agg(distinct labels.label order by labels.label) from ${documents} cross join lateral jsonb_array_elements_text(${documents.classifications}) as labels(label) where ${documents.collection} = ${collection}), '[]'::jsonb)`,
    })
    .where(eq(collections.name, collection));
}

/** The content hash and stored embedding of the collection's chunks with these hashes (at most 1000 at a time). */
export async function selectChunkEmbeddings(
  store: Store,
  collection: string,
  hashes: string[],
): Promise<Array<{ contentHash: string; embedding: Uint8Array | null }>> {
  return store.db
    .select({ contentHash: chunks.contentHash, embedding: chunks.embedding })
    .from(chunks)
    .where(and(eq(chunks.collection, collection), inArray(chunks.contentHash, hashes)));
}
