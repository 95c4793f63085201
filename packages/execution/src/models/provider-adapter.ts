// What the gateway needs from one provider's wire protocol: one attempt of one call. Retries,
// timeouts, fallback, cost and the ledger live in the gateway, the same for every provider.
import type { ModelRequest, ModelUsage, ToolCall } from './model-types.ts';

/** One attempt of one call, as the gateway hands it to a provider adapter. */
export interface ProviderAttempt {
  /** Model name without the provider prefix. */
  model: string;
  /** The caller's request. */
  request: ModelRequest;
  /** Aborts the attempt (the caller's signal and the attempt's timeout combined). */
  signal: AbortSignal;
  /** Streams text fragments when set. */
  onToken?: (text: string) => void;
}

/** What one successful attempt produced. */
export interface ProviderReply {
  /** Answer text. */
  content: string;
  /** Assembled tool calls. */
  toolCalls: ToolCall[];
  /** Token usage as reported (or estimated). */
  usage: ModelUsage;
  /** Normalised finish reason. */
  finishReason: string;
}

/** Speaks one provider's wire protocol. */
export interface ProviderAdapter {
  /** Makes one attempt; failures are thrown as {@link ProviderFailure} where the cause is known. */
  attempt(attempt: ProviderAttempt): Promise<ProviderReply>;
}

/** How an attempt failed, as far as retry and fallback care. */
export type FailureKind = 'status' | 'connection' | 'invalid-response' | 'scripted';

/** A failed attempt, with what the gateway needs to decide on a retry. Messages are redacted later. */
export class ProviderFailure extends Error {
  /** What kind of failure. */
  readonly kind: FailureKind;
  /** HTTP status, for `status` failures. */
  readonly status: number | undefined;
  /** Server-requested delay before a retry, from `retry-after-ms` or `retry-after`. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: FailureKind, message: string, options: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderFailure';
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Reads `retry-after-ms` (OpenAI) or `retry-after` (seconds or an HTTP date) from response headers. */
export function retryAfterFrom(headers: Headers | undefined): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const milliseconds = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Estimates tokens as characters / 4, the usual rule of thumb for English text. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Estimates the input tokens of a request (messages and tool specs). */
export function estimateRequestTokens(request: Pick<ModelRequest, 'messages' | 'tools'>): number {
  let characters = 0;
  for (const message of request.messages) {
    characters += message.content.length;
    for (const call of message.toolCalls ?? []) characters += call.name.length + JSON.stringify(call.args).length;
  }
  for (const tool of request.tools ?? [])
    characters += tool.name.length + (tool.description?.length ?? 0) + JSON.stringify(tool.inputSchema).length;
  return Math.ceil(characters / 4);
}

/** Parses a tool call's JSON arguments; a model that sent invalid JSON is an invalid response. */
export function parseToolArguments(name: string, text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProviderFailure('invalid-response', `the model sent invalid JSON arguments for tool '${name}'`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProviderFailure('invalid-response', `the model sent arguments for tool '${name}' that are not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Strips the SDKs' leading status code ("429 Rate limit ...") from an API error message. */
export function apiErrorDetail(message: string | null | undefined, fallback: string): string {
  const detail = (message ?? '').replace(/^\d{3}\s+/, '').trim();
  return detail === '' ? fallback : detail;
}

const networkCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** True for errors of the network itself, e.g. undici's `TypeError: terminated` when a stream is cut. */
export function isNetworkError(error: unknown): boolean {
  // SDKs wrap the fetch error (Anthropic: an AnthropicError whose cause is undici's TypeError).
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && networkCodes.has(code)) return true;
    if (current instanceof TypeError && (current.message === 'terminated' || current.message === 'fetch failed')) return true;
  }
  return false;
}

const reservedParameters = new Set(['model', 'messages', 'tools', 'system', 'stream', 'stream_options']);

/** A request's extra provider parameters, without those the gateway sets itself (model, messages, streaming...). */
export function passThroughParameters(request: ModelRequest): Record<string, unknown> {
  return Object.fromEntries(Object.entries(request.parameters ?? {}).filter(([key]) => !reservedParameters.has(key)));
}
