// Model calls are governed actions, real SDKs included: the agent runs on the official OpenAI SDK
// against a local server speaking the Chat Completions wire format; when it fails, the gateway's
// fallback to Anthropic (official SDK, local Messages server) is decided and recorded like any
// other model call — and a policy that forbids Anthropic for the team stops it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createModelGateway, type RunEvent } from '@aifactory/execution';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { startAnthropicWireServer, startOpenAIWireServer, type WireServer } from '@aifactory/execution/testing';
import { readRunEvents } from '@aifactory/verification';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(anthropicRule: string) {
  const folder = mkdtempSync(path.join(tmpdir(), 'aifactory-models-'));
  cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
  writeFileSync(
    path.join(folder, 'policy.yaml'),
    `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: models, version: 1 }
spec:
  default: autonomous
  rules:
    - id: anthropic-for-analysts
      match: { kind: model, name: "anthropic:*" }
      when: agent.team == "support"
      authority: ${anthropicRule}
      reason: Support data stays with the primary provider.
`,
  );
  writeFileSync(
    path.join(folder, 'helper.yaml'),
    `apiVersion: aifactory/v1
kind: Agent
metadata: { name: helper, description: Answers., team: support }
spec:
  model: { id: "openai:gpt-4o-mini", fallback: "anthropic:claude-haiku-4-5" }
  system_prompt: Answer briefly.
  policies: [./policy.yaml]
`,
  );
  const openai: WireServer = await startOpenAIWireServer({ replies: [{ type: 'error', status: 500, message: 'primary down' }] });
  const anthropic: WireServer = await startAnthropicWireServer({ replies: [{ type: 'answer', text: 'Hello from the fallback.' }] });
  cleanups.push(
    () => openai.close(),
    () => anthropic.close(),
  );
  const gateway = createModelGateway({
    providers: {
      openai: { apiKey: 'sk-test-openai-key-000000000000', baseURL: openai.url },
      anthropic: { apiKey: 'sk-ant-test-key-0000000000', baseURL: anthropic.url },
    },
    maxRetries: 0,
    fallback: 'anthropic:claude-haiku-4-5',
    backoff: { initialDelayMs: 1, maxDelayMs: 1 },
  });
  const store: Store = await openStore();
  cleanups.push(() => store.close());
  const workspace = await createWorkspaceRuntime({ store, dataDir: path.join(folder, 'data'), agentsDir: folder, gateway });
  cleanups.push(() => workspace.close());
  return { workspace, store, openai, anthropic };
}

describe('governed model calls through the official SDKs', () => {
  it('decides and records the fallback model before calling it', async () => {
    const { workspace, store, anthropic } = await setUp('notify_human');
    const events: RunEvent[] = [];
    const result = await workspace.runtime.start('helper', 'Say hello.', {
      principal: { id: 'ann', roles: [] },
      onEvent: (event) => events.push(event),
    });
    expect(result).toMatchObject({ status: 'completed', answer: 'Hello from the fallback.' });
    expect(anthropic.requests).toHaveLength(1);
    const decided = events.flatMap((event) => (event.type === 'action.decided' ? [`${event.name}:${event.authority}`] : []));
    expect(decided).toEqual(['openai:gpt-4o-mini:autonomous', 'anthropic:claude-haiku-4-5:notify_human', 'answer:autonomous']);
    const recorded: string[] = [];
    const serialized: string[] = [];
    for await (const event of readRunEvents(store, result.runId)) {
      recorded.push(event.type);
      serialized.push(JSON.stringify(event));
    }
    expect(recorded.filter((type) => type === 'model.requested')).toHaveLength(2);
    expect(serialized.join('\n')).toContain('primary down');
    expect(serialized.join('\n')).not.toMatch(/sk-test-openai|sk-ant-test/);
  });

  it('does not call a fallback the policy denies', async () => {
    const { workspace, anthropic } = await setUp('deny');
    const result = await workspace.runtime.start('helper', 'Say hello.', { principal: { id: 'ann', roles: [] } });
    expect(result.status).toBe('failed');
    if (result.status === 'failed') expect(result.error).toMatch(/openai:gpt-4o-mini/);
    expect(anthropic.requests).toHaveLength(0);
  });
});
