// Ingestion: read every file of a source, skip what did not change, chunk, mask, embed (reusing
// stored vectors for chunks whose content hash the collection already holds), and commit each
// document in one transaction with its lineage. Files gone from a folder source are removed.
import { readFile } from 'node:fs/promises';
import { contentHash, ErrorCode, sha256Hex, UserError } from '@aifactory/core';
import type { KnowledgeContext } from './knowledge-context.ts';
import type { CollectionSettings } from './collection-settings.ts';
import { mergeSettings, normalizeClassifications, validateCollectionName } from './collection-settings.ts';
import type { CollectionState } from './collection-state.ts';
import { bytesToVector, embedChecked, vectorToBytes } from './embedder.ts';
import type { ChunkingOptions } from './ingestion/chunking.ts';
import { chunkDocument } from './ingestion/chunking.ts';
import { UnreadableFileError } from './ingestion/extracted-document.ts';
import type { JsonlOptions } from './ingestion/read-document.ts';
import { readDocument } from './ingestion/read-document.ts';
import type { SourceFile } from './ingestion/source-files.ts';
import { listSource } from './ingestion/source-files.ts';
import type { PiiKind, PiiMaskingOptions } from './pii-masking.ts';
import { maskPii } from './pii-masking.ts';
import type { IndexSettings } from './vector-index.ts';
import {
  commitDocument,
  deleteDocument,
  insertCollectionIfAbsent,
  recomputeCollectionDocumentLabels,
  relabelDocument,
  selectChunkEmbeddings,
  selectCollection,
  selectSourceDocuments,
  updateCollectionSettings,
  type DocumentRow,
} from './ingest-rows.ts';

/** Options of one ingest. */
export interface IngestOptions {
  /** Collection to ingest into; created on first use with the knowledge base's embedder. */
  collection: string;
  /**
   * Labels for every document under this source folder (plus any a document declares in its
   * front matter); also added to the collection's own labels. Remembered per source folder:
   * a later ingest of the same folder without labels keeps them, one with labels replaces them.
   */
  classifications?: string[];
  /** PII masking; stored with the collection, so later ingests mask the same way. */
  piiMasking?: PiiMaskingOptions;
  /** Chunk sizes; stored with the collection. Changing them re-chunks every document. */
  chunking?: Partial<ChunkingOptions>;
  /** How JSONL records become text; stored with the collection. */
  jsonl?: JsonlOptions;
  /** HNSW parameters; stored with the collection (m and efConstruction apply from the next rebuild). */
  index?: Partial<IndexSettings>;
  /** Called as files are processed, for progress displays. */
  onProgress?: (event: IngestProgress) => void;
  /** Stops after the current file; what was committed stays. */
  signal?: AbortSignal;
}

/** What happened to one file. */
export type FileOutcome = 'added' | 'updated' | 'unchanged' | 'skipped';

/** Progress of an ingest, as events. */
export type IngestProgress =
  | { type: 'ingest.started'; collection: string; root: string; files: number }
  | {
      type: 'file.processed';
      path: string;
      outcome: FileOutcome;
      chunks: number;
      reason?: string;
      processed: number;
      files: number;
      chunksWritten: number;
    }
  | { type: 'document.removed'; path: string; chunks: number }
  | { type: 'ingest.completed'; summary: IngestSummary };

/** The result of an ingest. */
export interface IngestSummary {
  collection: string;
  /** Absolute folder the source paths are relative to. */
  root: string;
  embeddingModel: string;
  /** Documents new to the collection. */
  added: number;
  /** Documents whose content (or processing settings) changed, re-chunked and re-embedded. */
  updated: number;
  /** Documents gone from the folder, removed from the index. */
  removed: number;
  /** Documents left untouched. */
  unchanged: number;
  /** Files that could not be ingested (see errors). */
  skipped: number;
  /** Files of types ingest does not read. */
  ignored: number;
  chunks: {
    /** Chunks written. */
    added: number;
    /** Chunks deleted with updated or removed documents. */
    removed: number;
    /** Chunks sent to the embedder. */
    embedded: number;
    /** Chunks whose vector was reused from an identical chunk (content-hash dedup). */
    reused: number;
    /** Chunks in the collection after the ingest. */
    total: number;
  };
  /** PII values masked, by kind. */
  masked: Partial<Record<PiiKind, number>>;
  /** Per-file problems: the file was skipped, the rest went on. A file that had been ingested before keeps its last good version. */
  errors: Array<{ path: string; reason: string }>;
  durationMs: number;
}

/** Ingests a folder or file into a collection. */
export async function ingestSource(context: KnowledgeContext, source: string, options: IngestOptions): Promise<IngestSummary> {
  const started = performance.now();
  const name = validateCollectionName(options.collection);
  const given = options.classifications === undefined ? undefined : normalizeClassifications(options.classifications, 'the ingest options');
  const listing = await listSource(source);
  return context.lock(name, async () => {
    const { settings, state, classifications } = await prepareCollection(context, name, listing.root, given, options);
    const summary: IngestSummary = {
      collection: name,
      root: listing.root,
      embeddingModel: context.embedder.id,
      added: 0,
      updated: 0,
      removed: 0,
      unchanged: 0,
      skipped: 0,
      ignored: listing.ignored.length,
      chunks: { added: 0, removed: 0, embedded: 0, reused: 0, total: 0 },
      masked: {},
      errors: [],
      durationMs: 0,
    };
    const existingRows = await selectSourceDocuments(context.store, name, listing.root);
    const existing = new Map(existingRows.map((row) => [row.sourcePath, row]));
    const settingsHash = contentHash({
      model: context.embedder.id,
      chunking: settings.chunking,
      piiMasking: settings.piiMasking,
      jsonl: settings.jsonl,
    }).slice(0, 16);
    options.onProgress?.({ type: 'ingest.started', collection: name, root: listing.root, files: listing.files.length });
    const seen = new Set<string>();
    let processed = 0;
    let dirty = false;
    for (const file of listing.files) {
      if (options.signal?.aborted) break;
      seen.add(file.relativePath);
      const result = await ingestFile(
        context,
        state,
        settings,
        settingsHash,
        classifications,
        listing.root,
        file,
        existing.get(file.relativePath),
      );
      processed++;
      summary[result.outcome]++;
      if (result.outcome === 'skipped') summary.errors.push({ path: file.relativePath, reason: result.reason ?? 'unknown' });
      if (result.outcome === 'added' || result.outcome === 'updated') dirty = true;
      summary.chunks.added += result.chunksAdded;
      summary.chunks.removed += result.chunksRemoved;
      summary.chunks.embedded += result.embedded;
      summary.chunks.reused += result.reused;
      for (const [kind, count] of Object.entries(result.masked))
        summary.masked[kind as PiiKind] = (summary.masked[kind as PiiKind] ?? 0) + count;
      options.onProgress?.({
        type: 'file.processed',
        path: file.relativePath,
        outcome: result.outcome,
        chunks: result.chunksAdded,
        ...(result.reason ? { reason: result.reason } : {}),
        processed,
        files: listing.files.length,
        chunksWritten: summary.chunks.added,
      });
    }
    if (listing.isFolder && !options.signal?.aborted) {
      for (const [sourcePath, row] of existing) {
        if (seen.has(sourcePath)) continue;
        const removed = await removeDocument(context, state, row.id);
        summary.removed++;
        summary.chunks.removed += removed;
        dirty = true;
        options.onProgress?.({ type: 'document.removed', path: sourcePath, chunks: removed });
      }
    }
    if (dirty) {
      // Labels only grew inside each document's transaction; now shrink them to what is left.
      await recomputeDocumentClassifications(context, name);
      await state.persist(context.dataDir, context.embedder.id);
    }
    summary.chunks.total = state.vectors.size;
    summary.durationMs = Math.round(performance.now() - started);
    options.onProgress?.({ type: 'ingest.completed', summary });
    return summary;
  });
}

/** Creates the collection or checks it against this knowledge base's embedder, and stores merged settings. */
async function prepareCollection(
  context: KnowledgeContext,
  name: string,
  root: string,
  given: string[] | undefined,
  options: IngestOptions,
): Promise<{ settings: CollectionSettings; state: CollectionState; classifications: string[] }> {
  const overrides = {
    ...(options.index ? { index: options.index } : {}),
    ...(options.chunking ? { chunking: options.chunking } : {}),
    ...(options.piiMasking !== undefined ? { piiMasking: options.piiMasking } : {}),
    ...(options.jsonl ? { jsonl: options.jsonl } : {}),
  };
  const now = context.clock();
  const row = await selectCollection(context.store, name);
  let settings: CollectionSettings;
  const sourceLabels: Record<string, string[]> = { ...((row?.config as StoredConfig | undefined)?.sourceLabels ?? {}) };
  if (given !== undefined) sourceLabels[root] = given;
  const classifications = sourceLabels[root] ?? [];
  if (!row) {
    settings = mergeSettings(undefined, overrides);
    await insertCollectionIfAbsent(context.store, {
      name,
      embeddingModel: context.embedder.id,
      dimensions: context.embedder.dimensions,
      classifications,
      config: { ...settings, sourceLabels },
      revision: 0,
      nextLabel: 0,
      createdAt: now,
      updatedAt: now,
    });
  } else {
    context.assertSameModel(row);
    settings = mergeSettings(row.config as StoredConfig, overrides);
    const labels = normalizeClassifications([...row.classifications, ...classifications], `collection '${name}'`);
    await updateCollectionSettings(context.store, name, { config: { ...settings, sourceLabels }, classifications: labels, updatedAt: now });
  }
  const current = await selectCollection(context.store, name);
  if (!current) throw new UserError(ErrorCode.Conflict, `Collection '${name}' was deleted while being ingested into.`);
  context.assertSameModel(current);
  const state = await context.stateFor(current);
  state.vectors.settings.efSearch = settings.index.efSearch;
  return { settings, state, classifications };
}

/** kn_collections.config: the collection's settings plus the labels remembered per source folder. */
type StoredConfig = Partial<CollectionSettings> & { sourceLabels?: Record<string, string[]> };

interface FileResult {
  outcome: FileOutcome;
  reason?: string;
  chunksAdded: number;
  chunksRemoved: number;
  embedded: number;
  reused: number;
  masked: Partial<Record<PiiKind, number>>;
}

async function ingestFile(
  context: KnowledgeContext,
  state: CollectionState,
  settings: CollectionSettings,
  settingsHash: string,
  classifications: string[],
  root: string,
  file: SourceFile,
  previous: DocumentRow | undefined,
): Promise<FileResult> {
  const empty = { chunksAdded: 0, chunksRemoved: 0, embedded: 0, reused: 0, masked: {} };
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file.absolutePath);
  } catch (error) {
    return { ...empty, outcome: 'skipped', reason: `unreadable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  const documentHash = sha256Hex(bytes);
  let extracted;
  try {
    extracted = await readDocument(bytes, file.mediaType, { jsonl: settings.jsonl });
  } catch (error) {
    if (error instanceof UnreadableFileError || error instanceof Error) return { ...empty, outcome: 'skipped', reason: error.message };
    throw error;
  }
  let documentLabels: string[];
  try {
    documentLabels = normalizeClassifications(
      [...classifications, ...(extracted.classifications ?? [])],
      `the front matter of ${file.relativePath}`,
    );
  } catch (error) {
    return { ...empty, outcome: 'skipped', reason: (error as Error).message };
  }
  if (previous && previous.contentHash === documentHash && (previous.metadata as { settingsHash?: string }).settingsHash === settingsHash) {
    if (sameLabels(previous.classifications, documentLabels)) return { ...empty, outcome: 'unchanged' };
    // Only the labels changed: relabel without re-chunking or re-embedding.
    const revision = (await relabelDocument(context.store, state.name, previous.id, documentLabels, context.clock())) ?? state.revision;
    const known = state.documents.get(previous.id);
    if (known) known.classifications = documentLabels;
    state.revision = revision;
    return { ...empty, outcome: 'updated' };
  }

  const masked: Partial<Record<PiiKind, number>> = {};
  if (settings.piiMasking !== false) {
    for (const part of extracted.parts) {
      const result = maskPii(part.text, settings.piiMasking);
      part.text = result.text;
      for (const [kind, count] of Object.entries(result.counts)) masked[kind as PiiKind] = (masked[kind as PiiKind] ?? 0) + count;
    }
  }
  const drafts = await chunkDocument(extracted, settings.chunking);
  if (drafts.length === 0) return { ...empty, outcome: 'skipped', reason: 'no text to index (empty document)' };

  // Content-hash dedup: a chunk the collection already holds (here or in another document)
  // reuses its stored vector instead of being embedded again.
  const hashes = drafts.map((draft) => sha256Hex(draft.content));
  const known = await storedEmbeddings(context, state.name, [...new Set(hashes)]);
  const toEmbed = [...new Set(hashes.filter((hash) => !known.has(hash)))];
  const textByHash = new Map(hashes.map((hash, position) => [hash, drafts[position]!.content]));
  const fresh = await embedChecked(
    context.embedder,
    toEmbed.map((hash) => textByHash.get(hash)!),
  );
  for (const [position, hash] of toEmbed.entries()) known.set(hash, fresh[position]!);

  const now = context.clock();
  const version = previous ? previous.version + (previous.contentHash === documentHash ? 0 : 1) : 1;
  const metadata = {
    ...(extracted.title ? { title: extracted.title } : {}),
    settingsHash,
    chunks: drafts.length,
    ...(Object.keys(masked).length > 0 ? { masked } : {}),
  };
  const written = await commitDocument(context.store, {
    collection: state.name,
    labels: documentLabels,
    chunkCount: drafts.length,
    at: now,
    ...(previous ? { previousId: previous.id } : {}),
    values: {
      collection: state.name,
      sourceRoot: root,
      sourcePath: file.relativePath,
      contentHash: documentHash,
      version,
      mediaType: file.mediaType,
      byteSize: bytes.byteLength,
      classifications: documentLabels,
      metadata,
      ingestedAt: now,
    },
    chunkRows: (documentId, firstLabel) =>
      drafts.map((draft, ordinal) => ({
        id: chunkId(state.name, root, file.relativePath, documentHash, settingsHash, ordinal),
        collection: state.name,
        documentId,
        label: firstLabel + ordinal,
        ordinal,
        content: draft.content,
        contentHash: hashes[ordinal]!,
        location: draft.location as Record<string, unknown>,
        sourcePath: file.relativePath,
        documentVersion: version,
        documentHash,
        embedding: vectorToBytes(known.get(hashes[ordinal]!)!),
      })),
  });

  // The store has committed; bring this process's indexes level with it.
  const removedFromIndex = previous ? state.removeDocument(previous.id) : 0;
  state.documents.set(written.documentId, { sourcePath: file.relativePath, mediaType: file.mediaType, classifications: documentLabels });
  for (const [ordinal, draft] of drafts.entries())
    state.addChunk(written.documentId, written.firstLabel + ordinal, known.get(hashes[ordinal]!)!, draft.content);
  state.revision = written.revision;
  return {
    outcome: previous ? 'updated' : 'added',
    chunksAdded: drafts.length,
    chunksRemoved: Math.max(written.removed, removedFromIndex),
    embedded: toEmbed.length,
    reused: drafts.length - toEmbed.length,
    masked,
  };
}

/** Deletes a document and its chunks from the store and the indexes; returns the chunks removed. */
export async function removeDocument(context: KnowledgeContext, state: CollectionState, documentId: number): Promise<number> {
  const revision = (await deleteDocument(context.store, state.name, documentId, context.clock())) ?? state.revision;
  const removed = state.removeDocument(documentId);
  state.revision = revision;
  return removed;
}

/** Sets a collection's document labels to exactly the union of its documents' labels. */
export async function recomputeDocumentClassifications(context: KnowledgeContext, collection: string): Promise<void> {
  await recomputeCollectionDocumentLabels(context.store, collection);
}

async function storedEmbeddings(context: KnowledgeContext, collection: string, hashes: string[]): Promise<Map<string, Float32Array>> {
  const found = new Map<string, Float32Array>();
  const dimensions = context.embedder.dimensions;
  for (let start = 0; start < hashes.length; start += 1000) {
    const rows = await selectChunkEmbeddings(context.store, collection, hashes.slice(start, start + 1000));
    for (const row of rows) {
      if (row.embedding && row.embedding.byteLength === dimensions * 4 && !found.has(row.contentHash))
        found.set(row.contentHash, bytesToVector(row.embedding));
    }
  }
  return found;
}

/** Stable chunk id: the same document content cut the same way gets the same ids. */
function chunkId(
  collection: string,
  root: string,
  sourcePath: string,
  documentHash: string,
  settingsHash: string,
  ordinal: number,
): string {
  return `ch_${sha256Hex(`${collection}\n${root}\n${sourcePath}\n${documentHash}\n${settingsHash}\n${ordinal}`).slice(0, 24)}`;
}

function sameLabels(left: string[], right: string[]): boolean {
  return left.length === right.length && left.every((label, position) => label === right[position]);
}
