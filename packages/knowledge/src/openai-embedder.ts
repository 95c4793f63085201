// Embeddings from OpenAI, or any server that speaks its /v1/embeddings (vLLM, Ollama, LiteLLM),
// through the official SDK.
import { ErrorCode, SystemError, UserError } from '@aifactory/core';
import type OpenAI from 'openai';
import type { Embedder } from './embedder.ts';

/** Options of the OpenAI embedder. */
export interface OpenAIEmbedderOptions {
  /** Model name, e.g. `text-embedding-3-small`. */
  model: string;
  /** API key; defaults to OPENAI_API_KEY. Local servers accept any value. */
  apiKey?: string;
  /** Base URL of an OpenAI-compatible server, e.g. `http://127.0.0.1:11434/v1`. */
  baseURL?: string;
  /** Vector length: required for models this package does not know; passed to the API for text-embedding-3 models. */
  dimensions?: number;
  /** Texts per request (default 256; the API accepts up to 2048). */
  batchSize?: number;
  /** Retries of failed requests, as the SDK does them (default 2). */
  maxRetries?: number;
  /** Request timeout in milliseconds (default 60000). */
  timeoutMs?: number;
  /** Model id stored with collections (default `openai:<model>`, plus `:<dimensions>` when shortened). */
  id?: string;
}

const knownDimensions: Record<string, number> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

/** Creates an embedder backed by the OpenAI embeddings API. */
export function createOpenAIEmbedder(options: OpenAIEmbedderOptions): Embedder {
  const model = options.model?.trim();
  if (!model) throw new UserError(ErrorCode.InputInvalid, 'OpenAI embedder needs a model name, e.g. text-embedding-3-small.');
  const known = Object.hasOwn(knownDimensions, model) ? knownDimensions[model] : undefined;
  const dimensions = options.dimensions ?? known;
  if (dimensions === undefined || !Number.isInteger(dimensions) || dimensions <= 0) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `OpenAI embedder does not know the dimensions of model '${model}'; pass dimensions (known models: ${Object.keys(knownDimensions).join(', ')}).`,
    );
  }
  const shortened = options.dimensions !== undefined && options.dimensions !== known;
  const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
  if (!apiKey)
    throw new UserError(
      ErrorCode.InputInvalid,
      'OpenAI embedder needs an API key: set OPENAI_API_KEY or pass apiKey (local servers accept any value).',
    );
  // The SDK is loaded on the first embedding, not with this module: every process that opens a
  // workspace imports the knowledge package, and most never embed remotely (a worker's start is
  // measured in SIGKILL recoveries; the SDK is a few hundred modules).
  let client: Promise<OpenAI> | undefined;
  const connect = () =>
    (client ??= import('openai').then(
      ({ default: Client }) =>
        new Client({
          apiKey,
          ...(options.baseURL ? { baseURL: options.baseURL } : {}),
          maxRetries: options.maxRetries ?? 2,
          timeout: options.timeoutMs ?? 60_000,
        }),
    ));
  const batchSize = Math.min(Math.max(1, options.batchSize ?? 256), 2048);
  const id = options.id ?? `openai:${model}${shortened ? `:${dimensions}` : ''}`;
  const where = options.baseURL ?? 'the OpenAI API';

  return {
    id,
    dimensions,
    async embed(texts: string[]) {
      const vectors: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        // The API rejects empty strings; a single space embeds to a neutral vector.
        const input = texts.slice(start, start + batchSize).map((text) => (text.length === 0 ? ' ' : text));
        let response: OpenAI.Embeddings.CreateEmbeddingResponse;
        try {
          response = await (await connect()).embeddings.create({ model, input, ...(shortened ? { dimensions } : {}) });
        } catch (error) {
          throw new SystemError(
            ErrorCode.ModelFailed,
            `Embedding request to ${where} with model '${model}' failed: ${(error as Error).message}`,
            { cause: error },
          );
        }
        const data = [...response.data].sort((left, right) => left.index - right.index);
        if (data.length !== input.length) {
          throw new SystemError(
            ErrorCode.ModelFailed,
            `Embedding response from ${where} had ${data.length} vectors for ${input.length} inputs.`,
          );
        }
        for (const item of data) vectors.push(Float32Array.from(item.embedding));
      }
      return vectors;
    },
  };
}
