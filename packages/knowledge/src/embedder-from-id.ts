// Recreates an embedder from the model id a collection stores, so commands that only know a
// collection's name (search, rebuild) embed queries with the model its vectors came from.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Embedder } from './embedder.ts';
import { createHashingEmbedder } from './hashing-embedder.ts';
import { createOpenAIEmbedder } from './openai-embedder.ts';

/** Connection settings for remote embedders. */
export interface EmbedderConnection {
  /** API key (default OPENAI_API_KEY). */
  apiKey?: string;
  /** Base URL of an OpenAI-compatible server (default OPENAI_BASE_URL). */
  baseURL?: string;
}

/**
 * The embedder for a model id: `local` or `local:hashing-v1-<dimensions>` (the offline
 * default), `openai:<model>` or `openai:<model>:<dimensions>`.
 */
export function embedderFromId(id: string, connection: EmbedderConnection = {}, env: NodeJS.ProcessEnv = process.env): Embedder {
  const trimmed = id.trim();
  if (trimmed === 'local') return createHashingEmbedder();
  const local = /^local:hashing-v1-(\d+)$/.exec(trimmed);
  if (local) return createHashingEmbedder({ dimensions: Number(local[1]) });
  const openai = /^openai:([^:]+)(?::(\d+))?$/.exec(trimmed);
  if (openai) {
    const baseURL = connection.baseURL ?? env.OPENAI_BASE_URL;
    const apiKey = connection.apiKey ?? env.OPENAI_API_KEY;
    return createOpenAIEmbedder({
      model: openai[1]!,
      ...(openai[2] ? { dimensions: Number(openai[2]) } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(baseURL ? { baseURL } : {}),
    });
  }
  throw new UserError(
    ErrorCode.InputInvalid,
    `Embedding model '${id}' is unknown; use local, local:hashing-v1-<dimensions>, openai:<model> or openai:<model>:<dimensions>.`,
  );
}
