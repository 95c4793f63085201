// The knowledge package owns the knowledge tables (collections, documents, chunks). Readers
// elsewhere (replay, which compares recorded retrievals with what the store holds now) go through
// these functions instead of querying the tables themselves.
import { inArray } from 'drizzle-orm';
import type { Store } from '@aifactory/store';
import { chunks, collections } from '@aifactory/store/schema';

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
