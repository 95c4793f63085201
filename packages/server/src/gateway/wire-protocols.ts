// The two wire protocols the gateway speaks, each on both sides (the app's SDK in front, the
// provider behind): OpenAI Chat Completions and Anthropic Messages. The gateway passes requests
// and answers through in the provider's own format; what it needs to know of them is here — the
// texts a policy reads and a masking obligation rewrites, the tools offered, the usage and answer
// of a whole response or of a stream (read event by event as it passes), and the error shape an
// SDK understands.
import type { GatewayProvider, GatewayWire } from './gateway-config.ts';

/** Token counts a provider reported. */
export interface WireUsage {
  inputTokens: number;
  outputTokens: number;
}

/** What an answer said, for the trace. */
export interface WireOutcome {
  /** The answer's text. */
  content: string;
  /** Tool calls, arguments as the raw JSON text the model produced. */
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  /** The provider's own stop reason. */
  finishReason: string | null;
  /** Usage, when the provider reported it. */
  usage?: WireUsage;
  /** An error the provider sent inside a stream. */
  streamError?: string;
}

/** Reads a stream's events as they pass and says which of them the app gets. */
export interface StreamReader {
  /** Takes one event's data (the text after `data:`) and name; false drops the event from what the app receives. */
  event(data: string, name: string | undefined): boolean;
  /** What the stream said so far. */
  outcome(): WireOutcome;
}

/** Why the gateway itself answers with an error. */
export type GatewayErrorKind =
  'invalid_request' | 'authentication' | 'permission' | 'not_found' | 'rate_limit' | 'budget' | 'upstream' | 'internal';

/** One wire protocol, app side and provider side. */
export interface WireProtocol {
  readonly wire: GatewayWire;
  /** The endpoint, as recorded (`openai.chat.completions`). */
  readonly endpoint: string;
  /** Where a request goes upstream. */
  upstreamUrl(provider: GatewayProvider): string;
  /** Headers sent upstream: the provider's credentials, never the app's. */
  upstreamHeaders(provider: GatewayProvider, incoming: Headers): Record<string, string>;
  /** A problem with the request body's shape, or undefined. */
  problem(body: Record<string, unknown>): string | undefined;
  /** The body with every text a person or tool wrote (prompts, tool results, tool arguments) passed through `rewrite`. */
  mapTexts(body: Record<string, unknown>, rewrite: (text: string) => string): Record<string, unknown>;
  /** Names of the tools offered. */
  toolNames(body: Record<string, unknown>): string[];
  /** The body sent upstream for `model`; `dropUsage` when the gateway asked for stream usage the app did not. */
  upstreamBody(body: Record<string, unknown>, model: string): { body: Record<string, unknown>; dropUsage: boolean };
  /** What a whole (non-streamed) response said. */
  outcomeOf(response: unknown): WireOutcome;
  /** A reader for one streamed response. */
  streamReader(dropUsage: boolean): StreamReader;
  /** The error body and status an SDK of this protocol understands. */
  error(kind: GatewayErrorKind, message: string, code?: string, extra?: Record<string, unknown>): { status: number; body: unknown };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const textOf = (value: unknown) => (typeof value === 'string' ? value : '');

/** Rewrites every string inside a JSON value (tool arguments given as objects). */
function mapStrings(value: unknown, rewrite: (text: string) => string): unknown {
  if (typeof value === 'string') return rewrite(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, rewrite));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapStrings(item, rewrite)]));
  return value;
}

const statusOf: Record<GatewayErrorKind, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  rate_limit: 429,
  budget: 429,
  upstream: 502,
  internal: 500,
};

// ------------------------------------------------------------------------------------ OpenAI

const openAIErrorTypes: Record<GatewayErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'invalid_request_error',
  permission: 'permission_denied',
  not_found: 'invalid_request_error',
  rate_limit: 'rate_limit_exceeded',
  budget: 'insufficient_quota',
  upstream: 'server_error',
  internal: 'server_error',
};

/** OpenAI Chat Completions (`POST /v1/chat/completions`). */
export const openAIWire: WireProtocol = {
  wire: 'openai',
  endpoint: 'openai.chat.completions',
  upstreamUrl: (provider) => `${provider.baseURL}/chat/completions`,
  upstreamHeaders(provider, incoming) {
    return {
      'content-type': 'application/json',
      accept: incoming.get('accept') ?? 'application/json',
      ...provider.headers,
      ...(provider.apiKey ? { authorization: `Bearer ${provider.apiKey}` } : {}),
    };
  },
  problem(body) {
    if (typeof body.model !== 'string' || body.model.length === 0) return "The request needs a 'model', e.g. gpt-4o-mini.";
    if (!Array.isArray(body.messages) || body.messages.length === 0) return "The request needs 'messages', a non-empty array.";
    if (!body.messages.every(isObject)) return "Every item of 'messages' must be an object.";
    return undefined;
  },
  mapTexts(body, rewrite) {
    const messages = (body.messages as Array<Record<string, unknown>>).map((message) => {
      const copy: Record<string, unknown> = { ...message };
      if (typeof message.content === 'string') copy.content = rewrite(message.content);
      else if (Array.isArray(message.content))
        copy.content = message.content.map((part) =>
          isObject(part) && typeof part.text === 'string' ? { ...part, text: rewrite(part.text) } : part,
        );
      if (Array.isArray(message.tool_calls)) {
        copy.tool_calls = message.tool_calls.map((call) =>
          isObject(call) && isObject(call.function) && typeof call.function.arguments === 'string'
            ? { ...call, function: { ...call.function, arguments: rewrite(call.function.arguments) } }
            : call,
        );
      }
      return copy;
    });
    return { ...body, messages };
  },
  toolNames(body) {
    return Array.isArray(body.tools)
      ? body.tools.flatMap((tool) =>
          isObject(tool) && isObject(tool.function) && typeof tool.function.name === 'string' ? [tool.function.name] : [],
        )
      : [];
  },
  upstreamBody(body, model) {
    const upstream: Record<string, unknown> = { ...body, model };
    if (body.stream !== true) return { body: upstream, dropUsage: false };
    // Usage is what the trace and the budgets need: ask for it, and keep it from an app that did not.
    const options = isObject(body.stream_options) ? body.stream_options : {};
    const asked = options.include_usage === true;
    upstream.stream_options = { ...options, include_usage: true };
    return { body: upstream, dropUsage: !asked };
  },
  outcomeOf(response) {
    const choice = isObject(response) && Array.isArray(response.choices) && isObject(response.choices[0]) ? response.choices[0] : {};
    const message = isObject(choice.message) ? choice.message : {};
    const usage = isObject(response) && isObject(response.usage) ? response.usage : undefined;
    return {
      content: textOf(message.content),
      toolCalls: Array.isArray(message.tool_calls)
        ? message.tool_calls.flatMap((call) =>
            isObject(call) && isObject(call.function)
              ? [{ id: textOf(call.id), name: textOf(call.function.name), arguments: textOf(call.function.arguments) }]
              : [],
          )
        : [],
      finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
      ...(usage ? { usage: { inputTokens: Number(usage.prompt_tokens ?? 0), outputTokens: Number(usage.completion_tokens ?? 0) } } : {}),
    };
  },
  streamReader(dropUsage) {
    let content = '';
    let finishReason: string | null = null;
    let usage: WireUsage | undefined;
    let streamError: string | undefined;
    const calls: Array<{ id: string; name: string; arguments: string }> = [];
    return {
      event(data) {
        if (data === '[DONE]') return true;
        let chunk: unknown;
        try {
          chunk = JSON.parse(data);
        } catch {
          return true;
        }
        if (!isObject(chunk)) return true;
        if (isObject(chunk.error)) streamError = textOf(chunk.error.message) || 'error event in the stream';
        const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
        for (const choice of choices) {
          if (!isObject(choice)) continue;
          if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
          const delta = isObject(choice.delta) ? choice.delta : {};
          if (typeof delta.content === 'string') content += delta.content;
          if (Array.isArray(delta.tool_calls)) {
            for (const part of delta.tool_calls) {
              if (!isObject(part)) continue;
              const index = typeof part.index === 'number' && part.index >= 0 && part.index < 128 ? part.index : calls.length;
              const call = (calls[index] ??= { id: '', name: '', arguments: '' });
              if (typeof part.id === 'string') call.id = part.id;
              const fn = isObject(part.function) ? part.function : {};
              if (typeof fn.name === 'string') call.name += fn.name;
              if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
            }
          }
        }
        if (isObject(chunk.usage)) {
          usage = { inputTokens: Number(chunk.usage.prompt_tokens ?? 0), outputTokens: Number(chunk.usage.completion_tokens ?? 0) };
          // The usage-only chunk the gateway asked for on its own account is not the app's.
          if (dropUsage && choices.length === 0) return false;
        }
        return true;
      },
      outcome: () => ({
        content,
        toolCalls: calls.filter(Boolean),
        finishReason,
        ...(usage ? { usage } : {}),
        ...(streamError ? { streamError } : {}),
      }),
    };
  },
  error(kind, message, code, extra) {
    return {
      status: statusOf[kind],
      body: {
        error: {
          message,
          type: openAIErrorTypes[kind],
          param: null,
          code: code ?? (kind === 'authentication' ? 'invalid_api_key' : kind === 'budget' ? 'insufficient_quota' : null),
          ...extra,
        },
      },
    };
  },
};

// --------------------------------------------------------------------------------- Anthropic

const anthropicErrorTypes: Record<GatewayErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  rate_limit: 'rate_limit_error',
  budget: 'rate_limit_error',
  upstream: 'api_error',
  internal: 'api_error',
};

/** The Anthropic API version sent upstream when the app names none. */
export const anthropicVersion = '2023-06-01';

/** Anthropic Messages (`POST /v1/messages`). */
export const anthropicWire: WireProtocol = {
  wire: 'anthropic',
  endpoint: 'anthropic.messages',
  upstreamUrl: (provider) => `${provider.baseURL}/v1/messages`,
  upstreamHeaders(provider, incoming) {
    const beta = incoming.get('anthropic-beta');
    return {
      'content-type': 'application/json',
      accept: incoming.get('accept') ?? 'application/json',
      'anthropic-version': incoming.get('anthropic-version') ?? anthropicVersion,
      ...(beta ? { 'anthropic-beta': beta } : {}),
      ...provider.headers,
      ...(provider.apiKey ? { 'x-api-key': provider.apiKey } : {}),
    };
  },
  problem(body) {
    if (typeof body.model !== 'string' || body.model.length === 0) return "The request needs a 'model', e.g. claude-haiku-4-5.";
    if (!Array.isArray(body.messages) || body.messages.length === 0) return "The request needs 'messages', a non-empty array.";
    if (!body.messages.every(isObject)) return "Every item of 'messages' must be an object.";
    if (typeof body.max_tokens !== 'number') return "The request needs 'max_tokens', a number.";
    return undefined;
  },
  mapTexts(body, rewrite) {
    const block = (item: unknown): unknown => {
      if (!isObject(item)) return item;
      if (item.type === 'text' && typeof item.text === 'string') return { ...item, text: rewrite(item.text) };
      if (item.type === 'tool_result')
        return {
          ...item,
          content:
            typeof item.content === 'string' ? rewrite(item.content) : Array.isArray(item.content) ? item.content.map(block) : item.content,
        };
      if (item.type === 'tool_use') return { ...item, input: mapStrings(item.input, rewrite) };
      return item;
    };
    const copy: Record<string, unknown> = { ...body };
    if (typeof body.system === 'string') copy.system = rewrite(body.system);
    else if (Array.isArray(body.system)) copy.system = body.system.map(block);
    copy.messages = (body.messages as Array<Record<string, unknown>>).map((message) => ({
      ...message,
      content:
        typeof message.content === 'string'
          ? rewrite(message.content)
          : Array.isArray(message.content)
            ? message.content.map(block)
            : message.content,
    }));
    return copy;
  },
  toolNames(body) {
    return Array.isArray(body.tools)
      ? body.tools.flatMap((tool) => (isObject(tool) && typeof tool.name === 'string' ? [tool.name] : []))
      : [];
  },
  upstreamBody(body, model) {
    return { body: { ...body, model }, dropUsage: false };
  },
  outcomeOf(response) {
    const message = isObject(response) ? response : {};
    const blocks = Array.isArray(message.content) ? message.content.filter(isObject) : [];
    return {
      content: blocks.map((item) => (item.type === 'text' ? textOf(item.text) : '')).join(''),
      toolCalls: blocks
        .filter((item) => item.type === 'tool_use')
        .map((item) => ({ id: textOf(item.id), name: textOf(item.name), arguments: JSON.stringify(item.input ?? {}) })),
      finishReason: typeof message.stop_reason === 'string' ? message.stop_reason : null,
      ...(isObject(message.usage) ? { usage: anthropicUsage(message.usage) } : {}),
    };
  },
  streamReader() {
    let content = '';
    let finishReason: string | null = null;
    let inputTokens: number | undefined;
    let outputTokens: number | undefined;
    let streamError: string | undefined;
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    return {
      event(data) {
        let event: unknown;
        try {
          event = JSON.parse(data);
        } catch {
          return true;
        }
        if (!isObject(event)) return true;
        switch (event.type) {
          case 'message_start':
            if (isObject(event.message) && isObject(event.message.usage)) {
              const usage = anthropicUsage(event.message.usage);
              inputTokens = usage.inputTokens;
              outputTokens = usage.outputTokens;
            }
            break;
          case 'content_block_start':
            if (isObject(event.content_block) && event.content_block.type === 'tool_use' && typeof event.index === 'number') {
              calls.set(event.index, { id: textOf(event.content_block.id), name: textOf(event.content_block.name), arguments: '' });
            }
            break;
          case 'content_block_delta':
            if (isObject(event.delta)) {
              if (event.delta.type === 'text_delta') content += textOf(event.delta.text);
              else if (event.delta.type === 'input_json_delta' && typeof event.index === 'number') {
                const call = calls.get(event.index);
                if (call) call.arguments += textOf(event.delta.partial_json);
              }
            }
            break;
          case 'message_delta':
            if (isObject(event.delta) && typeof event.delta.stop_reason === 'string') finishReason = event.delta.stop_reason;
            if (isObject(event.usage) && typeof event.usage.output_tokens === 'number') outputTokens = event.usage.output_tokens;
            if (isObject(event.usage) && typeof event.usage.input_tokens === 'number')
              inputTokens = anthropicUsage(event.usage).inputTokens;
            break;
          case 'error':
            streamError = isObject(event.error) ? textOf(event.error.message) || 'error event in the stream' : 'error event in the stream';
            break;
        }
        return true;
      },
      outcome: () => ({
        content,
        toolCalls: [...calls.entries()]
          .sort(([left], [right]) => left - right)
          .map(([, call]) => ({ ...call, arguments: call.arguments || '{}' })),
        finishReason,
        ...(inputTokens !== undefined || outputTokens !== undefined
          ? { usage: { inputTokens: inputTokens ?? 0, outputTokens: outputTokens ?? 0 } }
          : {}),
        ...(streamError ? { streamError } : {}),
      }),
    };
  },
  error(kind, message, code, extra) {
    return {
      status: statusOf[kind],
      body: { type: 'error', error: { type: anthropicErrorTypes[kind], message, ...(code ? { code } : {}), ...extra } },
    };
  },
};

/** Anthropic input tokens include cache reads and writes, as the execution gateway counts them. */
function anthropicUsage(usage: Record<string, unknown>): WireUsage {
  const count = (key: string) => (typeof usage[key] === 'number' ? (usage[key] as number) : 0);
  return {
    inputTokens: count('input_tokens') + count('cache_creation_input_tokens') + count('cache_read_input_tokens'),
    outputTokens: count('output_tokens'),
  };
}

/** The protocol of a wire. */
export function wireProtocol(wire: GatewayWire): WireProtocol {
  return wire === 'openai' ? openAIWire : anthropicWire;
}
