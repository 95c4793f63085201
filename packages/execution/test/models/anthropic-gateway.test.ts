// The real `@anthropic-ai/sdk`, through the gateway, against a local Messages wire server.
import { SystemError } from '@aifactory/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createModelGateway } from '../../src/models/index.ts';
import type { ModelGatewayConfig, ModelRequest } from '../../src/models/index.ts';
import { startAnthropicWireServer } from '../../src/testing/index.ts';
import type { WireServer, WireServerOptions } from '../../src/testing/index.ts';

const apiKey = 'sk-ant-test-0123456789abcdef';
const servers: WireServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function setup(options: WireServerOptions, config: Partial<ModelGatewayConfig> = {}) {
  const server = await startAnthropicWireServer({ apiKey, ...options });
  servers.push(server);
  const gateway = createModelGateway({
    providers: { anthropic: { apiKey, baseURL: server.url } },
    backoff: { initialDelayMs: 1, maxDelayMs: 20 },
    ...config,
  });
  return { server, gateway };
}

const request: ModelRequest = {
  model: 'anthropic:claude-haiku-4-5',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Refund order 42 and order 43.' },
  ],
  tools: [
    {
      name: 'payments__refund',
      description: 'Refund an order.',
      inputSchema: { type: 'object', properties: { order: { type: 'integer' } } },
    },
  ],
};

describe('model gateway over the Anthropic wire protocol', () => {
  it('streams text deltas and assembles input_json_delta fragments into tool-call arguments', async () => {
    const { server, gateway } = await setup({
      replies: [
        {
          type: 'answer',
          text: 'Refunding both orders now.',
          chunkSize: 3,
          toolCalls: [
            { id: 'toolu_1', name: 'payments__refund', args: { order: 42, reason: 'late "delivery"' } },
            { id: 'toolu_2', name: 'payments__refund', args: { order: 43 } },
          ],
          usage: { inputTokens: 2_000, outputTokens: 100 },
        },
      ],
    });
    const tokens: string[] = [];
    const response = await gateway.call(request, { onToken: (text) => tokens.push(text) });
    expect(tokens.length).toBeGreaterThan(3);
    expect(tokens.join('')).toBe('Refunding both orders now.');
    expect(response).toMatchObject({
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      content: 'Refunding both orders now.',
      finishReason: 'tool_calls',
      attempts: 1,
    });
    expect(response.toolCalls).toEqual([
      { id: 'toolu_1', name: 'payments__refund', args: { order: 42, reason: 'late "delivery"' } },
      { id: 'toolu_2', name: 'payments__refund', args: { order: 43 } },
    ]);
    expect(response.usage).toEqual({ inputTokens: 2_000, outputTokens: 100 });
    // claude-haiku-4-5: $1 / 1M input, $5 / 1M output.
    expect(response.costUsd).toBeCloseTo(0.002 + 0.0005, 12);
    const body = server.requests[0]?.body;
    expect(body).toMatchObject({
      model: 'claude-haiku-4-5',
      system: 'You are terse.',
      max_tokens: 4096,
      stream: true,
      messages: [{ role: 'user', content: 'Refund order 42 and order 43.' }],
    });
    expect(body?.['tools']).toEqual([
      {
        name: 'payments__refund',
        description: 'Refund an order.',
        input_schema: { type: 'object', properties: { order: { type: 'integer' } } },
      },
    ]);
  });

  it('answers without streaming when no onToken is given', async () => {
    const { server, gateway } = await setup({ replies: [{ type: 'answer', text: 'Done.' }] });
    const response = await gateway.call({ ...request, maxTokens: 64 });
    expect(response).toMatchObject({ content: 'Done.', toolCalls: [], finishReason: 'stop' });
    expect(server.requests[0]?.body?.['stream']).toBeUndefined();
    expect(server.requests[0]?.body?.['max_tokens']).toBe(64);
  });

  it('sends the results of parallel tool calls together in one user message', async () => {
    const { server, gateway } = await setup({ replies: [{ type: 'answer', text: 'Both refunded.' }] });
    await gateway.call({
      ...request,
      messages: [
        ...request.messages,
        {
          role: 'assistant',
          content: 'Refunding.',
          toolCalls: [
            { id: 'toolu_1', name: 'payments__refund', args: { order: 42 } },
            { id: 'toolu_2', name: 'payments__refund', args: { order: 43 } },
          ],
        },
        { role: 'tool', content: 'refunded 42', toolCallId: 'toolu_1' },
        { role: 'tool', content: 'refunded 43', toolCallId: 'toolu_2' },
      ],
    });
    expect(server.requests[0]?.body?.['messages']).toEqual([
      { role: 'user', content: 'Refund order 42 and order 43.' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Refunding.' },
          { type: 'tool_use', id: 'toolu_1', name: 'payments__refund', input: { order: 42 } },
          { type: 'tool_use', id: 'toolu_2', name: 'payments__refund', input: { order: 43 } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'refunded 42' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: 'refunded 43' },
        ],
      },
    ]);
  });

  it('retries 529 overloaded and then succeeds', async () => {
    const { server, gateway } = await setup({
      replies: [
        { type: 'error', status: 529 },
        { type: 'error', status: 529 },
        { type: 'answer', text: 'Finally.' },
      ],
    });
    const response = await gateway.call(request, { onToken: () => {} });
    expect(response).toMatchObject({ content: 'Finally.', attempts: 3 });
    expect(server.requests).toHaveLength(3);
  });

  it('fails, not half-answers, when the connection drops mid-stream', async () => {
    const { gateway } = await setup({
      replies: [{ type: 'answer', text: 'This answer is cut off somewhere.', chunkSize: 2, breakAfterEvents: 6 }],
    });
    const tokens: string[] = [];
    const error = await gateway.call(request, { onToken: (text) => tokens.push(text) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as Error).message).toMatch(
      /^Model call to anthropic:claude-haiku-4-5 failed after 1 attempt: connection failed .* after part of the answer was streamed\.$/,
    );
    expect(tokens.join('')).not.toBe('This answer is cut off somewhere.');
  });
});
