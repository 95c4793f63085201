// A collection in memory: its vector index, keyword index and which document each label
// belongs to. Loaded from the store plus the index file, reconciled with each other, and kept
// current by this process's writes; reloaded when another process moves the revision on.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '@aifactory/store';
import {
  chunkEmbeddingRows,
  clearChunkEmbeddings,
  collectionChunkRows,
  collectionDocumentRows,
  storeChunkEmbedding,
} from './collection-rows.ts';
import type { Embedder } from './embedder.ts';
import { bytesToVector, embedChecked, vectorToBytes } from './embedder.ts';
import type { MediaType } from './ingestion/extracted-document.ts';
import { KeywordIndex } from './keyword-index.ts';
import type { IndexSettings } from './vector-index.ts';
import { VectorIndex } from './vector-index.ts';

/** What filters and citations need to know about a document without a query. */
export interface DocumentInfo {
  sourcePath: string;
  mediaType: MediaType;
  classifications: string[];
}

/** The index file's sidecar: what it was built from. */
interface IndexMeta {
  format: 1;
  collection: string;
  embeddingModel: string;
  dimensions: number;
  revision: number;
  m: number;
  efConstruction: number;
  vectors: number;
  writtenAt: string;
}

/** Where a collection's index file lives. */
export function indexFile(dataDir: string, collection: string): string {
  return path.join(dataDir, 'knowledge', `${collection}.hnsw`);
}

/** One loaded collection. */
export class CollectionState {
  readonly name: string;
  revision: number;
  vectors: VectorIndex;
  readonly keywords = new KeywordIndex();
  readonly labelDocument = new Map<number, number>();
  readonly documentLabels = new Map<number, number[]>();
  readonly documents = new Map<number, DocumentInfo>();

  constructor(name: string, revision: number, vectors: VectorIndex) {
    this.name = name;
    this.revision = revision;
    this.vectors = vectors;
  }

  /** Adds one chunk to both indexes. */
  addChunk(documentId: number, label: number, vector: Float32Array, content: string): void {
    this.vectors.add(label, vector);
    this.keywords.add(label, content);
    this.labelDocument.set(label, documentId);
    const labels = this.documentLabels.get(documentId);
    if (labels) labels.push(label);
    else this.documentLabels.set(documentId, [label]);
  }

  /** Removes a document and all its chunks from both indexes. */
  removeDocument(documentId: number): number {
    const labels = this.documentLabels.get(documentId) ?? [];
    for (const label of labels) {
      this.vectors.remove(label);
      this.keywords.remove(label);
      this.labelDocument.delete(label);
    }
    this.documentLabels.delete(documentId);
    this.documents.delete(documentId);
    return labels.length;
  }

  /** Writes the vector index and its sidecar atomically. */
  async persist(dataDir: string, embeddingModel: string): Promise<void> {
    const file = indexFile(dataDir, this.name);
    await mkdir(path.dirname(file), { recursive: true });
    await this.vectors.write(file);
    const meta: IndexMeta = {
      format: 1,
      collection: this.name,
      embeddingModel,
      dimensions: this.vectors.dimensions,
      revision: this.revision,
      m: this.vectors.settings.m,
      efConstruction: this.vectors.settings.efConstruction,
      vectors: this.vectors.size,
      writtenAt: new Date().toISOString(),
    };
    const temporary = `${file}.json.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(meta, null, 2)}\n`);
    await rename(temporary, `${file}.json`);
  }
}

/** How a collection was loaded, for reports. */
export interface LoadReport {
  /** `file`: read from the index file; `rebuilt`: built from stored embeddings. */
  source: 'file' | 'rebuilt';
  /** Vectors added to a file that lagged behind the store. */
  repaired: number;
  /** Chunks that had no stored embedding and were embedded now. */
  embedded: number;
}

/** Loads a collection from the store and its index file (or builds the index from stored vectors). */
export async function loadCollectionState(
  store: Store,
  options: {
    name: string;
    revision: number;
    embeddingModel: string;
    dimensions: number;
    settings: IndexSettings;
    dataDir: string;
    embedder: Embedder;
    forceRebuild?: boolean;
  },
): Promise<{ state: CollectionState; report: LoadReport }> {
  const { name } = options;
  const documentRows = await collectionDocumentRows(store, name);
  const chunkRows = await collectionChunkRows(store, name);

  const file = indexFile(options.dataDir, name);
  const meta = options.forceRebuild ? undefined : await readMeta(file);
  let vectors: VectorIndex | undefined;
  let missing: number[] = chunkRows.map((row) => row.label);
  let source: LoadReport['source'] = 'rebuilt';
  if (meta && meta.embeddingModel === options.embeddingModel && meta.dimensions === options.dimensions) {
    try {
      const read = await VectorIndex.read(file, options.dimensions, options.settings, missing);
      vectors = read.index;
      missing = read.missing;
      source = 'file';
    } catch {
      // An unreadable or truncated file is rebuilt from the stored embeddings below.
      vectors = undefined;
    }
  }
  const fresh = vectors === undefined;
  vectors ??= await VectorIndex.create(options.dimensions, options.settings, Math.ceil(chunkRows.length * 1.25) + 16);
  const state = new CollectionState(name, options.revision, vectors);
  for (const row of documentRows) {
    state.documents.set(row.id, {
      sourcePath: row.sourcePath,
      mediaType: row.mediaType as MediaType,
      classifications: row.classifications,
    });
  }
  for (const row of chunkRows) {
    state.keywords.add(row.label, row.content);
    state.labelDocument.set(row.label, row.documentId);
    const labels = state.documentLabels.get(row.documentId);
    if (labels) labels.push(row.label);
    else state.documentLabels.set(row.documentId, [row.label]);
  }
  const embedded = await addStoredVectors(store, state, name, missing, options.embedder);
  if (fresh || missing.length > 0) await state.persist(options.dataDir, options.embeddingModel);
  return { state, report: { source, repaired: fresh ? 0 : missing.length, embedded } };
}

/** Adds the stored embeddings of the given labels to the vector index; embeds chunks stored without one. */
async function addStoredVectors(store: Store, state: CollectionState, name: string, labels: number[], embedder: Embedder): Promise<number> {
  let embedded = 0;
  const batch = 2000;
  for (let start = 0; start < labels.length; start += batch) {
    const slice = labels.slice(start, start + batch);
    const rows = await chunkEmbeddingRows(store, name, slice);
    const withoutVector = rows.filter((row) => !row.embedding || row.embedding.byteLength !== state.vectors.dimensions * 4);
    if (withoutVector.length > 0) {
      const vectors = await embedChecked(
        embedder,
        withoutVector.map((row) => row.content),
      );
      for (const [position, row] of withoutVector.entries()) {
        const vector = vectors[position]!;
        row.embedding = vectorToBytes(vector);
        await storeChunkEmbedding(store, row.id, row.embedding);
      }
      embedded += withoutVector.length;
    }
    for (const row of rows) if (row.embedding) state.vectors.add(row.label, bytesToVector(row.embedding));
  }
  return embedded;
}

/** Forgets a collection's stored vectors, so the next load embeds every chunk again (rebuild with reembed). */
export async function clearStoredEmbeddings(store: Store, name: string): Promise<void> {
  await clearChunkEmbeddings(store, name);
}

/** Deletes a collection's index files. */
export async function removeIndexFiles(dataDir: string, name: string): Promise<void> {
  const file = indexFile(dataDir, name);
  await rm(file, { force: true });
  await rm(`${file}.json`, { force: true });
}

async function readMeta(file: string): Promise<IndexMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(`${file}.json`, 'utf8')) as IndexMeta;
    return meta.format === 1 ? meta : undefined;
  } catch {
    return undefined;
  }
}
