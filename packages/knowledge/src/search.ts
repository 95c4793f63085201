// Retrieval: vector and keyword candidates from every requested collection, fused (normalised
// scores or reciprocal ranks), collapsed by content hash, and returned with citations that say
// where each chunk came from (source, heading path / page / lines / record, document version).
import { ErrorCode, UserError } from '@aifactory/core';
import { chunkDetailRows, collectionNames, collectionRows } from './collection-rows.ts';
import type { KnowledgeContext } from './knowledge-context.ts';
import type { CollectionState } from './collection-state.ts';
import { embedChecked } from './embedder.ts';
import type { ChunkLocation } from './ingestion/chunking.ts';
import type { MediaType } from './ingestion/extracted-document.ts';

/** How candidates are scored. */
export type SearchMode = 'hybrid' | 'vector' | 'keyword';

/** Which chunks may be returned. */
export interface SearchFilter {
  /** Only documents whose source path starts with this prefix. */
  sourcePrefix?: string;
  /** Only documents of these media types. */
  mediaTypes?: MediaType[];
  /** Only documents carrying at least one of these labels. */
  requireClassifications?: string[];
  /** Never documents carrying any of these labels. */
  excludeClassifications?: string[];
}

/** Options of a search. */
export interface SearchOptions {
  /** Results to return (default 5, at most 100). */
  topK?: number;
  /** `hybrid` (default): vector and BM25 fused; `vector` or `keyword` alone. */
  mode?: SearchMode;
  /** Restricts results by document. */
  filter?: SearchFilter;
  /** Candidates taken from each retriever before fusion (default max(50, 5 x topK)). */
  candidates?: number;
  /** How hybrid mode combines the two rankings: `weighted` (default) normalised scores, or `rrf` reciprocal rank fusion. */
  fusion?: 'weighted' | 'rrf';
  /** Weight of the vector side in fusion (default 1). */
  vectorWeight?: number;
  /** Weight of the keyword side in fusion (default 1). */
  keywordWeight?: number;
}

/** Where a result came from, for people and for the trace. */
export interface Citation {
  collection: string;
  /** Document path relative to its ingest root. */
  source: string;
  /** Heading path, page, line range or record within the document. */
  location: ChunkLocation;
  /** Document version (1 on first ingest, +1 per content change). */
  documentVersion: number;
  /** sha256 of the document's bytes when the chunk was cut. */
  documentHash: string;
  mediaType: MediaType;
  /** Document title, when it has one. */
  title?: string;
  /** One line for people: `handbook/leave.md › Leave › Parental leave (lines 12-20)`. */
  text: string;
}

/** One retrieved chunk. */
export interface SearchResult {
  chunkId: string;
  content: string;
  /** sha256 of content: what the trace records as provenance. */
  contentHash: string;
  /** Fused score (hybrid weighted: 0..1; hybrid rrf: reciprocal rank sum; vector: cosine similarity; keyword: BM25). */
  score: number;
  /** The retrievers' own scores and ranks (1-based), when the chunk was their candidate. */
  scores: { vector?: number; vectorRank?: number; keyword?: number; keywordRank?: number };
  /** Labels of the chunk's document. */
  classifications: string[];
  citation: Citation;
}

const rrfK = 60;

interface Candidate {
  collection: string;
  label: number;
  score: number;
  vector?: number;
  vectorRank?: number;
  keyword?: number;
  keywordRank?: number;
}

/** Searches one or more collections. */
export async function searchCollections(
  context: KnowledgeContext,
  names: string | string[],
  query: string,
  options: SearchOptions = {},
): Promise<SearchResult[]> {
  const requested = [...new Set(Array.isArray(names) ? names : [names])];
  if (requested.length === 0) throw new UserError(ErrorCode.InputInvalid, 'Search needs at least one collection.');
  if (typeof query !== 'string' || !query.trim())
    throw new UserError(ErrorCode.InputInvalid, 'Search query is empty; give the words to look for.');
  const topK = options.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 1 || topK > 100)
    throw new UserError(ErrorCode.InputInvalid, `topK must be an integer from 1 to 100; got ${String(topK)}.`);
  const mode = options.mode ?? 'hybrid';
  if (!['hybrid', 'vector', 'keyword'].includes(mode))
    throw new UserError(ErrorCode.InputInvalid, `Search mode '${String(mode)}' is unknown; use hybrid, vector or keyword.`);
  const candidates = Math.max(options.candidates ?? Math.max(50, topK * 5), topK);

  const rows = await collectionRows(context.store, requested);
  const missing = requested.filter((name) => !rows.some((row) => row.name === name));
  if (missing.length > 0) {
    const known = await collectionNames(context.store);
    throw new UserError(
      ErrorCode.NotFound,
      `Collection '${missing[0]}' does not exist; known collections: ${known.length > 0 ? known.join(', ') : '(none yet: ingest first)'}.`,
    );
  }
  for (const row of rows) context.assertSameModel(row);
  const states = await Promise.all(rows.map((row) => context.stateFor(row)));

  const vectorLists: Candidate[] = [];
  const keywordLists: Candidate[] = [];
  const queryVector = mode === 'keyword' ? undefined : (await embedChecked(context.embedder, [query]))[0]!;
  for (const state of states) {
    const accept = acceptFor(state, options.filter);
    if (queryVector)
      for (const hit of state.vectors.search(queryVector, candidates, accept))
        vectorLists.push({ collection: state.name, label: hit.label, score: 0, vector: hit.similarity });
    if (mode !== 'vector')
      for (const hit of state.keywords.search(query, candidates, accept))
        keywordLists.push({ collection: state.name, label: hit.label, score: 0, keyword: hit.score });
  }
  vectorLists.sort((left, right) => right.vector! - left.vector!);
  keywordLists.sort((left, right) => right.keyword! - left.keyword!);
  const fused = new Map<string, Candidate>();
  const vectorWeight = options.vectorWeight ?? 1;
  const keywordWeight = options.keywordWeight ?? 1;
  const fusion = options.fusion ?? 'weighted';
  if (fusion !== 'weighted' && fusion !== 'rrf')
    throw new UserError(ErrorCode.InputInvalid, `Fusion '${String(fusion)}' is unknown; use weighted or rrf.`);
  const vectorHits = vectorLists.slice(0, candidates);
  const keywordHits = keywordLists.slice(0, candidates);
  // Weighted fusion: a convex combination of min-max normalised scores (Bruch, Gai and Ingber,
  // "An Analysis of Fusion Functions for Hybrid Retrieval", 2023, found it beats RRF). RRF only
  // sees ranks, so a chunk that is first on one list and fifth on the other loses to one that is
  // second on both even when its keyword match is exact.
  const vectorMax = vectorHits[0]?.vector ?? 0;
  const vectorMin = vectorHits[vectorHits.length - 1]?.vector ?? 0;
  const keywordMax = keywordHits[0]?.keyword ?? 0;
  const weightSum = vectorWeight + keywordWeight || 1;
  for (const [rank, hit] of vectorHits.entries()) {
    const entry = entryFor(fused, hit);
    entry.vector = hit.vector;
    entry.vectorRank = rank + 1;
    if (mode === 'vector') entry.score = hit.vector!;
    else if (fusion === 'rrf') entry.score += vectorWeight / (rrfK + rank + 1);
    else entry.score += (vectorWeight / weightSum) * (vectorMax > vectorMin ? (hit.vector! - vectorMin) / (vectorMax - vectorMin) : 1);
  }
  for (const [rank, hit] of keywordHits.entries()) {
    const entry = entryFor(fused, hit);
    entry.keyword = hit.keyword;
    entry.keywordRank = rank + 1;
    if (mode === 'keyword') entry.score = hit.keyword!;
    else if (fusion === 'rrf') entry.score += keywordWeight / (rrfK + rank + 1);
    else entry.score += (keywordWeight / weightSum) * (keywordMax > 0 ? hit.keyword! / keywordMax : 0);
  }
  const ranked = [...fused.values()].sort(
    (left, right) => right.score - left.score || left.collection.localeCompare(right.collection) || left.label - right.label,
  );
  // Fetch a few more than asked, so collapsing identical chunks still fills topK.
  const shortlist = ranked.slice(0, topK * 3);
  const details = await loadChunks(context, shortlist);
  const results: SearchResult[] = [];
  const seenHashes = new Set<string>();
  for (const candidate of shortlist) {
    const detail = details.get(`${candidate.collection}\u0000${candidate.label}`);
    if (!detail || seenHashes.has(detail.contentHash)) continue;
    seenHashes.add(detail.contentHash);
    results.push({
      chunkId: detail.id,
      content: detail.content,
      contentHash: detail.contentHash,
      score: candidate.score,
      scores: {
        ...(candidate.vector !== undefined ? { vector: candidate.vector, vectorRank: candidate.vectorRank! } : {}),
        ...(candidate.keyword !== undefined ? { keyword: candidate.keyword, keywordRank: candidate.keywordRank! } : {}),
      },
      classifications: detail.classifications,
      citation: citationOf(candidate.collection, detail),
    });
    if (results.length === topK) break;
  }
  return results;
}

function entryFor(fused: Map<string, Candidate>, hit: Candidate): Candidate {
  const key = `${hit.collection}\u0000${hit.label}`;
  let entry = fused.get(key);
  if (!entry) fused.set(key, (entry = { collection: hit.collection, label: hit.label, score: 0 }));
  return entry;
}

function acceptFor(state: CollectionState, filter: SearchFilter | undefined): ((label: number) => boolean) | undefined {
  if (!filter) return undefined;
  const { sourcePrefix, mediaTypes, requireClassifications, excludeClassifications } = filter;
  if (!sourcePrefix && !mediaTypes?.length && !requireClassifications?.length && !excludeClassifications?.length) return undefined;
  const allowedDocuments = new Set<number>();
  for (const [id, document] of state.documents) {
    if (sourcePrefix && !document.sourcePath.startsWith(sourcePrefix)) continue;
    if (mediaTypes?.length && !mediaTypes.includes(document.mediaType)) continue;
    if (requireClassifications?.length && !requireClassifications.some((label) => document.classifications.includes(label))) continue;
    if (excludeClassifications?.some((label) => document.classifications.includes(label))) continue;
    allowedDocuments.add(id);
  }
  return (label) => {
    const documentId = state.labelDocument.get(label);
    return documentId !== undefined && allowedDocuments.has(documentId);
  };
}

interface ChunkDetail {
  id: string;
  content: string;
  contentHash: string;
  location: ChunkLocation;
  sourcePath: string;
  documentVersion: number;
  documentHash: string;
  mediaType: MediaType;
  classifications: string[];
  title?: string;
}

async function loadChunks(context: KnowledgeContext, shortlist: Candidate[]): Promise<Map<string, ChunkDetail>> {
  const byCollection = new Map<string, number[]>();
  for (const candidate of shortlist) {
    const labels = byCollection.get(candidate.collection);
    if (labels) labels.push(candidate.label);
    else byCollection.set(candidate.collection, [candidate.label]);
  }
  const details = new Map<string, ChunkDetail>();
  if (byCollection.size === 0) return details;
  const rows = await chunkDetailRows(context.store, byCollection);
  for (const row of rows) {
    const title = (row.metadata as { title?: unknown }).title;
    details.set(`${row.collection}\u0000${row.label}`, {
      id: row.id,
      content: row.content,
      contentHash: row.contentHash,
      location: row.location as ChunkLocation,
      sourcePath: row.sourcePath,
      documentVersion: row.documentVersion,
      documentHash: row.documentHash,
      mediaType: row.mediaType as MediaType,
      classifications: row.classifications,
      ...(typeof title === 'string' ? { title } : {}),
    });
  }
  return details;
}

function citationOf(collection: string, detail: ChunkDetail): Citation {
  return {
    collection,
    source: detail.sourcePath,
    location: detail.location,
    documentVersion: detail.documentVersion,
    documentHash: detail.documentHash,
    mediaType: detail.mediaType,
    ...(detail.title ? { title: detail.title } : {}),
    text: formatCitation(detail.sourcePath, detail.location),
  };
}

/** One line naming a chunk's place: `path › Heading › Sub (lines 3-9)`, `file.pdf (page 2)`, `faq.jsonl (record 7, line 7)`. */
export function formatCitation(source: string, location: ChunkLocation): string {
  let text = source;
  if (location.headingPath?.length) text += ` › ${location.headingPath.join(' › ')}`;
  const where: string[] = [];
  if (location.page !== undefined) where.push(`page ${location.page}`);
  if (location.record)
    where.push(
      location.record.id !== undefined ? `record ${location.record.id}, line ${location.record.line}` : `line ${location.record.line}`,
    );
  if (location.lines)
    where.push(
      location.lines.from === location.lines.to ? `line ${location.lines.from}` : `lines ${location.lines.from}-${location.lines.to}`,
    );
  return where.length > 0 ? `${text} (${where.join(', ')})` : text;
}
