// What a trace records about a retrieval: which chunks, by id and content hash, from which
// document version. Small and free of chunk text, so events stay light and hash-stable.
import type { SearchResult } from './search.ts';

/** One retrieved chunk as the trace records it. */
export interface RetrievalProvenance {
  chunkId: string;
  contentHash: string;
  collection: string;
  source: string;
  documentVersion: number;
  documentHash: string;
  /** Human-readable place, as in the citation. */
  citation: string;
  score: number;
}

/** The provenance of search results, in result order. */
export function provenanceOf(results: SearchResult[]): RetrievalProvenance[] {
  return results.map((result) => ({
    chunkId: result.chunkId,
    contentHash: result.contentHash,
    collection: result.citation.collection,
    source: result.citation.source,
    documentVersion: result.citation.documentVersion,
    documentHash: result.citation.documentHash,
    citation: result.citation.text,
    score: result.score,
  }));
}
