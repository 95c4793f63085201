// The local default embedder: feature hashing ("the hashing trick") of word unigrams, word
// bigrams and character trigrams into a fixed number of signed buckets, with sublinear term
// frequency weights, L2-normalised. No network, no weights, deterministic across machines.
//
// What it is good for: lexical similarity (shared words, phrases, spellings and word pieces),
// offline demos and tests, and a baseline to compare real models against. What it is not: a
// semantic model. It does not know that "holiday" and "vacation" mean the same thing, and it
// has no notion of word importance across a corpus (hybrid search adds BM25 for that).
import type { Embedder } from './embedder.ts';
import { normalize } from './embedder.ts';
import { stopWords, words } from './text-tokens.ts';

/** Options of the local hashing embedder. */
export interface HashingEmbedderOptions {
  /** Vector length (default 384). */
  dimensions?: number;
}

// Feature weights: whole words matter most; bigrams reward shared phrases; character trigrams
// give partial credit for inflections and typos ("policies" ~ "policy").
const unigramWeight = 1;
const bigramWeight = 0.7;
const trigramWeight = 0.35;

/** Creates the local feature-hashing embedder (id `local:hashing-v1-<dimensions>`). */
export function createHashingEmbedder(options: HashingEmbedderOptions = {}): Embedder {
  const dimensions = options.dimensions ?? 384;
  if (!Number.isInteger(dimensions) || dimensions < 8 || dimensions > 65_536) {
    throw new RangeError(`Hashing embedder dimensions must be an integer from 8 to 65536; got ${dimensions}.`);
  }
  return {
    id: `local:hashing-v1-${dimensions}`,
    dimensions,
    embed(texts: string[]) {
      return Promise.resolve(texts.map((text) => hashText(text, dimensions)));
    },
  };
}

/** Embeds one text synchronously (exported for benchmarks and tests). */
export function hashText(text: string, dimensions: number): Float32Array {
  const counts = new Map<string, number>();
  const add = (feature: string) => counts.set(feature, (counts.get(feature) ?? 0) + 1);
  const tokens = words(text);
  for (let position = 0; position < tokens.length; position++) {
    const word = tokens[position]!;
    const next = tokens[position + 1];
    const stop = stopWords.has(word);
    if (next !== undefined && !(stop && stopWords.has(next))) add(`b:${word} ${next}`);
    if (stop) continue;
    add(`w:${word}`);
    const padded = `^${word}$`;
    if (padded.length > 3) for (let start = 0; start + 3 <= padded.length; start++) add(`c:${padded.slice(start, start + 3)}`);
  }
  const vector = new Float32Array(dimensions);
  for (const [feature, count] of counts) {
    const hash = fnv1a(feature);
    // Sublinear TF: a word said ten times is not ten times as relevant. The sign bit spreads
    // collisions around zero, so they cancel instead of piling up.
    const weight = featureWeight(feature) * (1 + Math.log(count));
    vector[hash % dimensions]! += hash & 0x8000_0000 ? -weight : weight;
  }
  return normalize(vector);
}

function featureWeight(feature: string): number {
  if (feature.startsWith('w:')) return unigramWeight;
  return feature.startsWith('b:') ? bigramWeight : trigramWeight;
}

// FNV-1a 32-bit over UTF-16 code units, then a final avalanche so low bits (the bucket) depend on every input bit.
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let position = 0; position < text.length; position++) {
    hash ^= text.charCodeAt(position);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
