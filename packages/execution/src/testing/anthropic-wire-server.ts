// A local server speaking the Anthropic Messages wire format (`POST /v1/messages`, whole and
// streamed as message_start / content_block_start / content_block_delta (text_delta,
// input_json_delta) / content_block_stop / message_delta / message_stop events, tool_use
// blocks, errors including 529 overloaded), for running the real `@anthropic-ai/sdk` in tests.
import type { WireProtocol, WireServer, WireServerOptions } from './wire-server.ts';
import { fragments, roughTokens, startWireServer, writeEvents, writeJson } from './wire-server.ts';

const errorTypes: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const anthropicProtocol: WireProtocol = {
  path: '/v1/messages',
  baseSuffix: '',
  keyOf(request) {
    const header = request.headers['authorization'];
    if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length);
    return request.headers['x-api-key'];
  },
  writeError(response, status, message, headers = {}) {
    const type = errorTypes[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    writeJson(response, status, { type: 'error', error: { type, message } }, { 'request-id': `req_${Date.now()}`, ...headers });
  },
  lastUserText(request) {
    const messages = (request.body?.['messages'] ?? []) as Array<{ role?: string; content?: unknown }>;
    const last = [...messages].reverse().find((message) => message.role === 'user');
    if (typeof last?.content === 'string') return last.content;
    if (Array.isArray(last?.content)) {
      return (last.content as Array<{ type?: string; text?: string }>)
        .filter((block) => block.type === 'text')
        .map((block) => block.text ?? '')
        .join('');
    }
    return '';
  },
  async writeAnswer(request, reply, response) {
    const model = typeof request.body?.['model'] === 'string' ? request.body['model'] : 'unknown';
    const id = `msg_${request.index + 1}`;
    const text = reply.text ?? '';
    const calls = (reply.toolCalls ?? []).map((call, index) => ({
      id: call.id ?? `toolu_${request.index + 1}_${index}`,
      name: call.name,
      input: call.args ?? {},
      json: call.rawArguments ?? JSON.stringify(call.args ?? {}),
    }));
    const stopReason = reply.finishReason ?? (calls.length > 0 ? 'tool_use' : 'end_turn');
    const inputTokens =
      reply.usage?.inputTokens ?? roughTokens(JSON.stringify(request.body?.['messages'] ?? []) + String(request.body?.['system'] ?? ''));
    const outputTokens = reply.usage?.outputTokens ?? roughTokens(text + calls.map((call) => call.name + call.json).join(''));
    const usage = { input_tokens: inputTokens, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (request.body?.['stream'] !== true) {
      const content = [
        ...(text === '' ? [] : [{ type: 'text', text }]),
        ...calls.map((call) => ({ type: 'tool_use', id: call.id, name: call.name, input: call.input })),
      ];
      return writeJson(response, 200, {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content,
        stop_reason: stopReason,
        stop_sequence: null,
        usage,
      });
    }
    const size = reply.chunkSize ?? 4;
    const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const events = [
      event('message_start', {
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      }),
      event('ping', {}),
    ];
    let index = 0;
    if (text !== '') {
      events.push(event('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      for (const part of fragments(text, size))
        events.push(event('content_block_delta', { index, delta: { type: 'text_delta', text: part } }));
      events.push(event('content_block_stop', { index }));
      index++;
    }
    for (const call of calls) {
      events.push(event('content_block_start', { index, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } }));
      for (const part of fragments(call.json, size))
        events.push(event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: part } }));
      events.push(event('content_block_stop', { index }));
      index++;
    }
    events.push(
      event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } }),
    );
    events.push(event('message_stop', {}));
    return writeEvents(response, events, reply);
  },
};

/** Starts a local Anthropic Messages server; pass its `url` as the SDK's `baseURL`. */
export function startAnthropicWireServer(options: WireServerOptions = {}): Promise<WireServer> {
  return startWireServer(anthropicProtocol, options);
}
