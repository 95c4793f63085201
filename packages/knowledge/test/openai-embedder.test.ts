import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '@aifactory/store';
import { createKnowledgeBase, createOpenAIEmbedder, embedderFromId } from '../src/index.ts';
import { hashText } from '../src/hashing-embedder.ts';
import { startEmbeddingsWireServer, type EmbeddingsWireServer } from '../src/testing/index.ts';

describe('OpenAI embedder through the official SDK against a local /v1/embeddings server', () => {
  let server: EmbeddingsWireServer;
  beforeAll(async () => {
    server = await startEmbeddingsWireServer({ dimensions: 64, model: 'test-embed' });
  });
  afterAll(async () => {
    await server.close();
  });

  it('embeds in batches, in input order, with the configured key and model', async () => {
    const embedder = createOpenAIEmbedder({
      model: 'test-embed',
      dimensions: 64,
      baseURL: server.baseURL,
      apiKey: 'sk-local',
      batchSize: 2,
    });
    const before = server.requests.length;
    const vectors = await embedder.embed(['alpha', 'beta', 'gamma']);
    expect(vectors.map((vector) => Array.from(vector))).toEqual(['alpha', 'beta', 'gamma'].map((text) => Array.from(hashText(text, 64))));
    const sent = server.requests.slice(before);
    expect(sent.map((request) => (request.body as { input: string[] }).input)).toEqual([['alpha', 'beta'], ['gamma']]);
    expect(sent[0]).toMatchObject({
      method: 'POST',
      path: '/v1/embeddings',
      authorization: 'Bearer sk-local',
      body: { model: 'test-embed', dimensions: 64 },
    });
    expect(embedder.id).toBe('openai:test-embed:64');
  });

  it('retries a failed request as the SDK does, then reports a lasting failure as MODEL_FAILED', async () => {
    const embedder = createOpenAIEmbedder({
      model: 'test-embed',
      dimensions: 64,
      baseURL: server.baseURL,
      apiKey: 'sk-local',
      maxRetries: 1,
    });
    server.failNext(500);
    expect(await embedder.embed(['retried'])).toHaveLength(1);
    server.failNext(500, 2);
    await expect(embedder.embed(['lost'])).rejects.toMatchObject({
      code: 'MODEL_FAILED',
      message: expect.stringMatching(/Embedding request to http:\/\/127\.0\.0\.1:\d+\/v1 with model 'test-embed' failed: 500/),
    });
  });

  it('needs the dimensions of a model it does not know, and a key', () => {
    expect(() => createOpenAIEmbedder({ model: 'mystery', apiKey: 'x' })).toThrow(/does not know the dimensions of model 'mystery'/);
    expect(createOpenAIEmbedder({ model: 'text-embedding-3-small', apiKey: 'x' })).toMatchObject({
      id: 'openai:text-embedding-3-small',
      dimensions: 1536,
    });
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      expect(() => createOpenAIEmbedder({ model: 'text-embedding-3-small' })).toThrow(/needs an API key/);
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
  });

  it('embeds a collection through the SDK; a later search recreates the embedder from the stored model id', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'aifactory-kn-openai-'));
    const store = await openStore();
    try {
      writeFileSync(
        path.join(folder, 'guide.md'),
        '# Onboarding\n\nNew hires get a laptop on day one.\n\n## Badges\n\nBadges are printed at reception.',
      );
      const connection = { baseURL: server.baseURL, apiKey: 'sk-local' };
      const first = createKnowledgeBase(store, {
        dataDir: path.join(folder, 'data'),
        embedder: createOpenAIEmbedder({ model: 'test-embed', dimensions: 64, ...connection }),
      });
      const summary = await first.ingest(folder, { collection: 'remote' });
      expect(summary).toMatchObject({ embeddingModel: 'openai:test-embed:64', added: 1, chunks: { embedded: 2 } });
      await first.close();
      const [info] = await createKnowledgeBase(store, { dataDir: path.join(folder, 'data') }).listCollections();
      const second = createKnowledgeBase(store, {
        dataDir: path.join(folder, 'data'),
        embedder: embedderFromId(info!.embeddingModel, connection),
      });
      const [badges] = await second.search('remote', 'where are badges printed', { topK: 1, mode: 'vector' });
      expect(badges?.citation.location.headingPath).toEqual(['Onboarding', 'Badges']);
      await second.close();
    } finally {
      await store.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
