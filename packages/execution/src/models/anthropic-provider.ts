// Anthropic Messages through the official `@anthropic-ai/sdk`.
import Anthropic from '@anthropic-ai/sdk';
import type { ChatMessage, ModelRequest, ModelUsage, ToolCall } from './model-types.ts';
import type { ProviderAdapter, ProviderAttempt, ProviderReply } from './provider-adapter.ts';
import { ProviderFailure, apiErrorDetail, isNetworkError, passThroughParameters, retryAfterFrom } from './provider-adapter.ts';

type MessageParam = Anthropic.Messages.MessageParam;
type ContentBlockParam = Anthropic.Messages.ContentBlockParam;
type CreateParams = Anthropic.Messages.MessageCreateParamsNonStreaming;
type Message = Anthropic.Messages.Message;

/** Connection settings of an Anthropic provider. */
export interface AnthropicAdapterOptions {
  /** API key. */
  apiKey: string;
  /** Base URL without `/v1`. */
  baseURL: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** `max_tokens` when the request sets none (the Messages API requires one). */
  defaultMaxTokens: number;
}

/** Creates the adapter for one Anthropic provider. */
export function createAnthropicAdapter(options: AnthropicAdapterOptions): ProviderAdapter {
  const client = new Anthropic({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    // The gateway retries and times out itself (see the OpenAI adapter); the SDK does neither.
    maxRetries: 0,
    timeout: 24 * 60 * 60 * 1000,
    logLevel: 'off',
    ...(options.headers ? { defaultHeaders: options.headers } : {}),
  });

  return {
    async attempt(attempt: ProviderAttempt): Promise<ProviderReply> {
      const body = toCreateParams(attempt.model, attempt.request, options.defaultMaxTokens);
      try {
        let message: Message;
        if (attempt.onToken) {
          const onToken = attempt.onToken;
          const stream = client.messages.stream(body, { signal: attempt.signal });
          stream.on('text', (delta) => onToken(delta));
          message = await stream.finalMessage();
        } else {
          message = await client.messages.create(body, { signal: attempt.signal });
        }
        // Never let an aborted (timed-out) stream pass as a whole answer.
        attempt.signal.throwIfAborted();
        return fromMessage(message);
      } catch (error) {
        throw toFailure(error);
      }
    },
  };
}

function toCreateParams(model: string, request: ModelRequest, defaultMaxTokens: number): CreateParams {
  const system = request.messages
    .filter((message) => message.role === 'system')
    .map((message) => message.content)
    .join('\n\n');
  const messages: MessageParam[] = [];
  for (const message of request.messages) {
    if (message.role === 'system') continue;
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const blocks = toBlocks(message);
    if (blocks.length === 0) continue;
    // The Messages API wants roles to alternate and all results of one turn's tool calls in
    // one user message, so consecutive same-role messages are merged.
    const previous = messages.at(-1);
    if (previous && previous.role === role && Array.isArray(previous.content)) previous.content.push(...blocks);
    else messages.push({ role, content: blocks });
  }
  for (const message of messages) {
    const only = Array.isArray(message.content) && message.content.length === 1 ? message.content[0] : undefined;
    if (only?.type === 'text') message.content = only.text;
  }
  const tools: Anthropic.Messages.Tool[] = (request.tools ?? []).map((tool) => ({
    name: tool.name,
    ...(tool.description ? { description: tool.description } : {}),
    input_schema: { type: 'object', ...tool.inputSchema } as Anthropic.Messages.Tool.InputSchema,
  }));
  return {
    ...passThroughParameters(request),
    model,
    max_tokens: request.maxTokens ?? defaultMaxTokens,
    messages,
    ...(system ? { system } : {}),
    ...(tools.length > 0 ? { tools } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
  } as CreateParams;
}

function toBlocks(message: ChatMessage): ContentBlockParam[] {
  if (message.role === 'tool') return [{ type: 'tool_result', tool_use_id: message.toolCallId ?? '', content: message.content }];
  // Empty text blocks are rejected by the API.
  const blocks: ContentBlockParam[] = message.content === '' ? [] : [{ type: 'text', text: message.content }];
  if (message.role === 'assistant') {
    for (const call of message.toolCalls ?? []) blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: call.args });
  }
  return blocks;
}

function fromMessage(message: Message): ProviderReply {
  let content = '';
  const toolCalls: ToolCall[] = [];
  for (const block of message.content) {
    if (block.type === 'text') content += block.text;
    else if (block.type === 'tool_use')
      toolCalls.push({ id: block.id, name: block.name, args: (block.input ?? {}) as Record<string, unknown> });
  }
  const usage: ModelUsage = {
    inputTokens:
      message.usage.input_tokens + (message.usage.cache_creation_input_tokens ?? 0) + (message.usage.cache_read_input_tokens ?? 0),
    outputTokens: message.usage.output_tokens,
  };
  return { content, toolCalls, usage, finishReason: normaliseStop(message.stop_reason) };
}

function normaliseStop(reason: string | null): string {
  switch (reason) {
    case null:
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
      return 'length';
    default:
      return reason;
  }
}

function toFailure(error: unknown): unknown {
  if (error instanceof ProviderFailure || error instanceof Anthropic.APIUserAbortError) return error;
  if (isNetworkError(error)) return new ProviderFailure('connection', (error as Error).message, { cause: error });
  // No status: the connection failed, or the stream broke off (an SSE `error` event).
  if (error instanceof Anthropic.APIError && error.status === undefined)
    return new ProviderFailure('connection', apiErrorDetail(error.message, 'connection error'), { cause: error });
  if (error instanceof Anthropic.APIError) {
    const detail = apiErrorDetail(error.apiMessage ?? error.message, `HTTP ${error.status}`);
    const retryAfterMs = retryAfterFrom(error.headers);
    return new ProviderFailure('status', detail, {
      status: error.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      cause: error,
    });
  }
  return error;
}
