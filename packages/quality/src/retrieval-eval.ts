// Retrieval evaluation: labelled queries against a knowledge collection, scored as recall@k (the
// share of a query's relevant sources found in its top k, averaged over queries) and MRR (the
// mean of 1 / rank of the first relevant result; 0 when none is in the top k). A result is
// relevant when its citation names a labelled source (the source itself, or source › heading).
import { citesSource } from './citations.ts';
import type { RetrievalQuery } from './eval-suite.ts';

/** Searches a collection and returns its top results, best first, each with its citation text and source. */
export type SearchPassages = (collection: string, query: string, k: number) => Promise<Array<{ source: string; citation: string }>>;

/** How one query did. */
export interface RetrievalQueryResult {
  id: string;
  query: string;
  relevant: string[];
  /** Citation texts of the top k, best first. */
  retrieved: string[];
  /** Relevant sources found in the top k. */
  found: string[];
  recall: number;
  /** 1-based rank of the first relevant result, if any. */
  firstRelevantRank?: number;
  reciprocalRank: number;
}

/** The retrieval part of a suite's report. */
export interface RetrievalReport {
  collection: string;
  k: number;
  recallAtK: number;
  mrr: number;
  queries: RetrievalQueryResult[];
}

/** Scores every labelled query; with no search function (no knowledge base) it throws a clear error. */
export async function evaluateRetrieval(
  spec: { collection: string; k: number; queries: RetrievalQuery[] },
  search: SearchPassages | undefined,
): Promise<RetrievalReport> {
  if (!search) throw new Error(`The suite evaluates retrieval from '${spec.collection}', but no knowledge base is available to search.`);
  const queries: RetrievalQueryResult[] = [];
  for (const labelled of spec.queries) {
    const results = (await search(spec.collection, labelled.query, spec.k)).slice(0, spec.k);
    const isRelevant = (result: { source: string; citation: string }) =>
      labelled.relevant.some((relevant) => result.source === relevant || citesSource(result.citation, relevant));
    const found = labelled.relevant.filter((relevant) =>
      results.some((result) => result.source === relevant || citesSource(result.citation, relevant)),
    );
    const rank = results.findIndex(isRelevant);
    queries.push({
      id: labelled.id,
      query: labelled.query,
      relevant: labelled.relevant,
      retrieved: results.map((result) => result.citation),
      found,
      recall: found.length / labelled.relevant.length,
      ...(rank >= 0 ? { firstRelevantRank: rank + 1 } : {}),
      reciprocalRank: rank >= 0 ? 1 / (rank + 1) : 0,
    });
  }
  const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length);
  return {
    collection: spec.collection,
    k: spec.k,
    recallAtK: mean(queries.map((query) => query.recall)),
    mrr: mean(queries.map((query) => query.reciprocalRank)),
    queries,
  };
}
