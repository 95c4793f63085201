// The LLM gateway driven by the real `openai` and `@anthropic-ai/sdk` clients through `factory
// serve` (a real server on loopback, PGlite) to local servers speaking each provider's wire
// protocol: plain, streamed and tool-calling answers, upstream errors, retries and fallback, a
// denial and a masked request, with the trace (decision before the call, usage and cost after,
// attributed to the token's team and the request's feature) and the provider key kept out of it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { createAdaptorServer } from '@hono/node-server';
import {
  startAnthropicWireServer,
  startOpenAIWireServer,
  type WireReply,
  type WireRequest,
  type WireServer,
} from '@aifactory/execution/testing';
import { listNotifications } from '@aifactory/execution';
import { createApiToken, gatewayConfig, startServer, type RunningServer } from '@aifactory/server';
import { openStore, sql, type Store } from '@aifactory/store';
import { readRunEvents, summarizeUsage, verifyRun } from '@aifactory/verification';
import { workspaceConfigAt } from '@aifactory/workspace';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const openAIKey = 'sk-provider-openai-0123456789abcdef';
const anthropicKey = 'sk-ant-provider-0123456789abcdef';
const backupKey = 'sk-provider-backup-0123456789abcdef';
const spareKey = 'sk-ant-provider-spare-0123456789abcdef';

const policy = `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: gateway, version: 1, owner: platform@acme.example }
spec:
  default: { tool: deny, model: deny, retrieval: deny, handoff: deny, answer: deny }
  rules:
    - id: approved-models
      match: { kind: model, name: ["openai:gpt-4o-mini", "openai:gpt-4o", "backup:*", "anthropic:claude-haiku-4-5", "anthropic:claude-opus-4-5", "spare:*"] }
      authority: autonomous
    - id: charged-to-a-team
      match: { kind: model }
      when: action.args.team == null
      authority: deny
      reason: Gateway calls are charged to a team; give the token a team.<name> role.
    - id: no-project-names
      match: { kind: model }
      when: action.args.content.matches("(?i)project bluebird")
      authority: deny
      reason: Project Bluebird is not discussed with external models.
      notify: [inbox:risk]
    - id: no-fallback-to-the-expensive-one
      match: { kind: model, name: "backup:gpt-4o-premium" }
      authority: deny
      reason: The premium backup model is not a fallback.
    - id: board-reports-need-a-lead
      match: { kind: model }
      when: action.args.feature == "board-report"
      authority: require_approval
      approvers: { roles: [ai-lead], expires_in: 2h }
      reason: Board reports are read by an AI lead before they go to a model.
    - id: mask-personal-data
      match: { kind: model }
      when: '"pii" in data.classifications'
      authority: autonomous
      redact: [content]
`;

type Handler = (request: WireRequest) => WireReply;

describe('the LLM gateway', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'aif-gateway-'));
  let store: Store;
  let server: RunningServer;
  let openAIUpstream: WireServer;
  let anthropicUpstream: WireServer;
  let backupUpstream: WireServer;
  let spareUpstream: WireServer;
  const handlers: { openai?: Handler; anthropic?: Handler; backup?: Handler; spare?: Handler } = {};
  const logs: Array<Record<string, unknown>> = [];
  let token: string;
  let teamless: string;
  let auditor: string;

  beforeAll(async () => {
    openAIUpstream = await startOpenAIWireServer({
      apiKey: openAIKey,
      handler: (request) => handlers.openai?.(request) ?? { type: 'answer', text: 'Hello from OpenAI.' },
    });
    anthropicUpstream = await startAnthropicWireServer({
      apiKey: anthropicKey,
      handler: (request) => handlers.anthropic?.(request) ?? { type: 'answer', text: 'Hello from Claude.' },
    });
    backupUpstream = await startOpenAIWireServer({
      apiKey: backupKey,
      handler: (request) => handlers.backup?.(request) ?? { type: 'answer', text: 'Hello from the backup.' },
    });
    spareUpstream = await startAnthropicWireServer({
      apiKey: spareKey,
      handler: (request) => handlers.spare?.(request) ?? { type: 'answer', text: 'Hello from the spare Claude.' },
    });
    const policies = path.join(root, 'policies', 'gateway');
    mkdirSync(policies, { recursive: true });
    writeFileSync(path.join(policies, 'policy.yaml'), policy);
    const config = gatewayConfig(
      {
        providers: {
          openai: { base_url: openAIUpstream.url, api_key_env: 'GW_OPENAI_KEY' },
          anthropic: { base_url: anthropicUpstream.url, api_key_env: 'GW_ANTHROPIC_KEY' },
          backup: { base_url: backupUpstream.url, api_key_env: 'GW_BACKUP_KEY' },
          spare: { kind: 'anthropic', base_url: spareUpstream.url, api_key_env: 'GW_SPARE_KEY' },
        },
        models: { fast: 'openai:gpt-4o-mini' },
        fallbacks: {
          'openai:gpt-4o': ['backup:gpt-4o-premium', 'backup:gpt-4o-mini'],
          'anthropic:claude-opus-4-5': ['spare:claude-haiku-4-5'],
        },
        policies: [policies],
        max_retries: 1,
        backoff: { initial_delay: '5ms', max_delay: '20ms' },
        prices: { 'backup:gpt-4o-mini': { input_per_million: 1, output_per_million: 2 } },
        budgets: [{ team: 'thrifty', max_cost_usd: 0.000001, period: 'day' }],
        rate_limits: [{ team: 'bursty', requests_per_minute: 6, burst: 2 }],
      },
      { env: { GW_OPENAI_KEY: openAIKey, GW_ANTHROPIC_KEY: anthropicKey, GW_BACKUP_KEY: backupKey, GW_SPARE_KEY: spareKey } },
    );
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(root, { policiesDir: path.join(root, 'policies'), agentsDir: path.join(root, 'agents') }),
      port: 0,
      log: (line) => logs.push(line),
      recovery: false,
      llmGateway: config,
    });
    token = (await createApiToken(store, { principal: 'checkout-app', roles: ['gateway', 'team.payments'] })).token;
    teamless = (await createApiToken(store, { principal: 'stray-app', roles: ['gateway'] })).token;
    auditor = (await createApiToken(store, { principal: 'audrey', roles: ['auditor', 'team.payments'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    await Promise.all([openAIUpstream?.close(), anthropicUpstream?.close(), backupUpstream?.close(), spareUpstream?.close()]);
    rmSync(root, { recursive: true, force: true });
  });

  const openai = (apiKey = token, headers: Record<string, string> = { 'x-aifactory-feature': 'checkout-chat' }) =>
    new OpenAI({ apiKey, baseURL: `${server.url}/gateway/openai/v1`, maxRetries: 0, defaultHeaders: headers });
  const anthropic = (apiKey = token) =>
    new Anthropic({
      apiKey,
      baseURL: `${server.url}/gateway/anthropic`,
      maxRetries: 0,
      defaultHeaders: { 'x-aifactory-feature': 'support-summaries' },
    });

  /** The events of a run, parsed, after the gateway wrote what it deferred. */
  async function trace(runId: string) {
    await server.llmGateway!.flush();
    const events: Array<{ type: string; payload: Record<string, unknown> }> = [];
    for await (const event of readRunEvents(store, runId))
      events.push({ type: event.type, payload: JSON.parse(event.payloadText ?? 'null') as Record<string, unknown> });
    return events;
  }

  /** The events of one step of a run. */
  const stepEvents = async (runId: string, step: number) => (await trace(runId)).filter((event) => event.payload?.step === step);

  it("returns the app's own X-Request-Id on a whole answer and logs it redacted when it holds a key", async () => {
    const own = 'checkout-7f3a';
    const plain = await openai(token, { 'x-aifactory-feature': 'checkout-chat', 'x-request-id': own })
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi there' }] })
      .withResponse();
    expect(plain.response.headers.get('x-request-id')).toBe(own);
    expect(logs).toContainEqual(expect.objectContaining({ event: 'http.request', request_id: own, status: 200 }));
    const key = `sk-proj-${'Ab3'.repeat(14)}`;
    const secret = await openai(token, { 'x-aifactory-feature': 'checkout-chat', 'x-request-id': key })
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi there' }] })
      .withResponse();
    expect(secret.response.headers.get('x-request-id')).toBe(key);
    expect(JSON.stringify(logs)).not.toContain(key.slice(8));
  });

  it('answers an OpenAI chat completion through the provider, with the provider key, recording the decision before the call and the usage after', async () => {
    const before = openAIUpstream.requests.length;
    const { data, response } = await openai()
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi there' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from OpenAI.');
    // The server's request id rides on the gateway's own answer, as on every other route's, and names its log line.
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs).toContainEqual(
      expect.objectContaining({ event: 'http.request', request_id: requestId, route: '/gateway/openai/v1/chat/completions', status: 200 }),
    );
    const upstream = openAIUpstream.requests[before]!;
    expect(upstream.headers.authorization).toBe(`Bearer ${openAIKey}`);
    expect(upstream.body?.model).toBe('gpt-4o-mini');
    const runId = response.headers.get('x-aifactory-run')!;
    const step = Number(response.headers.get('x-aifactory-step'));
    const events = await stepEvents(runId, step);
    expect(events.map((event) => event.type)).toEqual(['policy.decided', 'model.requested', 'model.responded']);
    const decided = events[0]!.payload as { action: { name: string; args: Record<string, unknown> }; decision: { authority: string } };
    expect(decided.action.name).toBe('openai:gpt-4o-mini');
    expect(decided.action.args).toMatchObject({
      team: 'payments',
      feature: 'checkout-chat',
      endpoint: 'openai.chat.completions',
      content: 'Hi there',
    });
    expect(decided.decision.authority).toBe('autonomous');
    expect(events[2]!.payload).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-mini',
      content: 'Hello from OpenAI.',
      usage: { inputTokens: data.usage!.prompt_tokens, outputTokens: data.usage!.completion_tokens },
    });
    expect(events[2]!.payload.cost_usd).toBeGreaterThan(0);
    const usage = await summarizeUsage(store, { by: ['team', 'feature'] });
    expect(usage.rows.find((row) => row.team === 'payments' && row.feature === 'checkout-chat')?.calls).toBeGreaterThanOrEqual(1);
  });

  it('resolves model aliases and streams OpenAI tool calls chunk by chunk, keeping the usage chunk it asked for from an app that did not', async () => {
    handlers.openai = () => ({
      type: 'answer',
      text: 'Checking.',
      toolCalls: [{ id: 'call_1', name: 'lookup_order', args: { order: 'A-1042' } }],
      chunkSize: 3,
    });
    try {
      const before = openAIUpstream.requests.length;
      const { data: stream, response } = await openai()
        .chat.completions.create({
          model: 'fast',
          stream: true,
          messages: [{ role: 'user', content: 'Where is order A-1042?' }],
          tools: [
            {
              type: 'function',
              function: { name: 'lookup_order', parameters: { type: 'object', properties: { order: { type: 'string' } } } },
            },
          ],
        })
        .withResponse();
      let text = '';
      let args = '';
      let chunks = 0;
      let usageChunks = 0;
      for await (const chunk of stream) {
        chunks++;
        if (chunk.usage) usageChunks++;
        text += chunk.choices[0]?.delta.content ?? '';
        args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      }
      expect(text).toBe('Checking.');
      expect(JSON.parse(args)).toEqual({ order: 'A-1042' });
      expect(chunks).toBeGreaterThan(5);
      expect(usageChunks).toBe(0);
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(openAIUpstream.requests[before]!.body).toMatchObject({ model: 'gpt-4o-mini', stream_options: { include_usage: true } });
      const runId = response.headers.get('x-aifactory-run')!;
      const responded = (await stepEvents(runId, Number(response.headers.get('x-aifactory-step')))).find(
        (event) => event.type === 'model.responded',
      )!;
      expect(responded.payload).toMatchObject({
        content: 'Checking.',
        tool_calls: [{ id: 'call_1', name: 'lookup_order', arguments: '{"order":"A-1042"}' }],
        finish_reason: 'tool_calls',
      });
      expect((responded.payload.usage as { inputTokens: number }).inputTokens).toBeGreaterThan(0);
    } finally {
      delete handlers.openai;
    }
  });

  it('answers Anthropic messages whole and streamed with tool use, authenticated by x-api-key', async () => {
    const message = await anthropic().messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(message.content).toEqual([{ type: 'text', text: 'Hello from Claude.' }]);
    expect(anthropicUpstream.requests.at(-1)!.headers['x-api-key']).toBe(anthropicKey);
    handlers.anthropic = () => ({
      type: 'answer',
      text: 'Let me look.',
      toolCalls: [{ id: 'toolu_1', name: 'get_weather', args: { city: 'Paris' } }],
    });
    try {
      const stream = anthropic().messages.stream({
        model: 'claude-haiku-4-5',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      });
      const deltas: string[] = [];
      stream.on('text', (text) => deltas.push(text));
      const final = await stream.finalMessage();
      expect(deltas.join('')).toBe('Let me look.');
      expect(final.content[1]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
      expect(final.stop_reason).toBe('tool_use');
      const { response } = await stream.withResponse();
      const events = await stepEvents(response.headers.get('x-aifactory-run')!, Number(response.headers.get('x-aifactory-step')));
      const responded = events.find((event) => event.type === 'model.responded')!;
      expect(responded.payload).toMatchObject({
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        content: 'Let me look.',
        tool_calls: [{ name: 'get_weather', arguments: '{"city": "Paris"}'.replace(': ', ':') }],
        finish_reason: 'tool_use',
      });
      const decided = events.find((event) => event.type === 'policy.decided')!.payload as { action: { args: Record<string, unknown> } };
      expect(decided.action.args).toMatchObject({ feature: 'support-summaries', team: 'payments', tools: ['get_weather'] });
    } finally {
      delete handlers.anthropic;
    }
  });

  it('denies with a 403 in the provider\u2019s error shape, sends nothing upstream, and records the denial', async () => {
    const before = openAIUpstream.requests.length + anthropicUpstream.requests.length;
    const denied = await openai()
      .chat.completions.create({ model: 'gpt-4-forbidden', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((denied as InstanceType<typeof OpenAI.PermissionDeniedError>).status).toBe(403);
    expect((denied as Error).message).toMatch(/denied by the default authority/);
    const content = await anthropic()
      .messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'Tell me about Project Bluebird.' }],
      })
      .catch((error: unknown) => error);
    expect(content).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((content as Error).message).toMatch(/Project Bluebird is not discussed with external models/);
    // The rule's notify obligation is carried out by the gate, as for an agent's own model call.
    const contentRun = (content as InstanceType<typeof Anthropic.PermissionDeniedError>).headers.get('x-aifactory-run')!;
    expect((await trace(contentRun)).map((event) => event.type)).toContain('notification.queued');
    const told = await listNotifications(store, { inbox: 'risk' });
    expect(
      told.map((notification) => [
        notification.runId,
        (notification.payload as { authority: string }).authority,
        (notification.payload as { reason: string }).reason,
      ]),
    ).toEqual([[contentRun, 'deny', 'Denied by gateway/no-project-names: Project Bluebird is not discussed with external models.']]);
    const teamlessError = await openai(teamless)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    expect((teamlessError as Error).message).toMatch(/charged to a team/);
    expect(openAIUpstream.requests.length + anthropicUpstream.requests.length).toBe(before);
    const headers = (denied as InstanceType<typeof OpenAI.PermissionDeniedError>).headers;
    const events = await stepEvents(headers.get('x-aifactory-run')!, Number(headers.get('x-aifactory-step')));
    expect(events.map((event) => event.type)).toEqual(['policy.decided']);
    expect((events[0]!.payload.decision as { authority: string }).authority).toBe('deny');
  });

  it('masks personal data before it leaves when the decision obliges it: the provider never sees it, nor does the trace', async () => {
    const before = openAIUpstream.requests.length;
    const { response } = await openai()
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Refund jane.doe@example.com on card 4111 1111 1111 1111, thanks.' }],
      })
      .withResponse();
    const sent = JSON.stringify(openAIUpstream.requests[before]!.body);
    expect(sent).not.toContain('jane.doe@example.com');
    expect(sent).not.toContain('4111 1111 1111 1111');
    expect(sent).toContain('Refund [EMAIL] on card [CARD], thanks.');
    const events = await stepEvents(response.headers.get('x-aifactory-run')!, Number(response.headers.get('x-aifactory-step')));
    const recorded = JSON.stringify(events);
    expect(recorded).not.toContain('jane.doe@example.com');
    expect(recorded).not.toContain('4111 1111 1111 1111');
    const decided = events[0]!.payload as { action: { args: Record<string, unknown> }; decision: { obligations: { redact: string[] } } };
    expect(decided.action.args.classifications).toEqual(['pii']);
    expect(decided.decision.obligations.redact).toEqual(['content']);
    expect(events.find((event) => event.type === 'model.responded')!.payload.masked).toEqual({ email: 1, card: 1 });
  });

  it('passes a provider\u2019s own 400 through, retries a failing provider, and answers with its error when nothing else may answer', async () => {
    handlers.openai = () => ({ type: 'error', status: 400, message: "Invalid value for 'temperature'." });
    try {
      const bad = await openai()
        .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
        .catch((error: unknown) => error);
      expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
      expect((bad as Error).message).toContain("Invalid value for 'temperature'.");
      handlers.openai = () => ({ type: 'error', status: 500, message: 'Boom.' });
      const before = openAIUpstream.requests.length;
      const failed = await openai()
        .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
        .catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(OpenAI.InternalServerError);
      expect(openAIUpstream.requests.length - before).toBe(2);
      const headers = (failed as InstanceType<typeof OpenAI.InternalServerError>).headers;
      expect(headers.get('x-should-retry')).toBe('false');
      const events = await stepEvents(headers.get('x-aifactory-run')!, Number(headers.get('x-aifactory-step')));
      expect(events.map((event) => event.type)).toEqual(['policy.decided', 'model.requested', 'model.failed']);
      expect(events[2]!.payload.error).toMatch(/openai:gpt-4o-mini failed after 2 attempts: status 500/);
    } finally {
      delete handlers.openai;
    }
  });

  it('falls back among the models the policy allows when the primary is unavailable, each decided and recorded', async () => {
    handlers.openai = () => ({ type: 'error', status: 503, message: 'Overloaded.' });
    try {
      const backupBefore = backupUpstream.requests.length;
      const { data, response } = await openai()
        .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
        .withResponse();
      expect(data.choices[0]!.message.content).toBe('Hello from the backup.');
      expect(response.headers.get('x-aifactory-model')).toBe('backup:gpt-4o-mini');
      expect(backupUpstream.requests.slice(backupBefore).map((request) => request.body?.model)).toEqual(['gpt-4o-mini']);
      expect(backupUpstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${backupKey}`);
      const events = await stepEvents(response.headers.get('x-aifactory-run')!, Number(response.headers.get('x-aifactory-step')));
      const decisions = events
        .filter((event) => event.type === 'policy.decided')
        .map(
          (event) => `${(event.payload.action as { name: string }).name}:${(event.payload.decision as { authority: string }).authority}`,
        );
      expect(decisions).toEqual(['openai:gpt-4o:autonomous', 'backup:gpt-4o-premium:deny', 'backup:gpt-4o-mini:autonomous']);
      expect(events.map((event) => event.type)).toEqual([
        'policy.decided',
        'model.requested',
        'model.failed',
        'policy.decided',
        'policy.decided',
        'model.requested',
        'model.responded',
      ]);
      expect(events.at(-1)!.payload).toMatchObject({ provider: 'backup', model: 'gpt-4o-mini', fallback_used: true, attempts: 3 });
    } finally {
      delete handlers.openai;
    }
  });

  it('answers an OpenAI tool call whole, as the provider proposed it, and records the call it proposed', async () => {
    handlers.openai = () => ({ type: 'answer', toolCalls: [{ id: 'call_9', name: 'lookup_order', args: { order: 'A-7' } }] });
    try {
      const { data, response } = await openai()
        .chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'Where is order A-7?' }],
          tools: [
            {
              type: 'function',
              function: { name: 'lookup_order', parameters: { type: 'object', properties: { order: { type: 'string' } } } },
            },
          ],
        })
        .withResponse();
      const call = data.choices[0]!.message.tool_calls![0]!;
      expect(call).toMatchObject({ id: 'call_9', type: 'function', function: { name: 'lookup_order' } });
      expect(JSON.parse((call as { function: { arguments: string } }).function.arguments)).toEqual({ order: 'A-7' });
      expect(data.choices[0]!.finish_reason).toBe('tool_calls');
      const events = await stepEvents(response.headers.get('x-aifactory-run')!, Number(response.headers.get('x-aifactory-step')));
      expect(events.find((event) => event.type === 'model.responded')!.payload).toMatchObject({
        tool_calls: [{ id: 'call_9', name: 'lookup_order', arguments: '{"order":"A-7"}' }],
        finish_reason: 'tool_calls',
      });
    } finally {
      delete handlers.openai;
    }
  });

  it('gives an Anthropic app what an OpenAI app gets: masking before anything leaves, the provider\u2019s own errors, retries, and fallback to another Claude model the policy allows', async () => {
    // Masked: neither the provider nor the trace sees the personal data.
    const before = anthropicUpstream.requests.length;
    const { data: message, response } = await anthropic()
      .messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'Refund jane.doe@example.com on card 4111 1111 1111 1111, thanks.' }],
      })
      .withResponse();
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from Claude.' });
    const sent = JSON.stringify(anthropicUpstream.requests[before]!.body);
    expect(sent).not.toContain('jane.doe@example.com');
    expect(sent).not.toContain('4111 1111 1111 1111');
    expect(sent).toContain('Refund [EMAIL] on card [CARD], thanks.');
    const masked = await stepEvents(response.headers.get('x-aifactory-run')!, Number(response.headers.get('x-aifactory-step')));
    expect(JSON.stringify(masked)).not.toContain('jane.doe@example.com');
    expect(masked.find((event) => event.type === 'model.responded')!.payload.masked).toEqual({ email: 1, card: 1 });

    const ask = (model: string) => ({ model, max_tokens: 50, messages: [{ role: 'user' as const, content: 'Summarise ticket 7.' }] });
    try {
      // The provider's own 400 reaches the app as the Anthropic SDK's own error, not retried.
      handlers.anthropic = () => ({ type: 'error', status: 400, message: 'max_tokens is too large for this model.' });
      const badBefore = anthropicUpstream.requests.length;
      const bad = await anthropic()
        .messages.create(ask('claude-haiku-4-5'))
        .catch((error: unknown) => error);
      expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
      expect((bad as InstanceType<typeof Anthropic.BadRequestError>).message).toMatch(/max_tokens is too large/);
      expect(anthropicUpstream.requests.length).toBe(badBefore + 1);

      // Overloaded (529): retried, then answered by the fallback the policy allows, with its own key.
      handlers.anthropic = () => ({ type: 'error', status: 529, message: 'Overloaded.' });
      const primaryBefore = anthropicUpstream.requests.length;
      const { data: fallback, response: fallbackResponse } = await anthropic().messages.create(ask('claude-opus-4-5')).withResponse();
      expect(fallback.content[0]).toMatchObject({ type: 'text', text: 'Hello from the spare Claude.' });
      expect(fallbackResponse.headers.get('x-aifactory-model')).toBe('spare:claude-haiku-4-5');
      expect(anthropicUpstream.requests.length - primaryBefore).toBe(2);
      expect(spareUpstream.requests.at(-1)!.headers['x-api-key']).toBe(spareKey);
      const events = await stepEvents(
        fallbackResponse.headers.get('x-aifactory-run')!,
        Number(fallbackResponse.headers.get('x-aifactory-step')),
      );
      expect(events.map((event) => event.type)).toEqual([
        'policy.decided',
        'model.requested',
        'model.failed',
        'policy.decided',
        'model.requested',
        'model.responded',
      ]);
      expect(events.at(-1)!.payload).toMatchObject({ provider: 'spare', model: 'claude-haiku-4-5', fallback_used: true, attempts: 3 });

      // No fallback left: after its retries the app gets the provider's 529 as the SDK raises it.
      const failed = await anthropic()
        .messages.create(ask('claude-haiku-4-5'))
        .catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(Anthropic.InternalServerError);
      expect((failed as InstanceType<typeof Anthropic.InternalServerError>).status).toBe(529);
    } finally {
      delete handlers.anthropic;
    }
  });

  it('limits a team\u2019s request rate: past its burst both SDKs get their own rate-limit error saying when to retry, nothing goes upstream, and other teams go on', async () => {
    const bursty = (await createApiToken(store, { principal: 'bursty-app', roles: ['gateway', 'team.bursty'] })).token;
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
    await openai(bursty).chat.completions.create(ask);
    await openai(bursty).chat.completions.create(ask);
    const openAIBefore = openAIUpstream.requests.length;
    const anthropicBefore = anthropicUpstream.requests.length;
    const limited = await openai(bursty)
      .chat.completions.create(ask)
      .catch((error: unknown) => error);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).message).toMatch(/6 requests per minute for team bursty/);
    expect(Number((limited as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after'))).toBeGreaterThan(0);
    const limitedAnthropic = await anthropic(bursty)
      .messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    expect(limitedAnthropic).toBeInstanceOf(Anthropic.RateLimitError);
    expect(openAIUpstream.requests.length).toBe(openAIBefore);
    expect(anthropicUpstream.requests.length).toBe(anthropicBefore);
    // Another team is not held back by it.
    const other = await openai().chat.completions.create(ask);
    expect(other.choices[0]!.message.content).toBe('Hello from OpenAI.');
  });

  it('refuses callers without a valid token or the gateway role, and a team whose budget is spent, in the provider\u2019s error shape', async () => {
    const unauthenticated = await openai('aif_not-a-real-token-000000000000')
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    expect(unauthenticated).toBeInstanceOf(OpenAI.AuthenticationError);
    const noRole = await anthropic(auditor)
      .messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    expect(noRole).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((noRole as Error).message).toMatch(/needs one of the roles gateway, operator, admin/);
    const thrifty = (await createApiToken(store, { principal: 'thrifty-app', roles: ['gateway', 'team.thrifty'] })).token;
    await openai(thrifty).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    const spent = await openai(thrifty)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi again' }] })
      .catch((error: unknown) => error);
    expect(spent).toBeInstanceOf(OpenAI.RateLimitError);
    expect((spent as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('insufficient_quota');
    expect((spent as Error).message).toMatch(/Budget spent \(team thrifty: 0\.000001 USD per day/);
  });

  it('answers in front of Hono exactly as through Hono: the same refusals of a missing, bad or role-less token and a bad body, with the same headers and log lines, and leaves a query string, a chunked or oversized body and a foreign Host to Hono', async () => {
    // The same app served by Hono alone, on a second socket: the answers to compare with.
    const honoOnly = createAdaptorServer({ fetch: (request, env) => server.http.app.fetch(request, env) }) as Server;
    await new Promise<void>((resolve) => honoOnly.listen(0, '127.0.0.1', () => resolve()));
    const honoUrl = `http://127.0.0.1:${(honoOnly.address() as AddressInfo).port}`;
    const send = async (base: string, target: string, init: RequestInit & { headers?: Record<string, string> }) => {
      const from = logs.length;
      const response = await fetch(`${base}${target}`, { method: 'POST', ...init });
      const text = await response.text();
      // What differs by the socket's port alone is written as <base>.
      const body = text.replaceAll(base, '<base>');
      const headers = Object.fromEntries(
        ['content-type', 'www-authenticate', 'retry-after', 'x-request-id', 'connection'].map((name) => [
          name,
          response.headers.get(name)?.replaceAll(base, '<base>') ?? null,
        ]),
      );
      const lines = logs
        .slice(from)
        .filter((line) => line.event === 'http.request' || line.event === 'auth.decided')
        .map(({ duration_ms: _duration, ...line }) => line);
      return { status: response.status, body, headers, lines };
    };
    const request = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    const json = { 'content-type': 'application/json', 'x-request-id': 'compare-1' };
    const cases: Array<[string, RequestInit & { headers?: Record<string, string> }]> = [
      ['/gateway/openai/v1/chat/completions', { headers: json, body: request }],
      [
        '/gateway/openai/v1/chat/completions',
        { headers: { ...json, authorization: 'Bearer aif_not-a-real-token-000000000000' }, body: request },
      ],
      ['/gateway/anthropic/v1/messages', { headers: { ...json, 'x-api-key': 'aif_not-a-real-token-000000000000' }, body: request }],
      ['/gateway/openai/v1/chat/completions', { headers: { ...json, authorization: `Bearer ${auditor}` }, body: request }],
      ['/gateway/openai/v1/chat/completions', { headers: { ...json, authorization: `Bearer ${token}` }, body: '{"model": ' }],
      [
        '/gateway/openai/v1/chat/completions',
        { headers: { ...json, authorization: `Bearer ${token}`, 'x-aifactory-as': 'someone-else' }, body: request },
      ],
      ['/gateway/openai/v1/chat/completions?x=1', { headers: { ...json, authorization: `Bearer ${token}` }, body: '[]' }],
      [
        '/gateway/openai/v1/chat/completions',
        { headers: { ...json, authorization: `Bearer ${token}` }, body: 'x'.repeat(1024 * 1024 + 1) },
      ],
    ];
    try {
      for (const [target, init] of cases) {
        const fast = await send(server.url, target, init);
        const hono = await send(honoUrl, target, init);
        expect(fast, `${target} ${JSON.stringify(init.headers)}`).toEqual(hono);
        expect(fast.status).toBeGreaterThanOrEqual(400);
        expect(fast.lines.filter((line) => line.event === 'http.request')).toHaveLength(1);
      }
      // Hono's app sees none of the gateway's ordinary requests, and every one the route leaves to it.
      const honoFetch = vi.spyOn(server.http.app, 'fetch');
      try {
        await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
        expect(honoFetch).not.toHaveBeenCalled();
        await send(server.url, '/gateway/openai/v1/chat/completions?x=1', { headers: json, body: request });
        expect(honoFetch).toHaveBeenCalledTimes(1);
      } finally {
        honoFetch.mockRestore();
      }
      // A body sent in chunks (no Content-Length) goes through Hono's body limit, and is answered.
      const chunked = await fetch(`${server.url}/gateway/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-aifactory-feature': 'checkout-chat' },
        body: new Blob([request]).stream(),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(200);
      // A Host the server does not answer to is refused by the host guard, as on every route.
      const foreign = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const outgoing = httpRequest(
          `${server.url}/gateway/openai/v1/chat/completions`,
          { method: 'POST', headers: { host: 'evil.example', 'content-type': 'application/json', authorization: `Bearer ${token}` } },
          (incoming) => {
            let body = '';
            incoming.on('data', (chunk: Buffer) => (body += chunk.toString()));
            incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body }));
          },
        );
        outgoing.on('error', reject);
        outgoing.end(request);
      });
      expect(foreign.status).toBe(403);
      expect((JSON.parse(foreign.body) as { error: { message: string } }).error.message).toMatch(
        /^Host "evil.example" is not one this server answers to/,
      );
    } finally {
      honoOnly.close();
    }
  });

  /** A vote through the HTTP API, as an approver casts it. */
  async function vote(approvalId: string, kind: 'approve' | 'reject', comment?: string) {
    const lead = (await createApiToken(store, { principal: `lead-${kind}@acme.example`, roles: ['approver', 'ai-lead'] })).token;
    const response = await fetch(`${server.url}/v1/approvals/${approvalId}/${kind}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${lead}`, 'content-type': 'application/json' },
      body: JSON.stringify(comment ? { comment } : {}),
    });
    expect(response.status).toBe(200);
  }

  it('holds a request the policy holds for approval: answers at once with the approval an SDK user can act on, and lets exactly that request through once when it is sent again approved', async () => {
    const board = openai(token, { 'x-aifactory-feature': 'board-report' });
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Summarise Q3 for the board.' }] };
    const before = openAIUpstream.requests.length;
    const held = (await board.chat.completions.create(ask).catch((error: unknown) => error)) as InstanceType<
      typeof OpenAI.PermissionDeniedError
    >;
    expect(held).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(held.code).toBe('approval_required');
    const approval = (
      held.error as { approval: { id: string; status: string; expires_at: string; approvers: { roles: string[] }; retry_header: string } }
    ).approval;
    expect(approval).toMatchObject({ status: 'pending', approvers: { roles: ['ai-lead'] }, retry_header: 'x-aifactory-approval' });
    expect(held.headers.get('x-aifactory-approval')).toBe(approval.id);
    expect(new Date(approval.expires_at).getTime() - Date.now()).toBeGreaterThan(100 * 60_000);
    expect(held.message).toMatch(
      new RegExp(
        `held for approval ${approval.id} \\(rule 'board-reports-need-a-lead'.*An approver with role ai-lead other than checkout-app decides.*x-aifactory-approval: ${approval.id}`,
      ),
    );
    expect(openAIUpstream.requests.length).toBe(before);
    const runId = held.headers.get('x-aifactory-run')!;
    const step = Number(held.headers.get('x-aifactory-step'));
    expect((await stepEvents(runId, step)).map((event) => event.type)).toEqual(['policy.decided', 'approval.requested']);
    expect((await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`))[0]?.status).toBe('held');

    // Sent again before anyone decided: still held, nothing sent.
    const retry = { headers: { 'x-aifactory-approval': approval.id } };
    const pending = (await board.chat.completions.create(ask, retry).catch((error: unknown) => error)) as InstanceType<
      typeof OpenAI.PermissionDeniedError
    >;
    expect(pending.code).toBe('approval_pending');
    // The approval lets only the request it was given for through.
    const other = (await board.chat.completions
      .create({ ...ask, messages: [{ role: 'user', content: 'Something else entirely.' }] }, retry)
      .catch((error: unknown) => error)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(other).toBeInstanceOf(OpenAI.BadRequestError);
    expect(other.code).toBe('approval_mismatch');
    const stranger = (await createApiToken(store, { principal: 'other-app', roles: ['gateway', 'team.payments'] })).token;
    const foreign = (await openai(stranger, { 'x-aifactory-feature': 'board-report' })
      .chat.completions.create(ask, retry)
      .catch((error: unknown) => error)) as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(foreign.message).toMatch(/another principal/);
    expect(openAIUpstream.requests.length).toBe(before);

    await vote(approval.id, 'approve');
    const { data, response } = await board.chat.completions.create(ask, retry).withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from OpenAI.');
    expect(openAIUpstream.requests.length).toBe(before + 1);
    expect(response.headers.get('x-aifactory-run')).toBe(runId);
    const events = await stepEvents(runId, step);
    expect(events.map((event) => event.type)).toEqual([
      'policy.decided',
      'approval.requested',
      'approval.granted',
      'approval.consumed',
      'model.requested',
      'model.responded',
    ]);
    expect(events[4]!.payload.approval_id).toBe(approval.id);
    // The held run served that one request and ends with it.
    await vi.waitFor(async () =>
      expect((await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`))[0]?.status).toBe('completed'),
    );

    // Single use: the same approval does not let the request through twice.
    const again = (await board.chat.completions.create(ask, retry).catch((error: unknown) => error)) as InstanceType<
      typeof OpenAI.PermissionDeniedError
    >;
    expect(again.code).toBe('approval_used');
    expect(openAIUpstream.requests.length).toBe(before + 1);
  });

  it('refuses a held Anthropic request once its approval is rejected, with who rejected it and why, and ends its run', async () => {
    const client = new Anthropic({
      apiKey: token,
      baseURL: `${server.url}/gateway/anthropic`,
      maxRetries: 0,
      defaultHeaders: { 'x-aifactory-feature': 'board-report' },
    });
    const ask = { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user' as const, content: 'Draft the board letter.' }] };
    const held = (await client.messages.create(ask).catch((error: unknown) => error)) as InstanceType<
      typeof Anthropic.PermissionDeniedError
    >;
    expect(held).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const body = held.error as { error: { code: string; approval: { id: string } } };
    expect(body.error.code).toBe('approval_required');
    const approvalId = body.error.approval.id;
    await vote(approvalId, 'reject', 'Not before the audit closes.');
    const before = anthropicUpstream.requests.length;
    const refused = (await client.messages
      .create(ask, { headers: { 'x-aifactory-approval': approvalId } })
      .catch((error: unknown) => error)) as InstanceType<typeof Anthropic.PermissionDeniedError>;
    expect(refused).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(refused.message).toMatch(/rejected by lead-reject@acme\.example \(lead-reject@acme\.example: Not before the audit closes\.\)/);
    expect(anthropicUpstream.requests.length).toBe(before);
    const runId = refused.headers.get('x-aifactory-run')!;
    const types = (await trace(runId)).map((event) => event.type);
    expect(types.slice(-4)).toEqual(['approval.requested', 'approval.rejected', 'approval.consumed', 'run.completed']);
  });

  it('keeps provider keys out of the trace and the log, and seals every session run it served when the server stops', async () => {
    await server.llmGateway!.flush();
    const runIds = (await store.query<{ id: string }>(sql`SELECT id FROM runs WHERE agent = 'gateway'`)).map((row) => row.id);
    expect(runIds.length).toBeGreaterThan(0);
    const everything = JSON.stringify(await Promise.all(runIds.map((runId) => trace(runId)))) + JSON.stringify(logs);
    for (const key of [openAIKey, anthropicKey, backupKey, spareKey]) expect(everything).not.toContain(key);
    await server.close();
    for (const runId of runIds) {
      const report = await verifyRun(store, runId, { trustedKeys: [server.workspace.signer.publicKey] });
      expect(report.ok).toBe(true);
      const [row] = await store.query<{ status: string }>(sql`SELECT status FROM runs WHERE id = ${runId}`);
      expect(row?.status).toBe('completed');
    }
  });
});
