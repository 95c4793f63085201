// The knowledge plane's entry point: a knowledge base over the shared store and a data
// directory holding one HNSW index file per collection.
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { chunks, collections, documents } from '@aifactory/store/schema';
import { eq, inArray, sql } from 'drizzle-orm';
import type { CollectionSettings } from './collection-settings.ts';
import { mergeSettings, validateCollectionName } from './collection-settings.ts';
import type { CollectionState } from './collection-state.ts';
import { clearStoredEmbeddings, indexFile, loadCollectionState, removeIndexFiles } from './collection-state.ts';
import type { Embedder } from './embedder.ts';
import { createHashingEmbedder } from './hashing-embedder.ts';
import type { IngestOptions, IngestSummary } from './ingest.ts';
import { ingestSource } from './ingest.ts';
import type { CollectionRow, KnowledgeContext } from './knowledge-context.ts';
import type { SearchOptions, SearchResult } from './search.ts';
import { searchCollections } from './search.ts';

/** Options of a knowledge base. */
export interface KnowledgeBaseOptions {
  /** Data directory; index files live in `<dataDir>/knowledge/<collection>.hnsw`. */
  dataDir: string;
  /** Embedding model (default: the local hashing embedder, 384 dimensions). */
  embedder?: Embedder;
  /** Clock for timestamps (tests). */
  clock?: () => Date;
}

/** A collection as listed for people and tools. */
export interface CollectionInfo {
  name: string;
  embeddingModel: string;
  dimensions: number;
  /** The collection's own labels plus every label of its documents. */
  classifications: string[];
  documents: number;
  chunks: number;
  revision: number;
  settings: CollectionSettings;
  /** Path of the index file. */
  indexFile: string;
  createdAt: string;
  updatedAt: string;
}

/** What a governed retrieval's policy context needs to know about a collection. */
export interface CollectionDescription {
  name: string;
  /** The collection's own labels plus every label of its documents: a policy on `pii` sees a collection holding one pii document. */
  classifications: string[];
  embeddingModel: string;
}

/** Result of a rebuild. */
export interface RebuildSummary {
  collection: string;
  vectors: number;
  /** Deleted marks dropped by compaction. */
  reclaimed: number;
  /** Chunks embedded anew (all of them with `reembed`, else only those stored without a vector). */
  embedded: number;
  durationMs: number;
}

/** Ingest, search and maintain collections of company knowledge. */
export interface KnowledgeBase {
  /** The embedder this knowledge base embeds with. */
  readonly embedder: Embedder;
  /** Ingests a folder (recursively) or a file into a collection; see IngestSummary for what is reported. */
  ingest(source: string, options: IngestOptions): Promise<IngestSummary>;
  /** Hybrid search over one or more collections; results carry citations. */
  search(collections: string | string[], query: string, options?: SearchOptions): Promise<SearchResult[]>;
  /** Every collection with counts and settings. */
  listCollections(): Promise<CollectionInfo[]>;
  /** Names, classifications and models of the given collections, for a retrieval's policy context; unknown names are an error. */
  describeCollections(names: string[]): Promise<CollectionDescription[]>;
  /** Rebuilds a collection's index from stored vectors (compacting deletions, applying new m/efConstruction); `reembed` embeds every chunk again. */
  rebuild(collection: string, options?: { reembed?: boolean; index?: Partial<CollectionSettings['index']> }): Promise<RebuildSummary>;
  /** Deletes a collection, its documents, chunks and index files; returns whether it existed. */
  deleteCollection(collection: string): Promise<boolean>;
  /** Releases loaded indexes (the store stays open: it belongs to the caller). */
  close(): Promise<void>;
}

/** Creates a knowledge base over an open store. */
export function createKnowledgeBase(store: Store, options: KnowledgeBaseOptions): KnowledgeBase {
  if (!options?.dataDir) throw new UserError(ErrorCode.InputInvalid, 'createKnowledgeBase needs a dataDir for its index files.');
  const dataDir = path.resolve(options.dataDir);
  const embedder = options.embedder ?? createHashingEmbedder();
  const clock = options.clock ?? (() => new Date());
  const states = new Map<string, CollectionState>();
  const loading = new Map<string, Promise<CollectionState>>();
  const locks = new Map<string, Promise<unknown>>();
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new UserError(ErrorCode.InputInvalid, 'This knowledge base is closed.');
  };

  const context: KnowledgeContext = {
    store,
    dataDir,
    embedder,
    clock,
    lock<T>(collection: string, fn: () => Promise<T>): Promise<T> {
      const previous = locks.get(collection) ?? Promise.resolve();
      const run = previous.then(fn, fn);
      const tail = run.catch(() => undefined);
      locks.set(collection, tail);
      void tail.then(() => {
        if (locks.get(collection) === tail) locks.delete(collection);
      });
      return run;
    },
    async stateFor(row: CollectionRow): Promise<CollectionState> {
      const loaded = states.get(row.name);
      // A collection this process is writing is current in memory; otherwise the store's
      // revision tells whether another process changed it since it was loaded.
      if (loaded && (loaded.revision === row.revision || locks.has(row.name))) return loaded;
      const pending = loading.get(row.name);
      if (pending) return pending;
      const settings = mergeSettings(row.config as Partial<CollectionSettings>, {});
      const promise = loadCollectionState(store, {
        name: row.name,
        revision: row.revision,
        embeddingModel: row.embeddingModel,
        dimensions: row.dimensions,
        settings: settings.index,
        dataDir,
        embedder,
      })
        .then(({ state }) => {
          states.set(row.name, state);
          return state;
        })
        .finally(() => loading.delete(row.name));
      loading.set(row.name, promise);
      return promise;
    },
    assertSameModel(row: CollectionRow): void {
      if (row.embeddingModel !== embedder.id || row.dimensions !== embedder.dimensions) {
        throw new UserError(
          ErrorCode.Conflict,
          `Collection '${row.name}' is embedded with '${row.embeddingModel}' (${row.dimensions} dimensions), but this knowledge base embeds with '${embedder.id}' (${embedder.dimensions}); models cannot be mixed in one collection: use '${row.embeddingModel}', or ingest into another collection.`,
        );
      }
    },
  };

  async function collectionRow(name: string): Promise<CollectionRow> {
    validateCollectionName(name);
    const [row] = await store.db.select().from(collections).where(eq(collections.name, name));
    if (!row) {
      const known = (await store.db.select({ name: collections.name }).from(collections)).map((entry) => entry.name);
      throw new UserError(
        ErrorCode.NotFound,
        `Collection '${name}' does not exist; known collections: ${known.length > 0 ? known.join(', ') : '(none yet: ingest first)'}.`,
      );
    }
    return row;
  }

  async function effectiveClassifications(names: string[]): Promise<Map<string, string[]>> {
    if (names.length === 0) return new Map();
    const rows = await store.db
      .select({ name: collections.name, own: collections.classifications, fromDocuments: collections.documentClassifications })
      .from(collections)
      .where(inArray(collections.name, names));
    return new Map(rows.map((row) => [row.name, [...new Set([...row.own, ...row.fromDocuments])].sort()]));
  }

  return {
    embedder,

    ingest(source, ingestOptions) {
      assertOpen();
      return ingestSource(context, source, ingestOptions);
    },

    search(names, query, searchOptions) {
      assertOpen();
      return searchCollections(context, names, query, searchOptions);
    },

    async listCollections() {
      assertOpen();
      const rows = await store.db.select().from(collections).orderBy(collections.name);
      const labels = await effectiveClassifications(rows.map((row) => row.name));
      const documentCounts = await store.db
        .select({ collection: documents.collection, count: sql<number>`count(*)::int` })
        .from(documents)
        .groupBy(documents.collection);
      const chunkCounts = await store.db
        .select({ collection: chunks.collection, count: sql<number>`count(*)::int` })
        .from(chunks)
        .groupBy(chunks.collection);
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
    },

    async describeCollections(names) {
      assertOpen();
      const unique = [...new Set(names)];
      for (const name of unique) validateCollectionName(name);
      if (unique.length === 0) return [];
      // One indexed lookup: this runs before every governed retrieval.
      const rows = await store.db
        .select({
          name: collections.name,
          embeddingModel: collections.embeddingModel,
          own: collections.classifications,
          fromDocuments: collections.documentClassifications,
        })
        .from(collections)
        .where(inArray(collections.name, unique));
      const missing = unique.filter((name) => !rows.some((row) => row.name === name));
      if (missing.length > 0)
        throw new UserError(
          ErrorCode.NotFound,
          `Collection '${missing[0]}' does not exist; a retrieval can only name existing collections.`,
        );
      return unique.map((name) => {
        const row = rows.find((entry) => entry.name === name)!;
        return { name, classifications: [...new Set([...row.own, ...row.fromDocuments])].sort(), embeddingModel: row.embeddingModel };
      });
    },

    async rebuild(name, rebuildOptions = {}) {
      assertOpen();
      const started = performance.now();
      context.assertSameModel(await collectionRow(name));
      return context.lock(name, async () => {
        // Read again under the lock: an ingest may have changed the settings meanwhile.
        const row = await collectionRow(name);
        const settings = mergeSettings(
          row.config as Partial<CollectionSettings>,
          rebuildOptions.index ? { index: rebuildOptions.index } : {},
        );
        if (rebuildOptions.index)
          await store.db
            .update(collections)
            .set({ config: settings as unknown as Record<string, unknown>, updatedAt: clock() })
            .where(eq(collections.name, name));
        const before = states.get(name)?.vectors.allocated;
        if (rebuildOptions.reembed) await clearStoredEmbeddings(store, name);
        const [current] = await store.db.select().from(collections).where(eq(collections.name, name));
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
    },

    async deleteCollection(name) {
      assertOpen();
      validateCollectionName(name);
      return context.lock(name, async () => {
        const existed = await store.db.transaction(async (tx) => {
          await tx.delete(chunks).where(eq(chunks.collection, name));
          await tx.delete(documents).where(eq(documents.collection, name));
          return (await tx.delete(collections).where(eq(collections.name, name)).returning({ name: collections.name })).length > 0;
        });
        states.delete(name);
        await removeIndexFiles(dataDir, name);
        return existed;
      });
    },

    async close() {
      closed = true;
      await Promise.all([...locks.values()]);
      states.clear();
    },
  };
}
