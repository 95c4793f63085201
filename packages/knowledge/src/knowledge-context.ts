// What the parts of a knowledge base share: the store, the data directory, the embedder and the
// loaded collections, with a per-collection lock so one process never interleaves two writers.
import type { Store } from '@aifactory/store';
import type { CollectionRow } from './collection-rows.ts';
import type { CollectionState } from './collection-state.ts';
import type { Embedder } from './embedder.ts';

export type { CollectionRow } from './collection-rows.ts';

/** Internal: shared by ingest, search and the knowledge base. */
export interface KnowledgeContext {
  readonly store: Store;
  readonly dataDir: string;
  readonly embedder: Embedder;
  readonly clock: () => Date;
  /** Runs fn while holding the collection's write lock (in this process). */
  lock<T>(collection: string, fn: () => Promise<T>): Promise<T>;
  /** The loaded state of a collection, (re)loaded when the row's revision moved on elsewhere. */
  stateFor(row: CollectionRow): Promise<CollectionState>;
  /** Refuses a collection embedded with another model. */
  assertSameModel(row: CollectionRow): void;
}
