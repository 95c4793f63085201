// A local HTTP server that speaks OpenAI's POST /v1/embeddings (float and base64 encodings),
// so the real OpenAI SDK can be tested without the internet. Vectors come from the hashing
// embedder, so equal texts get equal vectors, as from a real model.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hashText } from '../hashing-embedder.ts';

/** A running embeddings server. */
export interface EmbeddingsWireServer {
  /** Base URL to give the SDK, ending in /v1. */
  readonly baseURL: string;
  /** Requests received, in order (method, path, body). */
  readonly requests: Array<{ method: string; path: string; authorization?: string; body: unknown }>;
  /** Makes the next `count` requests fail with this HTTP status. */
  failNext(status: number, count?: number): void;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 at a free port. */
export async function startEmbeddingsWireServer(options: { dimensions?: number; model?: string } = {}): Promise<EmbeddingsWireServer> {
  const defaultDimensions = options.dimensions ?? 64;
  const requests: EmbeddingsWireServer['requests'] = [];
  let failures: Array<number> = [];
  const server: Server = createServer(async (request, response) => {
    const body = await readJson(request).catch(() => undefined);
    requests.push({
      method: request.method ?? '',
      path: request.url ?? '',
      ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
      body,
    });
    const reply = (status: number, value: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(value));
    };
    const failure = failures.shift();
    if (failure !== undefined) return reply(failure, { error: { message: `injected failure ${failure}`, type: 'server_error' } });
    if (request.method !== 'POST' || request.url !== '/v1/embeddings')
      return reply(404, { error: { message: `no route ${request.method} ${request.url}` } });
    const {
      input,
      model,
      dimensions,
      encoding_format: encoding,
    } = (body ?? {}) as { input?: unknown; model?: unknown; dimensions?: unknown; encoding_format?: unknown };
    const texts = typeof input === 'string' ? [input] : Array.isArray(input) ? input : undefined;
    if (!texts || texts.some((text) => typeof text !== 'string' || text.length === 0))
      return reply(400, {
        error: { message: "'input' must be a non-empty string or array of non-empty strings", type: 'invalid_request_error' },
      });
    if (typeof model !== 'string' || (options.model && model !== options.model))
      return reply(404, { error: { message: `model '${String(model)}' not found`, type: 'invalid_request_error' } });
    const size = typeof dimensions === 'number' ? dimensions : defaultDimensions;
    const data = (texts as string[]).map((text, index) => {
      const vector = hashText(text, size);
      const embedding =
        encoding === 'base64' ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') : Array.from(vector);
      return { object: 'embedding', index, embedding };
    });
    const tokens = (texts as string[]).reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
    return reply(200, { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    failNext(status: number, count = 1) {
      failures = [...failures, ...Array.from({ length: count }, () => status)];
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return JSON.parse(Buffer.concat(parts).toString('utf8'));
}
