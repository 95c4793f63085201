// Fallback to a second provider when the primary is unavailable after its retries, and the
// gateway's configuration errors.
import type { AiFactoryError } from '@aifactory/core';
import { SystemError, UserError } from '@aifactory/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createModelGateway, modelGatewayConfigFromEnv, parseScript } from '../../src/models/index.ts';
import type { ModelRequest } from '../../src/models/index.ts';
import { startAnthropicWireServer, startOpenAIWireServer } from '../../src/testing/index.ts';
import type { WireReply, WireServer } from '../../src/testing/index.ts';

const openaiKey = 'sk-openai-fallback-test-key-1234';
const anthropicKey = 'sk-ant-fallback-test-key-5678';
const servers: WireServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function pair(openai: WireReply | (() => WireReply), anthropic: WireReply | (() => WireReply)) {
  const openaiServer = await startOpenAIWireServer({ handler: typeof openai === 'function' ? openai : () => openai });
  const anthropicServer = await startAnthropicWireServer({ handler: typeof anthropic === 'function' ? anthropic : () => anthropic });
  servers.push(openaiServer, anthropicServer);
  const gateway = createModelGateway({
    providers: {
      openai: { apiKey: openaiKey, baseURL: openaiServer.url },
      anthropic: { apiKey: anthropicKey, baseURL: anthropicServer.url },
    },
    maxRetries: 2,
    backoff: { initialDelayMs: 1, maxDelayMs: 10 },
    fallback: 'anthropic:claude-haiku-4-5',
  });
  return { gateway, openaiServer, anthropicServer };
}

function failureOf(promise: Promise<unknown>): Promise<AiFactoryError> {
  return promise.then(
    () => expect.fail('expected the call to fail'),
    (error: unknown) => error as AiFactoryError,
  );
}

const request: ModelRequest = { model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'Summarise the ticket.' }] };

describe('model gateway fallback', () => {
  it('falls back to the other provider after the primary exhausts its retries on 500s', async () => {
    const { gateway, openaiServer, anthropicServer } = await pair(
      { type: 'error', status: 500 },
      { type: 'answer', text: 'Summary from Claude.', usage: { inputTokens: 100, outputTokens: 10 } },
    );
    const tokens: string[] = [];
    const response = await gateway.call(request, {
      onToken: (text) => tokens.push(text),
      attribution: { team: 'support', runId: 'run-9' },
    });
    expect(response).toMatchObject({
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      content: 'Summary from Claude.',
      fallbackUsed: true,
      attempts: 4,
    });
    expect(response.fallbackReason).toMatch(/^openai:gpt-4o failed after 3 attempts: status 500/);
    expect(tokens.join('')).toBe('Summary from Claude.');
    expect(openaiServer.requests).toHaveLength(3);
    expect(anthropicServer.requests).toHaveLength(1);
    // Priced and booked as the model that answered.
    expect(response.costUsd).toBeCloseTo((100 * 1 + 10 * 5) / 1_000_000, 12);
    expect(gateway.usage()).toEqual([
      {
        team: 'support',
        runId: 'run-9',
        model: 'anthropic:claude-haiku-4-5',
        calls: 1,
        inputTokens: 100,
        outputTokens: 10,
        costUsd: 0.00015,
      },
    ]);
  });

  it('names both failures when the fallback fails too', async () => {
    const { gateway } = await pair({ type: 'error', status: 503 }, { type: 'error', status: 529 });
    const error = await gateway.call(request).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as Error).message).toBe(
      'Model call to openai:gpt-4o failed after 3 attempts: status 503 (The server had an error while processing your request.); fallback anthropic:claude-haiku-4-5 failed after 3 attempts: status 529 (Overloaded.).',
    );
    expect((error as AiFactoryError).details).toMatchObject({
      provider: 'openai',
      status: 503,
      attempts: 3,
      fallback: { provider: 'anthropic', status: 529, attempts: 3 },
    });
    expect((error as Error).message).not.toContain(openaiKey);
  });

  it('does not fall back on a request the primary rejected as invalid', async () => {
    const { gateway, anthropicServer } = await pair(
      { type: 'error', status: 400, message: 'Invalid tools.' },
      { type: 'answer', text: 'never' },
    );
    const error = await gateway.call(request).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect(anthropicServer.requests).toHaveLength(0);
  });

  it('asks beforeFallback first, and a refusal keeps the fallback provider uncalled', async () => {
    const { gateway, anthropicServer } = await pair({ type: 'error', status: 500 }, { type: 'answer', text: 'never' });
    const asked: Array<{ model: string; reason: string }> = [];
    const error = await failureOf(gateway.call(request, { beforeFallback: (fallback) => (asked.push(fallback), false) }));
    expect(error.message).toBe(
      'Model call to openai:gpt-4o failed after 3 attempts: status 500 (The server had an error while processing your request.).',
    );
    expect(asked).toEqual([
      {
        model: 'anthropic:claude-haiku-4-5',
        reason: 'openai:gpt-4o failed after 3 attempts: status 500 (The server had an error while processing your request.)',
      },
    ]);
    await expect(gateway.call(request, { beforeFallback: () => Promise.reject(new Error('control plane unreachable')) })).rejects.toThrow(
      'control plane unreachable',
    );
    expect(anthropicServer.requests).toHaveLength(0);
    const allowed = await gateway.call(request, { beforeFallback: async () => true });
    expect(allowed.fallbackUsed).toBe(true);
  });

  it('takes a per-call fallback, or none', async () => {
    const { gateway, anthropicServer } = await pair({ type: 'error', status: 502 }, { type: 'answer', text: 'from sonnet' });
    await expect(gateway.call(request, { fallback: null })).rejects.toThrow('status 502');
    expect(anthropicServer.requests).toHaveLength(0);
    const response = await gateway.call(request, { fallback: 'anthropic:claude-opus-4-5' });
    expect(response).toMatchObject({ provider: 'anthropic', model: 'claude-opus-4-5', fallbackUsed: true });
  });

  it('falls back from a scripted error turn, offline', async () => {
    const gateway = createModelGateway({
      scripts: { broken: parseScript('turns:\n  - error: provider down\n'), backup: parseScript('turns:\n  - say: backup answer\n') },
      fallback: 'scripted:backup',
    });
    const response = await gateway.call({ model: 'scripted:broken', messages: [{ role: 'user', content: 'hi' }] });
    expect(response).toMatchObject({
      provider: 'scripted',
      model: 'backup',
      content: 'backup answer',
      fallbackUsed: true,
      attempts: 2,
      costUsd: 0,
    });
    expect(response.fallbackReason).toBe('scripted:broken failed after 1 attempt: scripted error (provider down)');
  });
});

describe('model gateway configuration', () => {
  it('reads the providers from the environment', () => {
    expect(modelGatewayConfigFromEnv({ OPENAI_API_KEY: 'sk-1', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', UNRELATED: 'x' })).toEqual({
      providers: { openai: { apiKey: 'sk-1' }, anthropic: { baseURL: 'http://127.0.0.1:9' } },
    });
    expect(modelGatewayConfigFromEnv({ OPENAI_API_KEY: '  ' })).toEqual({ providers: {} });
  });

  it('rejects a malformed model id, an unknown provider and a missing key with one clear sentence each', async () => {
    const gateway = createModelGateway({ providers: { ollama: { baseURL: 'http://127.0.0.1:9/v1' } } });
    const attempt = (model: string) => failureOf(gateway.call({ model, messages: [{ role: 'user', content: 'hi' }] }));
    const malformed = await attempt('gpt-4o');
    expect(malformed).toBeInstanceOf(UserError);
    expect(malformed.message).toBe(
      "Model 'gpt-4o' must be written provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5 or scripted:demo.",
    );
    expect((await attempt('mistral:large')).message).toBe(
      "Unknown model provider 'mistral' in 'mistral:large'; configured providers: openai, anthropic, ollama, scripted.",
    );
    expect((await attempt('anthropic:claude-haiku-4-5')).message).toBe(
      "No API key for provider 'anthropic'; set ANTHROPIC_API_KEY or providers.anthropic.apiKey.",
    );
    expect((await attempt('openai:gpt-4o')).code).toBe('MODEL_FAILED');
  });

  it('refuses an OpenAI-compatible provider without a base URL and an unknown fallback provider', () => {
    expect(() => createModelGateway({ providers: { vllm: {} } })).toThrow(
      "Provider 'vllm' is OpenAI-compatible and needs a baseURL, e.g. http://localhost:11434/v1.",
    );
    expect(() => createModelGateway({ fallback: 'nowhere:model' })).toThrow("Unknown model provider 'nowhere'");
    expect(() => createModelGateway({ maxRetries: -1 })).toThrow('maxRetries must be a non-negative number, got -1.');
  });

  it('reports a connection failure to an unreachable server, retried and named', async () => {
    // Port 9 (discard) on loopback is closed here: the connection is refused at once.
    const gateway = createModelGateway({
      providers: { local: { baseURL: 'http://127.0.0.1:9/v1' } },
      maxRetries: 1,
      backoff: { initialDelayMs: 1, maxDelayMs: 5 },
    });
    const error = await failureOf(gateway.call({ model: 'local:tiny', messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(SystemError);
    expect(error.message).toMatch(/^Model call to local:tiny failed after 2 attempts: connection failed \(.+\)\.$/);
  });
});
