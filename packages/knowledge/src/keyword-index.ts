// The keyword half of hybrid search: Okapi BM25 over chunk text, in memory, keyed by the same
// labels as the vector index. Built from the store when a collection is loaded and kept up to
// date by ingest. Exact identifiers ("ERR-4471", "form W-9") that a vector blurs rank first here.
import { terms } from './text-tokens.ts';

/** A scored label. */
export interface KeywordHit {
  label: number;
  score: number;
}

const k1 = 1.2;
const b = 0.75;

/** An Okapi BM25 inverted index. */
export class KeywordIndex {
  private readonly postings = new Map<string, Map<number, number>>();
  private readonly documentTerms = new Map<number, string[]>();
  private readonly lengths = new Map<number, number>();
  private totalLength = 0;

  /** Number of indexed texts. */
  get size(): number {
    return this.lengths.size;
  }

  /** Indexes a text under a label (replacing what the label had). */
  add(label: number, text: string): void {
    if (this.lengths.has(label)) this.remove(label);
    const tokens = terms(text);
    const frequencies = new Map<string, number>();
    for (const token of tokens) frequencies.set(token, (frequencies.get(token) ?? 0) + 1);
    for (const [term, frequency] of frequencies) {
      let posting = this.postings.get(term);
      if (!posting) this.postings.set(term, (posting = new Map()));
      posting.set(label, frequency);
    }
    this.documentTerms.set(label, [...frequencies.keys()]);
    this.lengths.set(label, tokens.length);
    this.totalLength += tokens.length;
  }

  /** Removes a label; unknown labels are ignored. */
  remove(label: number): void {
    const length = this.lengths.get(label);
    if (length === undefined) return;
    for (const term of this.documentTerms.get(label) ?? []) {
      const posting = this.postings.get(term);
      posting?.delete(label);
      if (posting?.size === 0) this.postings.delete(term);
    }
    this.documentTerms.delete(label);
    this.lengths.delete(label);
    this.totalLength -= length;
  }

  /** The best `limit` labels for a query, highest BM25 first; labels failing `accept` are skipped. */
  search(query: string, limit: number, accept?: (label: number) => boolean): KeywordHit[] {
    const count = this.lengths.size;
    if (count === 0 || limit <= 0) return [];
    const averageLength = this.totalLength / count || 1;
    const scores = new Map<number, number>();
    for (const term of new Set(terms(query))) {
      const posting = this.postings.get(term);
      if (!posting) continue;
      const idf = Math.log(1 + (count - posting.size + 0.5) / (posting.size + 0.5));
      for (const [label, frequency] of posting) {
        if (accept && !accept(label)) continue;
        const length = this.lengths.get(label) ?? 0;
        const score = (idf * frequency * (k1 + 1)) / (frequency + k1 * (1 - b + (b * length) / averageLength));
        scores.set(label, (scores.get(label) ?? 0) + score);
      }
    }
    return [...scores]
      .map(([label, score]) => ({ label, score }))
      .sort((left, right) => right.score - left.score || left.label - right.label)
      .slice(0, limit);
  }
}
