// The knowledge plane's entry point: a knowledge base over the shared store and a data
// directory holding one HNSW index file per collection. This file is the wiring: what the parts
// share is in knowledge-base-context.ts:KnowledgeBaseContext; ingest.ts, search.ts,
// collection-listing.ts and collection-maintenance.ts are the parts; the queries live in
// knowledge-rows.ts and collection-rows.ts.
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { describeCollections, listCollections } from './collection-listing.ts';
import { deleteCollection, rebuildCollection } from './collection-maintenance.ts';
import type { CollectionSettings } from './collection-settings.ts';
import type { Embedder } from './embedder.ts';
import { createHashingEmbedder } from './hashing-embedder.ts';
import type { IngestOptions, IngestSummary } from './ingest.ts';
import { ingestSource } from './ingest.ts';
import { KnowledgeBaseContext } from './knowledge-base-context.ts';
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
  const context = new KnowledgeBaseContext(
    store,
    path.resolve(options.dataDir),
    options.embedder ?? createHashingEmbedder(),
    options.clock ?? (() => new Date()),
  );
  return {
    embedder: context.embedder,

    ingest(source, ingestOptions) {
      context.assertOpen();
      return ingestSource(context, source, ingestOptions);
    },

    search(names, query, searchOptions) {
      context.assertOpen();
      return searchCollections(context, names, query, searchOptions);
    },

    listCollections() {
      context.assertOpen();
      return listCollections(context);
    },

    describeCollections(names) {
      context.assertOpen();
      return describeCollections(context, names);
    },

    rebuild(name, rebuildOptions) {
      context.assertOpen();
      return rebuildCollection(context, name, rebuildOptions);
    },

    deleteCollection(name) {
      context.assertOpen();
      return deleteCollection(context, name);
    },

    async close() {
      context.closed = true;
      await Promise.all([...context.locks.values()]);
      context.states.clear();
    },
  };
}
