// The vector half of hybrid search: an hnswlib-node HNSW graph (cosine space) per collection,
// persisted as a file beside the store. Grows by doubling when full; deletions are marks
// (hnswlib's markDelete), compacted away by a rebuild.
import { rename, rm } from 'node:fs/promises';
import type * as Hnswlib from 'hnswlib-node';
import type { HierarchicalNSW } from 'hnswlib-node';

/**
 * hnswlib-node, loaded with the first index: a native addon (dlopen of its .node file, ~15 ms of
 * CPU), and a process that never searches knowledge (a `factory worker` whose agents have none,
 * most CLI commands) never needs it.
 */
let hnswlib: Promise<typeof Hnswlib> | undefined;
async function loadHnswlib(): Promise<typeof Hnswlib> {
  const loaded = await (hnswlib ??= import('hnswlib-node'));
  // A CommonJS addon: imported as an ES module, its exports are the default export.
  return (loaded as typeof loaded & { default?: typeof loaded }).default ?? loaded;
}

/** HNSW parameters of a collection. */
export interface IndexSettings {
  /** Graph degree: links per node per layer (default 16). Higher: better recall, more memory. */
  m: number;
  /** Candidate list size while building (default 200). Higher: better graph, slower build. */
  efConstruction: number;
  /** Candidate list size while searching (default 100). Higher: better recall, slower search. */
  efSearch: number;
}

/** Defaults that reach recall@10 of about 0.98 on 100k x 384 at sub-millisecond latency. */
export const defaultIndexSettings: IndexSettings = { m: 16, efConstruction: 200, efSearch: 100 };

/** A scored label from the vector index. */
export interface VectorHit {
  label: number;
  /** Cosine similarity, 1 for identical direction. */
  similarity: number;
}

/** An HNSW index over unit vectors, keyed by integer labels. */
export class VectorIndex {
  private readonly graph: HierarchicalNSW;
  private readonly labels = new Set<number>();
  readonly dimensions: number;
  readonly settings: IndexSettings;

  private constructor(graph: HierarchicalNSW, dimensions: number, settings: IndexSettings) {
    this.graph = graph;
    this.dimensions = dimensions;
    // A copy: efSearch is tuned per index and must not leak into the caller's object.
    this.settings = { ...settings };
  }

  /** An empty index with room for `capacity` vectors before it grows. */
  static async create(dimensions: number, settings: IndexSettings, capacity = 1024): Promise<VectorIndex> {
    const graph = new (await loadHnswlib()).HierarchicalNSW('cosine', dimensions);
    graph.initIndex({ maxElements: Math.max(16, capacity), m: settings.m, efConstruction: settings.efConstruction });
    graph.setEf(settings.efSearch);
    return new VectorIndex(graph, dimensions, settings);
  }

  /**
   * Reads an index file and reconciles it with the labels the store says are live: labels the
   * file has but the store does not are marked deleted; the labels it lacks are returned, for
   * the caller to add (a crash between a store commit and the file write leaves such gaps).
   */
  static async read(
    file: string,
    dimensions: number,
    settings: IndexSettings,
    liveLabels: Iterable<number>,
  ): Promise<{ index: VectorIndex; missing: number[] }> {
    const graph = new (await loadHnswlib()).HierarchicalNSW('cosine', dimensions);
    await graph.readIndex(file);
    graph.setEf(settings.efSearch);
    const index = new VectorIndex(graph, dimensions, settings);
    const present = new Set(graph.getIdsList());
    const missing: number[] = [];
    for (const label of liveLabels) {
      if (present.has(label)) {
        index.labels.add(label);
        present.delete(label);
      } else missing.push(label);
    }
    for (const stale of present) {
      try {
        graph.markDelete(stale);
      } catch {
        // already marked deleted in the file
      }
    }
    return { index, missing };
  }

  /** Live vectors. */
  get size(): number {
    return this.labels.size;
  }

  /** Vectors held including deleted marks (what a rebuild would reclaim). */
  get allocated(): number {
    return this.graph.getCurrentCount();
  }

  /** Whether a label is live. */
  has(label: number): boolean {
    return this.labels.has(label);
  }

  /** Adds a vector under a new label, doubling the capacity when full. */
  add(label: number, vector: Float32Array): void {
    if (vector.length !== this.dimensions)
      throw new RangeError(`Vector has ${vector.length} dimensions; the index has ${this.dimensions}.`);
    if (this.labels.has(label)) this.remove(label);
    const capacity = this.graph.getMaxElements();
    if (this.graph.getCurrentCount() >= capacity) this.graph.resizeIndex(capacity * 2);
    this.graph.addPoint(Array.from(vector), label);
    this.labels.add(label);
  }

  /** Marks a label deleted; unknown labels are ignored. */
  remove(label: number): void {
    if (!this.labels.delete(label)) return;
    this.graph.markDelete(label);
  }

  /** Nearest `limit` live labels by cosine similarity; labels failing `accept` are skipped. */
  search(vector: Float32Array, limit: number, accept?: (label: number) => boolean): VectorHit[] {
    const k = Math.min(limit, this.labels.size);
    if (k <= 0) return [];
    this.graph.setEf(Math.max(this.settings.efSearch, k));
    const result = accept ? this.graph.searchKnn(Array.from(vector), k, accept) : this.graph.searchKnn(Array.from(vector), k);
    return result.neighbors.map((label, position) => ({ label, similarity: 1 - result.distances[position]! }));
  }

  /** Writes the index atomically (temporary file, then rename). */
  async write(file: string): Promise<void> {
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      await this.graph.writeIndex(temporary);
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}
