// The real `openai` SDK, through the gateway, against a local Chat Completions wire server.
import { inspect } from 'node:util';
import type { AiFactoryError } from '@aifactory/core';
import { SystemError, UserError } from '@aifactory/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createModelGateway } from '../../src/models/index.ts';
import type { ModelGatewayConfig, ModelRequest } from '../../src/models/index.ts';
import { startOpenAIWireServer } from '../../src/testing/index.ts';
import type { WireServer, WireServerOptions } from '../../src/testing/index.ts';

const apiKey = 'sk-test-0123456789abcdefSECRET';
const servers: WireServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function setup(options: WireServerOptions, config: Partial<ModelGatewayConfig> = {}) {
  const server = await startOpenAIWireServer({ apiKey, ...options });
  servers.push(server);
  const gateway = createModelGateway({
    providers: { openai: { apiKey, baseURL: server.url } },
    backoff: { initialDelayMs: 1, maxDelayMs: 20 },
    ...config,
  });
  return { server, gateway };
}

const hello: ModelRequest = {
  model: 'openai:gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello?' },
  ],
};
const weatherTool = {
  name: 'weather__lookup',
  description: 'Weather for a city.',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('model gateway over the OpenAI wire protocol', () => {
  it('returns the text, usage and cost of a non-streamed answer', async () => {
    const { server, gateway } = await setup({
      replies: [{ type: 'answer', text: 'Hi there.', usage: { inputTokens: 1000, outputTokens: 500 } }],
    });
    const response = await gateway.call(hello, { attribution: { team: 'support', agent: 'helper', runId: 'run-1' } });
    expect(response).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-mini',
      content: 'Hi there.',
      toolCalls: [],
      finishReason: 'stop',
      attempts: 1,
      fallbackUsed: false,
      priced: true,
    });
    expect(response.usage).toEqual({ inputTokens: 1000, outputTokens: 500 });
    // gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output.
    expect(response.costUsd).toBeCloseTo(0.00015 + 0.0003, 12);
    expect(response.attribution).toEqual({ team: 'support', agent: 'helper', runId: 'run-1' });
    const sent = server.requests[0];
    expect(sent?.headers['authorization']).toBe(`Bearer ${apiKey}`);
    expect(sent?.body).toMatchObject({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello?' },
      ],
    });
    expect(sent?.body?.['stream']).toBeUndefined();
  });

  it('streams tokens through onToken and reads the usage from the stream', async () => {
    const { server, gateway } = await setup({
      replies: [{ type: 'answer', text: 'The quick brown fox.', chunkSize: 3, usage: { inputTokens: 12, outputTokens: 6 } }],
    });
    const tokens: string[] = [];
    const response = await gateway.call(hello, { onToken: (text) => tokens.push(text) });
    expect(tokens.length).toBeGreaterThan(3);
    expect(tokens.join('')).toBe('The quick brown fox.');
    expect(response.content).toBe('The quick brown fox.');
    expect(response.usage).toEqual({ inputTokens: 12, outputTokens: 6 });
    expect(server.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('assembles streamed tool-call argument fragments into parsed arguments', async () => {
    const args = { city: 'Zürich', days: 3, units: { temperature: 'celsius' } };
    const { server, gateway } = await setup({
      replies: [
        {
          type: 'answer',
          text: 'Checking.',
          chunkSize: 2,
          toolCalls: [
            { id: 'call_a', name: 'weather__lookup', args },
            { name: 'weather__lookup', args: { city: 'Oslo' } },
          ],
        },
      ],
    });
    const response = await gateway.call({ ...hello, tools: [weatherTool] }, { onToken: () => {} });
    expect(response.finishReason).toBe('tool_calls');
    expect(response.toolCalls).toEqual([
      { id: 'call_a', name: 'weather__lookup', args },
      { id: 'call_1_1', name: 'weather__lookup', args: { city: 'Oslo' } },
    ]);
    expect(server.requests[0]?.body?.['tools']).toEqual([
      { type: 'function', function: { name: 'weather__lookup', description: 'Weather for a city.', parameters: weatherTool.inputSchema } },
    ]);
  });

  it('sends earlier tool calls and their results back in the OpenAI format', async () => {
    const { server, gateway } = await setup({ replies: [{ type: 'answer', text: 'It is sunny.' }] });
    await gateway.call({
      ...hello,
      messages: [
        ...hello.messages,
        { role: 'assistant', content: '', toolCalls: [{ id: 'call_a', name: 'weather__lookup', args: { city: 'Oslo' } }] },
        { role: 'tool', content: 'sunny', toolCallId: 'call_a' },
      ],
      maxTokens: 50,
      temperature: 0,
    });
    const body = server.requests[0]?.body;
    expect(body?.['messages']).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'weather__lookup', arguments: '{"city":"Oslo"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_a', content: 'sunny' },
    ]);
    expect(body).toMatchObject({ max_completion_tokens: 50, temperature: 0 });
  });

  it('passes extra parameters through but never lets them switch streaming or the model', async () => {
    const { server, gateway } = await setup({ replies: [{ type: 'answer', text: 'ok' }] });
    const response = await gateway.call({ ...hello, parameters: { top_p: 0.5, seed: 7, stream: true, model: 'gpt-5' } });
    expect(response.content).toBe('ok');
    expect(server.requests[0]?.body).toMatchObject({ model: 'gpt-4o-mini', top_p: 0.5, seed: 7 });
    expect(server.requests[0]?.body?.['stream']).toBeUndefined();
  });

  it('fails without retrying when the model sends tool arguments that are not JSON', async () => {
    const { server, gateway } = await setup({
      handler: () => ({ type: 'answer', toolCalls: [{ name: 'weather__lookup', rawArguments: '{"city": "Oslo"' }] }),
    });
    const error = await gateway.call({ ...hello, tools: [weatherTool] }, { onToken: () => {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as Error).message).toBe(
      "Model call to openai:gpt-4o-mini failed after 1 attempt: invalid response: the model sent invalid JSON arguments for tool 'weather__lookup'.",
    );
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 429 and reports two attempts', async () => {
    const { server, gateway } = await setup({
      replies: [
        { type: 'error', status: 429, retryAfterSeconds: 1 },
        { type: 'answer', text: 'ok' },
      ],
    });
    const response = await gateway.call(hello);
    expect(response.content).toBe('ok');
    expect(response.attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  it("waits the server's retry-after-ms before retrying", async () => {
    const { gateway } = await setup(
      {
        replies: [
          { type: 'error', status: 429, retryAfterMs: 150 },
          { type: 'answer', text: 'ok' },
        ],
      },
      { backoff: { initialDelayMs: 1, maxDelayMs: 5000 } },
    );
    const started = performance.now();
    const response = await gateway.call(hello);
    expect(response.attempts).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('gives up after maxRetries on 500s with a MODEL_FAILED system error naming provider, model and status', async () => {
    const { server, gateway } = await setup({ handler: () => ({ type: 'error', status: 500, message: 'Boom.' }) }, { maxRetries: 2 });
    const error = await gateway.call(hello).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SystemError);
    expect(error).toMatchObject({ code: 'MODEL_FAILED', details: { provider: 'openai', model: 'gpt-4o-mini', status: 500, attempts: 3 } });
    expect((error as Error).message).toBe('Model call to openai:gpt-4o-mini failed after 3 attempts: status 500 (Boom.).');
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a 400 and reports it as the caller’s error', async () => {
    const { server, gateway } = await setup({
      handler: () => ({ type: 'error', status: 400, message: "Unknown parameter 'frobnicate'." }),
    });
    const error = await gateway.call({ ...hello, parameters: { frobnicate: true } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain("status 400 (Unknown parameter 'frobnicate'.)");
    expect(server.requests).toHaveLength(1);
  });

  it('times out a hanging server, each attempt, and says so', async () => {
    const { server, gateway } = await setup({ handler: () => ({ type: 'hang' }) }, { timeoutMs: 150, maxRetries: 1 });
    const started = performance.now();
    const error = await gateway.call(hello, { onToken: () => {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as Error).message).toBe('Model call to openai:gpt-4o-mini failed after 2 attempts: timed out after 150 ms.');
    expect((error as AiFactoryError).details).toMatchObject({ timed_out: true, attempts: 2 });
    expect(server.requests).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('times out a stream that stalls after its first tokens without retrying or duplicating them', async () => {
    const { server, gateway } = await setup(
      { handler: () => ({ type: 'answer', text: 'abcdefghijklmnop', chunkSize: 4, delayMs: 100 }) },
      { timeoutMs: 250, maxRetries: 2 },
    );
    const tokens: string[] = [];
    const error = await gateway.call(hello, { onToken: (text) => tokens.push(text) }).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain('timed out after 250 ms after part of the answer was streamed');
    expect(server.requests).toHaveLength(1);
    expect(tokens.length).toBeGreaterThan(0);
    expect('abcdefghijklmnop'.startsWith(tokens.join(''))).toBe(true);
  });

  it('rejects with the abort reason when the caller cancels, without retrying', async () => {
    const { server, gateway } = await setup({ handler: () => ({ type: 'hang' }) });
    const controller = new AbortController();
    const call = gateway.call(hello, { signal: controller.signal });
    // Cancelled while the request is with the server (the SDK loads on the first call, so no fixed delay).
    await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 30_000 });
    controller.abort(new Error('user pressed stop'));
    await expect(call).rejects.toThrow('user pressed stop');
    expect(server.requests).toHaveLength(1);
  });

  it('never puts the API key in an error, even when the server echoes it', async () => {
    const server = await startOpenAIWireServer({ apiKey: 'sk-the-right-key-0000000000' });
    servers.push(server);
    const gateway = createModelGateway({ providers: { openai: { apiKey, baseURL: server.url } }, maxRetries: 0 });
    const error = await gateway.call(hello).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain('status 401');
    const everything = [
      (error as Error).message,
      (error as AiFactoryError).format(),
      JSON.stringify(error),
      inspect(error, { depth: 10 }),
      String((error as Error).stack),
    ].join('\n');
    expect(everything).not.toContain(apiKey);
    expect(everything).not.toContain('0123456789abcdef');
    // The server really did receive (and echo) the key: the redaction is what kept it out.
    expect(server.requests[0]?.headers['authorization']).toBe(`Bearer ${apiKey}`);
  });

  it('books usage and cost per team, agent, run and model', async () => {
    const { gateway } = await setup(
      { handler: () => ({ type: 'answer', text: 'ok', usage: { inputTokens: 1_000_000, outputTokens: 100_000 } }) },
      { prices: { 'openai:gpt-4o-mini': { inputPerMillion: 1, outputPerMillion: 10 } } },
    );
    await gateway.call(hello, { attribution: { team: 'support', agent: 'helper', runId: 'run-1' } });
    await gateway.call(hello, { attribution: { team: 'support', agent: 'helper', runId: 'run-1' } });
    await gateway.call(hello, { attribution: { team: 'finance', agent: 'refunds', runId: 'run-2' } });
    expect(gateway.usage()).toEqual([
      {
        team: 'finance',
        agent: 'refunds',
        runId: 'run-2',
        model: 'openai:gpt-4o-mini',
        calls: 1,
        inputTokens: 1_000_000,
        outputTokens: 100_000,
        costUsd: 2,
      },
      {
        team: 'support',
        agent: 'helper',
        runId: 'run-1',
        model: 'openai:gpt-4o-mini',
        calls: 2,
        inputTokens: 2_000_000,
        outputTokens: 200_000,
        costUsd: 4,
      },
    ]);
    expect(gateway.usage({ team: 'finance' })).toHaveLength(1);
    expect(gateway.usage({ runId: 'run-3' })).toEqual([]);
  });

  it('reaches any OpenAI-compatible server as a named provider, without a key', async () => {
    const server = await startOpenAIWireServer({ replies: [{ type: 'answer', text: 'local answer' }] });
    servers.push(server);
    const gateway = createModelGateway({ providers: { ollama: { baseURL: server.url } } });
    const response = await gateway.call({ ...hello, model: 'ollama:llama3.1:8b', maxTokens: 20 });
    expect(response).toMatchObject({ provider: 'ollama', model: 'llama3.1:8b', content: 'local answer', costUsd: 0, priced: false });
    // Compatible servers get the classic max_tokens.
    expect(server.requests[0]?.body).toMatchObject({ model: 'llama3.1:8b', max_tokens: 20 });
  });
});
