// The knowledge base's own state, shared by its parts (collection-listing.ts, collection-maintenance.ts)
// and handed to ingest and search as their KnowledgeContext: the loaded collections, the
// per-collection write locks, whether the knowledge base is closed, and a collection's row.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import type { CollectionSettings } from './collection-settings.ts';
import { mergeSettings, validateCollectionName } from './collection-settings.ts';
import type { CollectionState } from './collection-state.ts';
import { loadCollectionState } from './collection-state.ts';
import type { Embedder } from './embedder.ts';
import type { CollectionRow, KnowledgeContext } from './knowledge-context.ts';
import { collectionNames, findCollectionRow } from './knowledge-rows.ts';

/** What a knowledge base's parts share (internal). */
export class KnowledgeBaseContext implements KnowledgeContext {
  readonly store: Store;
  readonly dataDir: string;
  readonly embedder: Embedder;
  readonly clock: () => Date;
  /** Loaded collections, by name. */
  readonly states = new Map<string, CollectionState>();
  readonly #loading = new Map<string, Promise<CollectionState>>();
  /** The tail of each collection's write lock. */
  readonly locks = new Map<string, Promise<unknown>>();
  closed = false;

  constructor(store: Store, dataDir: string, embedder: Embedder, clock: () => Date) {
    this.store = store;
    this.dataDir = dataDir;
    this.embedder = embedder;
    this.clock = clock;
  }

  assertOpen(): void {
    if (this.closed) throw new UserError(ErrorCode.InputInvalid, 'This knowledge base is closed.');
  }

  lock<T>(collection: string, fn: () => Promise<T>): Promise<T> {
    const locks = this.locks;
    const previous = locks.get(collection) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    locks.set(collection, tail);
    void tail.then(() => {
      if (locks.get(collection) === tail) locks.delete(collection);
    });
    return run;
  }

  async stateFor(row: CollectionRow): Promise<CollectionState> {
    const { states, locks } = this;
    const loading = this.#loading;
    const loaded = states.get(row.name);
    // A collection this process is writing is current in memory; otherwise the store's
    // revision tells whether another process changed it since it was loaded.
    if (loaded && (loaded.revision === row.revision || locks.has(row.name))) return loaded;
    const pending = loading.get(row.name);
    if (pending) return pending;
    const settings = mergeSettings(row.config as Partial<CollectionSettings>, {});
    const promise = loadCollectionState(this.store, {
      name: row.name,
      revision: row.revision,
      embeddingModel: row.embeddingModel,
      dimensions: row.dimensions,
      settings: settings.index,
      dataDir: this.dataDir,
      embedder: this.embedder,
    })
      .then(({ state }) => {
        states.set(row.name, state);
        return state;
      })
      .finally(() => loading.delete(row.name));
    loading.set(row.name, promise);
    return promise;
  }

  assertSameModel(row: CollectionRow): void {
    const embedder = this.embedder;
    if (row.embeddingModel !== embedder.id || row.dimensions !== embedder.dimensions) {
      throw new UserError(
        ErrorCode.Conflict,
        `Collection '${row.name}' is embedded with '${row.embeddingModel}' (${row.dimensions} dimensions), but this knowledge base embeds with '${embedder.id}' (${embedder.dimensions}); models cannot be mixed in one collection: use '${row.embeddingModel}', or ingest into another collection.`,
      );
    }
  }

  /** The collection `name`; an unknown name is an error naming the known ones. */
  async collectionRow(name: string): Promise<CollectionRow> {
    validateCollectionName(name);
    const row = await findCollectionRow(this.store, name);
    if (!row) {
      const known = await collectionNames(this.store);
      throw new UserError(
        ErrorCode.NotFound,
        `Collection '${name}' does not exist; known collections: ${known.length > 0 ? known.join(', ') : '(none yet: ingest first)'}.`,
      );
    }
    return row;
  }
}
