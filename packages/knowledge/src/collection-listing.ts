// Reading collections: every collection with its counts and settings (for people and tools), and
// the names, labels and models of some (a governed retrieval's policy context).
import { ErrorCode, UserError } from '@aifactory/core';
import type { CollectionSettings } from './collection-settings.ts';
import { mergeSettings, validateCollectionName } from './collection-settings.ts';
import { indexFile } from './collection-state.ts';
import type { CollectionDescription, CollectionInfo } from './knowledge-base.ts';
import type { KnowledgeBaseContext } from './knowledge-base-context.ts';
import { collectionClassifications, collectionCounts, collectionDescriptionRows, listCollectionRows } from './knowledge-rows.ts';

/** Every collection with counts and settings. */
export async function listCollections(context: KnowledgeBaseContext): Promise<CollectionInfo[]> {
  const { store, dataDir } = context;
  const rows = await listCollectionRows(store);
  const labels = await collectionClassifications(
    store,
    rows.map((row) => row.name),
  );
  const { documents: documentCounts, chunks: chunkCounts } = await collectionCounts(store);
  return rows.map((row) => ({
    name: row.name,
    embeddingModel: row.embeddingModel,
    dimensions: row.dimensions,
    classifications: labels.get(row.name) ?? [],
    documents: Number(documentCounts.find((entry) => entry.collection === row.name)?.count ?? 0),
    chunks: Number(chunkCounts.find((entry) => entry.collection === row.name)?.count ?? 0),
    revision: row.revision,
    settings: mergeSettings(row.config as Partial<CollectionSettings>, {}),
    indexFile: indexFile(dataDir, row.name),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }));
}

/** Names, classifications and models of the given collections, for a retrieval's policy context; unknown names are an error. */
export async function describeCollections(context: KnowledgeBaseContext, names: string[]): Promise<CollectionDescription[]> {
  const unique = [...new Set(names)];
  for (const name of unique) validateCollectionName(name);
  if (unique.length === 0) return [];
  // One indexed lookup: this runs before every governed retrieval.
  const rows = await collectionDescriptionRows(context.store, unique);
  const missing = unique.filter((name) => !rows.some((row) => row.name === name));
  if (missing.length > 0)
    throw new UserError(ErrorCode.NotFound, `Collection '${missing[0]}' does not exist; a retrieval can only name existing collections.`);
  return unique.map((name) => {
    const row = rows.find((entry) => entry.name === name)!;
    return { name, classifications: [...new Set([...row.own, ...row.fromDocuments])].sort(), embeddingModel: row.embeddingModel };
  });
}
