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
  // Per-label token counts in a plain array: labels are small dense integers, and search reads
  // one per posting, so an array beats a Map lookup on the hot path.
  private readonly lengths: number[] = [];
  private count = 0;
  private totalLength = 0;
  // Score accumulator reused across searches (indexed by label), with the labels it touched.
  private scratch = new Float64Array(0);

  /** Number of indexed texts. */
  get size(): number {
    return this.count;
  }

  /** Indexes a text under a label (replacing what the label had). */
  add(label: number, text: string): void {
    if (this.lengths[label] !== undefined) this.remove(label);
    const tokens = terms(text);
    const frequencies = new Map<string, number>();
    for (const token of tokens) frequencies.set(token, (frequencies.get(token) ?? 0) + 1);
    for (const [term, frequency] of frequencies) {
      let posting = this.postings.get(term);
      if (!posting) this.postings.set(term, (posting = new Map()));
      posting.set(label, frequency);
    }
    this.documentTerms.set(label, [...frequencies.keys()]);
    this.lengths[label] = tokens.length;
    this.count++;
    this.totalLength += tokens.length;
  }

  /** Removes a label; unknown labels are ignored. */
  remove(label: number): void {
    const length = this.lengths[label];
    if (length === undefined) return;
    for (const term of this.documentTerms.get(label) ?? []) {
      const posting = this.postings.get(term);
      posting?.delete(label);
      if (posting?.size === 0) this.postings.delete(term);
    }
    this.documentTerms.delete(label);
    delete this.lengths[label];
    this.count--;
    this.totalLength -= length;
  }

  /** The best `limit` labels for a query, highest BM25 first; labels failing `accept` are skipped. */
  search(query: string, limit: number, accept?: (label: number) => boolean): KeywordHit[] {
    if (this.count === 0 || limit <= 0) return [];
    const averageLength = this.totalLength / this.count || 1;
    if (this.scratch.length < this.lengths.length) this.scratch = new Float64Array(Math.max(this.lengths.length, this.scratch.length * 2));
    const scratch = this.scratch;
    const lengths = this.lengths;
    const touched: number[] = [];
    for (const term of new Set(terms(query))) {
      const posting = this.postings.get(term);
      if (!posting) continue;
      const idf = Math.log(1 + (this.count - posting.size + 0.5) / (posting.size + 0.5));
      posting.forEach((frequency, label) => {
        const score = (idf * frequency * (k1 + 1)) / (frequency + k1 * (1 - b + (b * lengths[label]!) / averageLength));
        if (scratch[label] === 0) touched.push(label);
        scratch[label]! += score;
      });
    }
    // The top `limit` are picked with a bounded heap instead of sorting every scored label
    // (common words can score most of the collection).
    const heap: KeywordHit[] = [];
    for (const label of touched) {
      const score = scratch[label]!;
      scratch[label] = 0;
      if (heap.length === limit && !better({ label, score }, heap[0]!)) continue;
      if (accept && !accept(label)) continue;
      if (heap.length < limit) heapPush(heap, { label, score });
      else heapReplaceTop(heap, { label, score });
    }
    return heap.sort((left, right) => (better(left, right) ? -1 : 1));
  }
}

/** Ranking order: higher score first, then lower label (deterministic ties). */
function better(left: KeywordHit, right: KeywordHit): boolean {
  return left.score > right.score || (left.score === right.score && left.label < right.label);
}

// A min-heap by `better`: the root is the worst of the kept hits.
function heapPush(heap: KeywordHit[], hit: KeywordHit): void {
  heap.push(hit);
  let position = heap.length - 1;
  while (position > 0) {
    const parent = (position - 1) >> 1;
    if (!better(heap[parent]!, heap[position]!)) break;
    [heap[parent], heap[position]] = [heap[position]!, heap[parent]!];
    position = parent;
  }
}

function heapReplaceTop(heap: KeywordHit[], hit: KeywordHit): void {
  heap[0] = hit;
  let position = 0;
  for (;;) {
    const left = position * 2 + 1;
    const right = left + 1;
    let worst = position;
    if (left < heap.length && better(heap[worst]!, heap[left]!)) worst = left;
    if (right < heap.length && better(heap[worst]!, heap[right]!)) worst = right;
    if (worst === position) return;
    [heap[worst], heap[position]] = [heap[position]!, heap[worst]!];
    position = worst;
  }
}
