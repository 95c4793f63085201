// A local server speaking the OpenAI Chat Completions wire format (`POST /v1/chat/completions`,
// whole and streamed as server-sent events, tool calls streamed as argument fragments, usage
// in the stream when `stream_options.include_usage` is set), for running the real `openai` SDK
// in tests without reaching the internet.
import type { WireProtocol, WireReply, WireRequest, WireServer, WireServerOptions } from './wire-server.ts';
import { fragments, roughTokens, startWireServer, writeEvents, writeJson } from './wire-server.ts';

type Answer = Extract<WireReply, { type: 'answer' }>;

const errorTypes: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  403: 'permission_denied',
  404: 'not_found',
  429: 'rate_limit_exceeded',
};

const openAIProtocol: WireProtocol = {
  path: '/v1/chat/completions',
  baseSuffix: '/v1',
  keyOf(request) {
    const header = request.headers['authorization'];
    return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
  },
  writeError(response, status, message, headers = {}) {
    const type = errorTypes[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    writeJson(
      response,
      status,
      { error: { message, type, param: null, code: status === 401 ? 'invalid_api_key' : null } },
      { 'x-request-id': `req_${Date.now()}`, ...headers },
    );
  },
  lastUserText(request) {
    const messages = (request.body?.['messages'] ?? []) as Array<{ role?: string; content?: unknown }>;
    const last = [...messages].reverse().find((message) => message.role === 'user');
    return typeof last?.content === 'string' ? last.content : '';
  },
  async writeAnswer(request, reply, response) {
    const model = typeof request.body?.['model'] === 'string' ? request.body['model'] : 'unknown';
    const id = `chatcmpl-${request.index + 1}`;
    const created = Math.floor(Date.now() / 1000);
    const calls = (reply.toolCalls ?? []).map((call, index) => ({
      id: call.id ?? `call_${request.index + 1}_${index}`,
      name: call.name,
      arguments: call.rawArguments ?? JSON.stringify(call.args ?? {}),
    }));
    const text = reply.text ?? '';
    const finishReason = reply.finishReason ?? (calls.length > 0 ? 'tool_calls' : 'stop');
    const usage = usageOf(request, reply, text + calls.map((call) => call.name + call.arguments).join(''));
    if (request.body?.['stream'] !== true) {
      const message = {
        role: 'assistant',
        content: text === '' && calls.length > 0 ? null : text,
        refusal: null,
        ...(calls.length > 0
          ? {
              tool_calls: calls.map((call) => ({
                id: call.id,
                type: 'function',
                function: { name: call.name, arguments: call.arguments },
              })),
            }
          : {}),
      };
      return writeJson(response, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
        usage,
      });
    }
    const size = reply.chunkSize ?? 4;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices, ...extra })}\n\n`;
    const delta = (value: Record<string, unknown>, finish: string | null = null) =>
      chunk([{ index: 0, delta: value, logprobs: null, finish_reason: finish }]);
    const events = [delta({ role: 'assistant', content: '', refusal: null })];
    for (const part of fragments(text, size)) events.push(delta({ content: part }));
    calls.forEach((call, index) => {
      events.push(delta({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }));
      for (const part of fragments(call.arguments, size)) events.push(delta({ tool_calls: [{ index, function: { arguments: part } }] }));
    });
    events.push(delta({}, finishReason));
    const streamOptions = request.body?.['stream_options'] as { include_usage?: boolean } | undefined;
    if (streamOptions?.include_usage) events.push(chunk([], { usage }));
    events.push('data: [DONE]\n\n');
    return writeEvents(response, events, reply);
  },
};

function usageOf(request: WireRequest, reply: Answer, output: string) {
  const prompt = reply.usage?.inputTokens ?? roughTokens(JSON.stringify(request.body?.['messages'] ?? []));
  const completion = reply.usage?.outputTokens ?? roughTokens(output);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Starts a local OpenAI Chat Completions server; pass its `url` as the SDK's `baseURL`. */
export function startOpenAIWireServer(options: WireServerOptions = {}): Promise<WireServer> {
  return startWireServer(openAIProtocol, options);
}
