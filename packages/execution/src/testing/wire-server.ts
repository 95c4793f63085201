// What the OpenAI and Anthropic wire servers share: a real node:http server on 127.0.0.1 with
// an ephemeral port, the replies it plays, the requests it recorded, and error injection.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A tool call a wire server answers with. */
export interface WireToolCall {
  /** Call id; generated when absent. */
  id?: string;
  /** Tool name. */
  name: string;
  /** Arguments, sent as JSON (streamed in fragments of `chunkSize` characters). */
  args?: Record<string, unknown>;
  /** Raw argument text sent instead of `args`, e.g. to send invalid JSON. */
  rawArguments?: string;
}

/** What a wire server does with one request. */
export type WireReply =
  | {
      /** Answer with text and/or tool calls, streamed when the request asks for it. */
      type: 'answer';
      /** Answer text. */
      text?: string;
      /** Tool calls. */
      toolCalls?: WireToolCall[];
      /** Token usage to report; defaults to characters / 4 of the request and the answer. */
      usage?: { inputTokens?: number; outputTokens?: number };
      /** Finish reason in the protocol's own vocabulary; derived from the answer when absent. */
      finishReason?: string;
      /** Characters per streamed text or argument fragment (default 4). */
      chunkSize?: number;
      /** Wait this long between streamed events, in milliseconds. */
      delayMs?: number;
      /** Cut the connection after this many streamed events, as a network failure would. */
      breakAfterEvents?: number;
    }
  | {
      /** Fail with an HTTP error in the protocol's error format. */
      type: 'error';
      /** HTTP status, e.g. 429, 500, 529. */
      status: number;
      /** Error message. */
      message?: string;
      /** `retry-after` header, in seconds. */
      retryAfterSeconds?: number;
      /** `retry-after-ms` header, in milliseconds. */
      retryAfterMs?: number;
    }
  | {
      /** Never answer (until the client gives up or the server closes), for timeout tests. */
      type: 'hang';
    };

/** A request a wire server received. */
export interface WireRequest {
  /** HTTP method. */
  method: string;
  /** Request path, e.g. `/v1/chat/completions`. */
  path: string;
  /** Request headers, lower-cased names. */
  headers: Record<string, string>;
  /** Parsed JSON body (undefined when there was none or it was not JSON). */
  body: Record<string, unknown> | undefined;
  /** Position of the request, from 0. */
  index: number;
}

/** Decides the reply to each request. */
export type WireHandler = (request: WireRequest) => WireReply | Promise<WireReply>;

/** Options of `startOpenAIWireServer` and `startAnthropicWireServer`. */
export interface WireServerOptions {
  /** Replies played in order, one per request; a request past the end gets a 500 naming the problem. */
  replies?: WireReply[];
  /** Decides each reply; takes precedence over `replies`. Without either, the server echoes the last user message. */
  handler?: WireHandler;
  /**
   * When set, requests must carry this key. A wrong key gets a 401 whose message echoes the key
   * received — deliberately careless, as some servers are, so redaction can be tested.
   */
  apiKey?: string;
}

/** A running wire server. */
export interface WireServer {
  /** The SDK's `baseURL` for this server (OpenAI: ends in `/v1`; Anthropic: without `/v1`). */
  url: string;
  /** Every request received, in order. */
  requests: WireRequest[];
  /** Stops the server, cutting any hanging request. */
  close(): Promise<void>;
}

/** One protocol's half of a wire server. */
export interface WireProtocol {
  /** The one path it serves. */
  path: string;
  /** Suffix of the base URL the SDK expects (`/v1` or ``). */
  baseSuffix: string;
  /** The key a request authenticated with, or undefined. */
  keyOf(request: WireRequest): string | undefined;
  /** Writes an error in the protocol's format. */
  writeError(response: ServerResponse, status: number, message: string, headers?: Record<string, string>): void;
  /** Writes an answer, streamed or whole. */
  writeAnswer(request: WireRequest, reply: Extract<WireReply, { type: 'answer' }>, response: ServerResponse): Promise<void>;
  /** The text of the last user message, for the default echo reply. */
  lastUserText(request: WireRequest): string;
}

/** Starts a wire server for one protocol. */
export async function startWireServer(protocol: WireProtocol, options: WireServerOptions): Promise<WireServer> {
  const requests: WireRequest[] = [];
  const server = createServer((incoming, response) => {
    void handle(incoming, response).catch((error: unknown) => {
      if (!response.headersSent) protocol.writeError(response, 500, `wire server failed: ${(error as Error).message}`);
      else response.destroy();
    });
  });

  async function handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | undefined;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(incoming.headers)) if (typeof value === 'string') headers[name] = value;
    const request: WireRequest = {
      method: incoming.method ?? 'GET',
      path: (incoming.url ?? '/').split('?')[0] ?? '/',
      headers,
      body,
      index: requests.length,
    };
    requests.push(request);

    if (request.method !== 'POST' || request.path !== protocol.path) {
      return protocol.writeError(
        response,
        404,
        `This wire server serves POST ${protocol.path} only, not ${request.method} ${request.path}.`,
      );
    }
    if (options.apiKey !== undefined) {
      const key = protocol.keyOf(request);
      if (key !== options.apiKey) return protocol.writeError(response, 401, `Incorrect API key provided: ${key ?? '(none)'}.`);
    }
    if (!body) return protocol.writeError(response, 400, 'The request body is not JSON.');

    let reply: WireReply;
    if (options.handler) reply = await options.handler(request);
    else if (options.replies) {
      const next = options.replies[request.index];
      if (!next)
        return protocol.writeError(
          response,
          500,
          `The wire server has ${options.replies.length} replies and this is request #${request.index + 1}.`,
        );
      reply = next;
    } else reply = { type: 'answer', text: `You said: ${protocol.lastUserText(request)}` };

    switch (reply.type) {
      case 'hang':
        // Keep the socket open without answering; close() cuts it.
        return;
      case 'error': {
        const extra: Record<string, string> = {};
        if (reply.retryAfterSeconds !== undefined) extra['retry-after'] = String(reply.retryAfterSeconds);
        if (reply.retryAfterMs !== undefined) extra['retry-after-ms'] = String(reply.retryAfterMs);
        return protocol.writeError(response, reply.status, reply.message ?? defaultErrorMessage(reply.status), extra);
      }
      case 'answer':
        return protocol.writeAnswer(request, reply, response);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}${protocol.baseSuffix}`,
    requests,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function defaultErrorMessage(status: number): string {
  if (status === 429) return 'Rate limit exceeded.';
  if (status === 529) return 'Overloaded.';
  if (status >= 500) return 'The server had an error while processing your request.';
  return `Request failed with status ${status}.`;
}

/** Writes one JSON response. */
export function writeJson(response: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

/** Writes server-sent events one by one, with optional delays and an optional cut. */
export async function writeEvents(
  response: ServerResponse,
  events: string[],
  reply: { delayMs?: number; breakAfterEvents?: number },
): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (const [index, event] of events.entries()) {
    if (reply.breakAfterEvents !== undefined && index >= reply.breakAfterEvents) {
      // Let the client read what was sent, then cut the connection without ending the response.
      await new Promise((resolve) => setTimeout(resolve, 20));
      response.socket?.destroy();
      return;
    }
    if (response.destroyed) return;
    await new Promise<void>((resolve) => response.write(event, () => resolve()));
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
  }
  response.end();
}

/** Splits a text into fragments of `size` characters (at least one fragment). */
export function fragments(text: string, size: number): string[] {
  if (text === '') return [];
  const parts: string[] = [];
  for (let start = 0; start < text.length; start += size) parts.push(text.slice(start, start + size));
  return parts;
}

/** Estimates tokens as characters / 4. */
export function roughTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
