import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { createHashingEmbedder } from '../src/index.ts';
import { hashText } from '../src/hashing-embedder.ts';
import { VectorIndex } from '../src/vector-index.ts';
import { temporaryFolder } from './helpers.ts';

const settings = { m: 16, efConstruction: 100, efSearch: 50 };

function randomUnit(dimensions: number, seed: number): Float32Array {
  let state = (seed * 2654435761) >>> 0;
  const vector = new Float32Array(dimensions);
  for (let position = 0; position < dimensions; position++) {
    state = (Math.imul(state ^ (state >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    vector[position] = state / 2 ** 32 - 0.5;
  }
  return vector;
}

describe('VectorIndex', () => {
  it('grows past its initial capacity and finds every vector it holds', async () => {
    const index = await VectorIndex.create(16, settings, 16);
    for (let label = 0; label < 100; label++) index.add(label, randomUnit(16, label + 1));
    expect(index.size).toBe(100);
    for (const label of [0, 42, 99]) expect(index.search(randomUnit(16, label + 1), 1)[0]).toMatchObject({ label });
    expect(index.search(randomUnit(16, 43), 1)[0]?.similarity).toBeCloseTo(1, 5);
  });

  it('never returns deleted or filtered labels, and asks for no more than it holds', async () => {
    const index = await VectorIndex.create(8, settings);
    for (let label = 0; label < 10; label++) index.add(label, randomUnit(8, label + 1));
    index.remove(3);
    index.remove(3);
    expect(index.search(randomUnit(8, 4), 20).map((hit) => hit.label)).not.toContain(3);
    expect(index.search(randomUnit(8, 4), 20)).toHaveLength(9);
    expect(index.search(randomUnit(8, 1), 5, (label) => label % 2 === 1).every((hit) => hit.label % 2 === 1)).toBe(true);
  });

  it('reads its file back and reconciles it with the live labels', async () => {
    const folder = temporaryFolder();
    try {
      const file = path.join(folder.path, 'x.hnsw');
      const index = await VectorIndex.create(8, settings);
      for (let label = 0; label < 5; label++) index.add(label, randomUnit(8, label + 1));
      await index.write(file);
      const { index: read, missing } = await VectorIndex.read(file, 8, settings, [0, 1, 2, 7]);
      expect(missing).toEqual([7]);
      expect(read.size).toBe(3);
      expect(
        read
          .search(randomUnit(8, 4), 5)
          .map((hit) => hit.label)
          .sort(),
      ).toEqual([0, 1, 2]);
    } finally {
      folder.remove();
    }
  });
});

describe('hashing embedder', () => {
  it('is deterministic, unit length, and scores shared words and word pieces above unrelated text', async () => {
    const embedder = createHashingEmbedder();
    const [policy, policies, weather] = await embedder.embed([
      'The travel policy for trains',
      'travel policies about trains',
      'sunny weather tomorrow',
    ]);
    const dot = (left: Float32Array, right: Float32Array) => left.reduce((sum, value, position) => sum + value * right[position]!, 0);
    expect(Array.from(policy!)).toEqual(Array.from(hashText('The travel policy for trains', 384)));
    expect(dot(policy!, policy!)).toBeCloseTo(1, 5);
    expect(dot(policy!, policies!)).toBeGreaterThan(0.5);
    expect(dot(policy!, weather!)).toBeLessThan(0.2);
    expect(embedder.id).toBe('local:hashing-v1-384');
  });
});

describe('keyword index', () => {
  it('ranks by BM25 (rare terms weigh more), keeps the best `limit`, and forgets removed labels', async () => {
    const { KeywordIndex } = await import('../src/keyword-index.ts');
    const index = new KeywordIndex();
    for (let label = 0; label < 200; label++) index.add(label, `refund policy order number ${label}`);
    index.add(500, 'refund policy order ZX-99812 held at customs');
    expect(index.search('refund ZX-99812', 3).map((hit) => hit.label)).toEqual([500, 0, 1]);
    const top = index.search('refund policy', 10);
    expect(top).toHaveLength(10);
    expect(top.every((hit, position) => position === 0 || hit.score <= top[position - 1]!.score)).toBe(true);
    expect(index.search('refund', 5, (label) => label % 2 === 1).every((hit) => hit.label % 2 === 1)).toBe(true);
    index.remove(500);
    expect(index.search('zx', 5)).toEqual([]);
    expect(index.size).toBe(200);
  });
});
