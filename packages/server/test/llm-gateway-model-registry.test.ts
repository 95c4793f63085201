// The LLM gateway of `factory serve` under the workspace's model registry (models/*.yaml), driven
// by the real `openai` client to local servers speaking the OpenAI wire protocol: a fallback
// stands in only when it is registered and cleared for the request's data classifications (the
// others are never called, and why is in the trace), and the shipped policies/model-registry
// denies a request naming a model nobody registered, as it does for agents.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOpenAIWireServer, type WireReply, type WireServer } from '@aifactory/execution/testing';
import { createApiToken, gatewayConfig, startServer, type RunningServer } from '@aifactory/server';
import { openStore, type Store } from '@aifactory/store';
import { readRunEvents } from '@aifactory/verification';
import { workspaceConfigAt } from '@aifactory/workspace';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repository = path.resolve(import.meta.dirname, '..', '..', '..');
const openAIKey = 'sk-provider-openai-0123456789abcdef';
const backupKey = 'sk-provider-backup-0123456789abcdef';

function modelFile(id: string, classifications: string[]): string {
  return `apiVersion: aifactory/v1\nkind: Model\nmetadata: { name: ${id.replace(/[^a-z0-9]+/g, '-')}, owner: platform@acme.example }\nspec:\n  id: "${id}"\n  version: "1"\n  compliance: { classifications: [${classifications.join(', ')}], residency: [eu] }\n`;
}

describe('the LLM gateway with a model registry', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'aif-gateway-registry-'));
  let store: Store;
  let server: RunningServer;
  let openAIUpstream: WireServer;
  let backupUpstream: WireServer;
  let primaryReply: WireReply = { type: 'answer', text: 'Hello from OpenAI.' };
  let token: string;

  beforeAll(async () => {
    openAIUpstream = await startOpenAIWireServer({ apiKey: openAIKey, handler: () => primaryReply });
    backupUpstream = await startOpenAIWireServer({
      apiKey: backupKey,
      handler: (request) => ({ type: 'answer', text: `Hello from ${String(request.body?.model)}.` }),
    });
    mkdirSync(path.join(root, 'models'), { recursive: true });
    const register = (id: string, classifications: string[]) =>
      writeFileSync(path.join(root, 'models', `${id.replace(/[^a-z0-9]+/g, '-')}.yaml`), modelFile(id, classifications));
    register('openai:gpt-4o', ['public', 'internal']);
    register('backup:gpt-4o-public', ['public']);
    register('backup:gpt-4o-mini', ['public', 'internal']);
    const config = gatewayConfig(
      {
        providers: {
          openai: { base_url: openAIUpstream.url, api_key_env: 'GW_OPENAI_KEY' },
          backup: { base_url: backupUpstream.url, api_key_env: 'GW_BACKUP_KEY' },
        },
        // backup:gpt-4o-rogue is configured but nobody registered it.
        fallbacks: { 'openai:gpt-4o': ['backup:gpt-4o-rogue', 'backup:gpt-4o-public', 'backup:gpt-4o-mini'] },
        policies: [path.join(repository, 'policies', 'model-registry')],
        max_retries: 0,
        backoff: { initial_delay: '5ms', max_delay: '20ms' },
      },
      { env: { GW_OPENAI_KEY: openAIKey, GW_BACKUP_KEY: backupKey } },
    );
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(root, { policiesDir: path.join(root, 'policies'), agentsDir: path.join(root, 'agents') }),
      port: 0,
      log: () => undefined,
      recovery: false,
      llmGateway: config,
    });
    token = (await createApiToken(store, { principal: 'checkout-app', roles: ['gateway', 'team.payments'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    await Promise.all([openAIUpstream?.close(), backupUpstream?.close()]);
    rmSync(root, { recursive: true, force: true });
  });

  const openai = (headers: Record<string, string> = {}) =>
    new OpenAI({
      apiKey: token,
      baseURL: `${server.url}/gateway/openai/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-aifactory-feature': 'checkout-chat', ...headers },
    });

  async function stepEvents(runId: string, step: number) {
    await server.llmGateway!.flush();
    const events: Array<{ type: string; payload: Record<string, unknown> }> = [];
    for await (const event of readRunEvents(store, runId)) {
      const payload = JSON.parse(event.payloadText ?? 'null') as Record<string, unknown>;
      if (payload?.step === step) events.push({ type: event.type, payload });
    }
    return events;
  }

  it('falls back only to a registered model: an unregistered fallback is never called, and the trace says why', async () => {
    primaryReply = { type: 'error', status: 503, message: 'Overloaded.' };
    try {
      const backupBefore = backupUpstream.requests.length;
      const { data, response } = await openai()
        .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
        .withResponse();
      expect(data.choices[0]!.message.content).toBe('Hello from gpt-4o-public.');
      expect(response.headers.get('x-aifactory-model')).toBe('backup:gpt-4o-public');
      expect(backupUpstream.requests.slice(backupBefore).map((request) => request.body?.model)).toEqual(['gpt-4o-public']);
      const events = await stepEvents(response.headers.get('x-aifactory-run')!, Number(response.headers.get('x-aifactory-step')));
      expect(events.map((event) => event.type)).toEqual([
        'policy.decided',
        'model.requested',
        'model.failed',
        'policy.decided',
        'model.requested',
        'model.responded',
      ]);
      const skipped = [{ model: 'backup:gpt-4o-rogue', reason: expect.stringMatching(/not in the model registry/) as unknown }];
      expect(events[2]!.payload.fallbacks_skipped).toEqual(skipped);
      expect((events[3]!.payload.action as { name: string; args: Record<string, unknown> }).args).toMatchObject({
        fallback_for: 'openai:gpt-4o',
        fallbacks_skipped: skipped,
      });
    } finally {
      primaryReply = { type: 'answer', text: 'Hello from OpenAI.' };
    }
  });

  it("falls back only to a model cleared for the request's data classifications", async () => {
    primaryReply = { type: 'error', status: 503, message: 'Overloaded.' };
    try {
      const backupBefore = backupUpstream.requests.length;
      const { data, response } = await openai({ 'x-aifactory-data-classification': 'internal' })
        .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
        .withResponse();
      expect(data.choices[0]!.message.content).toBe('Hello from gpt-4o-mini.');
      expect(backupUpstream.requests.slice(backupBefore).map((request) => request.body?.model)).toEqual(['gpt-4o-mini']);
      const events = await stepEvents(response.headers.get('x-aifactory-run')!, Number(response.headers.get('x-aifactory-step')));
      const failed = events.find((event) => event.type === 'model.failed')!;
      expect(failed.payload.fallbacks_skipped).toEqual([
        { model: 'backup:gpt-4o-rogue', reason: expect.stringMatching(/not in the model registry/) as unknown },
        { model: 'backup:gpt-4o-public', reason: expect.stringMatching(/not cleared for internal data/) as unknown },
      ]);
    } finally {
      primaryReply = { type: 'answer', text: 'Hello from OpenAI.' };
    }
  });

  it('denies a request naming an unregistered model by the policy, as for agents, without calling the provider', async () => {
    const backupBefore = backupUpstream.requests.length;
    const denied = await openai()
      .chat.completions.create({ model: 'backup:gpt-4o-rogue', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((denied as InstanceType<typeof OpenAI.PermissionDeniedError>).message).toMatch(/Only models in the model registry/);
    expect(backupUpstream.requests.length).toBe(backupBefore);
    const headers = (denied as InstanceType<typeof OpenAI.PermissionDeniedError>).headers;
    const events = await stepEvents(headers.get('x-aifactory-run')!, Number(headers.get('x-aifactory-step')));
    expect(events[0]!.payload).toMatchObject({
      action: { name: 'backup:gpt-4o-rogue' },
      decision: { authority: 'deny', rules: [expect.objectContaining({ ruleId: 'registered-models-only' })] },
    });
    // A registered model answers directly.
    const answered = await openai().chat.completions.create({ model: 'backup:gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answered.choices[0]!.message.content).toBe('Hello from gpt-4o-mini.');
  });
});
