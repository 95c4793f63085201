// Finding personal data in a request's texts. A chat app sends the whole conversation again with
// every turn (the system prompt, every earlier message), so most texts the gateway scans it has
// scanned before: a text found clean is remembered, and the next request's copy of it costs one
// lookup instead of every detector's pass over it. Texts with personal data are never remembered
// (their masked form is rebuilt each time), and memory is bounded by the characters kept.
import { maskPii, type MaskResult } from '@aifactory/knowledge/pii-masking';

/** Texts longer than this are scanned every time (a long document is seldom sent twice). */
const maxRememberedLength = 16_384;

/** Masks personal data in texts, remembering the texts found clean. */
export class PiiScanner {
  readonly #clean = new Set<string>();
  readonly #budget: number;
  #characters = 0;

  /** @param budget characters of clean text kept at most (oldest forgotten first). */
  constructor(budget = 1_000_000) {
    this.#budget = budget;
  }

  /** How many clean texts are remembered. */
  get size(): number {
    return this.#clean.size;
  }

  /** `maskPii(text)` with every kind; a text seen clean before is answered from memory. */
  mask(text: string): MaskResult {
    if (this.#clean.has(text)) return { text, counts: {} };
    const result = maskPii(text);
    if (text.length <= maxRememberedLength && result.text === text && Object.keys(result.counts).length === 0) this.#remember(text);
    return result;
  }

  #remember(text: string): void {
    this.#clean.add(text);
    this.#characters += text.length;
    for (const oldest of this.#clean) {
      if (this.#characters <= this.#budget) break;
      this.#clean.delete(oldest);
      this.#characters -= oldest.length;
    }
  }
}
