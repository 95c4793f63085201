// OpenAI Chat Completions through the official `openai` SDK: OpenAI itself and any
// OpenAI-compatible server (Ollama, vLLM, LM Studio) by base URL.
import OpenAI from 'openai';
import type { ChatMessage, ModelRequest, ModelUsage, ToolCall } from './model-types.ts';
import type { ProviderAdapter, ProviderAttempt, ProviderReply } from './provider-adapter.ts';
import {
  ProviderFailure,
  apiErrorDetail,
  isNetworkError,
  passThroughParameters,
  estimateRequestTokens,
  estimateTokens,
  parseToolArguments,
  retryAfterFrom,
} from './provider-adapter.ts';

type MessageParam = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type ToolParam = OpenAI.Chat.Completions.ChatCompletionFunctionTool;
type CreateParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

/** Connection settings of an OpenAI or OpenAI-compatible provider. */
export interface OpenAIAdapterOptions {
  /** API key; OpenAI-compatible servers that need none get a placeholder. */
  apiKey: string;
  /** Base URL including `/v1`. */
  baseURL: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** True for OpenAI itself (sends `max_completion_tokens`), false for compatible servers (`max_tokens`). */
  official: boolean;
}

/** Creates the adapter for one OpenAI(-compatible) provider. */
export function createOpenAIAdapter(options: OpenAIAdapterOptions): ProviderAdapter {
  const client = new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    // The gateway retries (to count attempts and control backoff) and times out (over the
    // whole streamed body, not just the headers), so the SDK does neither.
    maxRetries: 0,
    timeout: 24 * 60 * 60 * 1000,
    logLevel: 'off',
    ...(options.headers ? { defaultHeaders: options.headers } : {}),
  });

  return {
    async attempt(attempt: ProviderAttempt): Promise<ProviderReply> {
      const body = toCreateParams(attempt.model, attempt.request, options.official);
      try {
        return attempt.onToken
          ? await streamed(client, body, attempt.signal, attempt.onToken, attempt.request)
          : await whole(client, body, attempt.signal, attempt.request);
      } catch (error) {
        throw toFailure(error);
      }
    },
  };
}

function toCreateParams(model: string, request: ModelRequest, official: boolean): CreateParams {
  const params: Record<string, unknown> = passThroughParameters(request);
  if (request.temperature !== undefined) params['temperature'] = request.temperature;
  if (request.maxTokens !== undefined) params[official ? 'max_completion_tokens' : 'max_tokens'] = request.maxTokens;
  const tools: ToolParam[] = (request.tools ?? []).map((tool) => ({
    type: 'function',
    function: { name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters: tool.inputSchema },
  }));
  return { ...params, model, messages: request.messages.map(toMessageParam), ...(tools.length > 0 ? { tools } : {}) } as CreateParams;
}

function toMessageParam(message: ChatMessage): MessageParam {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user':
      return { role: 'user', content: message.content, ...(message.name ? { name: message.name } : {}) };
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId ?? '', content: message.content };
    case 'assistant': {
      const toolCalls = message.toolCalls ?? [];
      if (toolCalls.length === 0) return { role: 'assistant', content: message.content };
      return {
        role: 'assistant',
        content: message.content === '' ? null : message.content,
        tool_calls: toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: JSON.stringify(call.args) },
        })),
      };
    }
  }
}

async function whole(client: OpenAI, body: CreateParams, signal: AbortSignal, request: ModelRequest): Promise<ProviderReply> {
  const completion = await client.chat.completions.create(body, { signal });
  const choice = completion.choices[0];
  if (!choice) throw new ProviderFailure('invalid-response', 'the response had no choices');
  const content = choice.message.content ?? '';
  const toolCalls: ToolCall[] = [];
  for (const call of choice.message.tool_calls ?? []) {
    if (call.type !== 'function') continue;
    toolCalls.push({ id: call.id, name: call.function.name, args: parseToolArguments(call.function.name, call.function.arguments) });
  }
  return {
    content,
    toolCalls,
    usage: usageOf(completion.usage, request, content, toolCalls),
    finishReason: normaliseFinish(choice.finish_reason),
  };
}

// Assembled by hand rather than with the SDK's ChatCompletionStream helper: the helper rejects
// chunks carrying fields it does not know, which OpenAI-compatible servers (vLLM's
// `reasoning_content`, Ollama's extras) routinely send.
async function streamed(
  client: OpenAI,
  body: CreateParams,
  signal: AbortSignal,
  onToken: (text: string) => void,
  request: ModelRequest,
): Promise<ProviderReply> {
  const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, { signal });
  let content = '';
  let finishReason: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  const slots: Array<{ id: string; name: string; arguments: string }> = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    const text = choice.delta?.content;
    if (text) {
      content += text;
      onToken(text);
    }
    for (const delta of choice.delta?.tool_calls ?? []) {
      const slot = (slots[delta.index] ??= { id: '', name: '', arguments: '' });
      if (delta.id) slot.id = delta.id;
      // The name arrives whole in the first delta; some servers repeat it in later ones.
      if (delta.function?.name && slot.name === '') slot.name = delta.function.name;
      if (delta.function?.arguments) slot.arguments += delta.function.arguments;
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  // The SDK's stream iterator ends quietly when aborted; a cut-off answer must not pass as whole.
  signal.throwIfAborted();
  const toolCalls: ToolCall[] = slots
    .filter((slot) => slot !== undefined)
    .map((slot, index) => ({ id: slot.id || `call_${index}`, name: slot.name, args: parseToolArguments(slot.name, slot.arguments) }));
  return { content, toolCalls, usage: usageOf(usage, request, content, toolCalls), finishReason: normaliseFinish(finishReason) };
}

function usageOf(
  usage: OpenAI.CompletionUsage | null | undefined,
  request: ModelRequest,
  content: string,
  toolCalls: ToolCall[],
): ModelUsage {
  if (usage) return { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens };
  return {
    inputTokens: estimateRequestTokens(request),
    outputTokens: estimateTokens(content + JSON.stringify(toolCalls.map((call) => call.args))),
    estimated: true,
  };
}

function normaliseFinish(reason: string | null | undefined): string {
  if (reason === 'function_call') return 'tool_calls';
  return reason ?? 'stop';
}

function toFailure(error: unknown): unknown {
  if (error instanceof ProviderFailure || error instanceof OpenAI.APIUserAbortError) return error;
  if (isNetworkError(error)) return new ProviderFailure('connection', (error as Error).message, { cause: error });
  // No status: the connection failed, or the stream broke off (an SSE `error` event).
  if (error instanceof OpenAI.APIError && error.status === undefined)
    return new ProviderFailure('connection', apiErrorDetail(error.message, 'connection error'), { cause: error });
  if (error instanceof OpenAI.APIError) {
    const body = error.error as { message?: unknown } | undefined;
    const detail = apiErrorDetail(typeof body?.message === 'string' ? body.message : error.message, `HTTP ${error.status}`);
    const retryAfterMs = retryAfterFrom(error.headers);
    return new ProviderFailure('status', detail, {
      status: error.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      cause: error,
    });
  }
  return error;
}
