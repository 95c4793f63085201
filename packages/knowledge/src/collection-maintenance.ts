// Maintaining collections: rebuilding one's index from stored vectors (compacting deletions,
// applying new index settings, or embedding every chunk again), and deleting one with its
// documents, chunks and index files. Both hold the collection's write lock.
import type { CollectionSettings } from './collection-settings.ts';
import { mergeSettings, validateCollectionName } from './collection-settings.ts';
import { clearStoredEmbeddings, loadCollectionState, removeIndexFiles } from './collection-state.ts';
import type { RebuildSummary } from './knowledge-base.ts';
import type { KnowledgeBaseContext } from './knowledge-base-context.ts';
import { deleteCollectionRows, findCollectionRow, updateCollectionConfig } from './knowledge-rows.ts';

/** Rebuilds a collection's index from stored vectors (compacting deletions, applying new m/efConstruction); `reembed` embeds every chunk again. */
export async function rebuildCollection(
  context: KnowledgeBaseContext,
  name: string,
  rebuildOptions: { reembed?: boolean; index?: Partial<CollectionSettings['index']> } = {},
): Promise<RebuildSummary> {
  const { store, states, dataDir, embedder, clock } = context;
  const started = performance.now();
  context.assertSameModel(await context.collectionRow(name));
  return context.lock(name, async () => {
    // Read again under the lock: an ingest may have changed the settings meanwhile.
    const row = await context.collectionRow(name);
    const settings = mergeSettings(row.config as Partial<CollectionSettings>, rebuildOptions.index ? { index: rebuildOptions.index } : {});
    if (rebuildOptions.index) await updateCollectionConfig(store, name, settings as unknown as Record<string, unknown>, clock());
    const before = states.get(name)?.vectors.allocated;
    if (rebuildOptions.reembed) await clearStoredEmbeddings(store, name);
    const current = await findCollectionRow(store, name);
    const { state, report } = await loadCollectionState(store, {
      name,
      revision: current?.revision ?? row.revision,
      embeddingModel: row.embeddingModel,
      dimensions: row.dimensions,
      settings: settings.index,
      dataDir,
      embedder,
      forceRebuild: true,
    });
    states.set(name, state);
    return {
      collection: name,
      vectors: state.vectors.size,
      reclaimed: before === undefined ? 0 : Math.max(0, before - state.vectors.size),
      embedded: report.embedded,
      durationMs: Math.round(performance.now() - started),
    };
  });
}

/** Deletes a collection, its documents, chunks and index files; returns whether it existed. */
export async function deleteCollection(context: KnowledgeBaseContext, name: string): Promise<boolean> {
  validateCollectionName(name);
  return context.lock(name, async () => {
    const existed = await deleteCollectionRows(context.store, name);
    context.states.delete(name);
    await removeIndexFiles(context.dataDir, name);
    return existed;
  });
}
