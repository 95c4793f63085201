// The gateway's upstream connections are kept alive and reused, and a reused connection never
// stalls a request: many requests in parallel through `factory serve` (PGlite) to the OpenAI wire
// server, whole and streamed, with streams the app abandons half-read and streams the provider
// cuts, each given a deadline; every one ends (answered, or failed with a reason), the trace holds
// an answer (or why there is none) for every request sent, and the provider saw a handful of
// connections, not one per request. A TCP relay in front of the provider counts its connections.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOpenAIWireServer, type WireServer } from '@aifactory/execution/testing';
import { createApiToken, gatewayConfig, startServer, type RunningServer } from '@aifactory/server';
import { openStore, sql, type Store } from '@aifactory/store';
import { workspaceConfigAt } from '@aifactory/workspace';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const policy = `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: gateway, version: 1 }
spec:
  default: { tool: deny, model: deny, retrieval: deny, handoff: deny, answer: deny }
  rules:
    - id: approved-models
      match: { kind: model, name: "openai:gpt-4o-mini" }
      authority: autonomous
`;

/** A loopback TCP relay to `port` that counts the connections made through it. */
async function countingRelay(port: number): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections += 1;
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the gateway’s kept-alive upstream connections', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'aif-gateway-keep-alive-'));
  let store: Store;
  let server: RunningServer;
  let provider: WireServer;
  let relay: Awaited<ReturnType<typeof countingRelay>>;
  let token: string;

  beforeAll(async () => {
    // What the provider does is named in the last user message: a cut stream, or a longer answer.
    provider = await startOpenAIWireServer({
      handler: (request) => {
        const messages = (request.body?.messages ?? []) as Array<{ content?: string }>;
        const asked = messages.at(-1)?.content ?? '';
        if (asked.startsWith('cut')) return { type: 'answer', text: 'This answer is cut off after two events.', breakAfterEvents: 2 };
        // Each event its own write, 20 ms apart: the usage the gateway asked for (and drops) reaches it alone.
        if (asked.startsWith('slow')) return { type: 'answer', text: `A slow answer to ${asked}.`, chunkSize: 16, delayMs: 20 };
        return { type: 'answer', text: `An answer to ${asked}, in several events of eight characters.`, chunkSize: 8 };
      },
    });
    relay = await countingRelay(Number(new URL(provider.url).port));
    const policies = path.join(root, 'policies', 'gateway');
    mkdirSync(policies, { recursive: true });
    writeFileSync(path.join(policies, 'policy.yaml'), policy);
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(root, { policiesDir: path.join(root, 'policies'), agentsDir: path.join(root, 'agents') }),
      port: 0,
      log: () => undefined,
      recovery: false,
      rateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
      llmGateway: gatewayConfig(
        { providers: { openai: { base_url: `http://127.0.0.1:${relay.port}/v1` } }, policies: [policies], max_retries: 0 },
        { env: {} },
      ),
    });
    token = (await createApiToken(store, { principal: 'keep-alive-app', roles: ['gateway', 'team.payments'] })).token;
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
    await relay?.close();
    await provider?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const openai = () => new OpenAI({ apiKey: token, baseURL: `${server.url}/gateway/openai/v1`, maxRetries: 0, timeout: 20_000 });

  it('reuses one connection to the provider for requests one after another, whole and streamed', async () => {
    const client = openai();
    const before = relay.connections();
    for (let index = 0; index < 20; index += 1) {
      if (index % 2 === 0) {
        const completion = await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: `whole ${index}` }],
        });
        expect(completion.choices[0]!.message.content).toContain(`whole ${index}`);
      } else {
        let text = '';
        for await (const chunk of await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: `streamed ${index}` }],
          stream: true,
        }))
          text += chunk.choices[0]?.delta.content ?? '';
        expect(text).toContain(`streamed ${index}`);
      }
    }
    expect(relay.connections() - before).toBeLessThanOrEqual(1);
  });

  it('ends a streamed answer whose provider sends the usage the app did not ask for on its own, after the last text', async () => {
    const client = openai();
    const deadline = AbortSignal.timeout(10_000);
    for (let index = 0; index < 3; index += 1) {
      let text = '';
      let usage: unknown;
      const stream = await client.chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `slow ${index}` }], stream: true },
        { signal: deadline },
      );
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        usage ??= chunk.usage ?? undefined;
      }
      expect(deadline.aborted).toBe(false);
      expect(text).toBe(`A slow answer to slow ${index}.`);
      // The gateway asked the provider for usage to record it; the app did not, and gets none.
      expect(usage).toBeUndefined();
    }
  });

  it('passes a streamed answer through as a web stream where the app is not behind Node’s server (app.request), the same events', async () => {
    const response = await server.http.app.request('/gateway/openai/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'slow web' }], stream: true }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const events = (await response.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events
      .slice(0, -1)
      .map((event) => JSON.parse(event.replace(/^data: /, '')) as { choices: Array<{ delta: { content?: string } }> });
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('A slow answer to slow web.');
    // The usage the gateway asked for is not passed on: every event the app gets has a choice.
    expect(chunks.every((chunk) => chunk.choices.length === 1)).toBe(true);
  });

  it('never stalls a request on a reused connection: streams abandoned by the app or cut by the provider leave no connection behind that a later request waits on', async () => {
    const client = openai();
    const total = 480;
    const parallel = 6;
    const outcomes: Record<string, number> = {};
    const stalled: string[] = [];
    const before = relay.connections();
    const sentBefore = provider.requests.length;
    let next = 0;
    async function one(index: number): Promise<void> {
      // Whole, streamed to the end, streamed and abandoned after the first event, streamed and cut by the provider.
      const kind = (['whole', 'streamed', 'abandoned', 'cut'] as const)[index % 4]!;
      const deadline = new AbortController();
      const timer = setTimeout(() => {
        stalled.push(`${kind} ${index}`);
        deadline.abort();
      }, 15_000);
      const messages = [{ role: 'user' as const, content: `${kind === 'cut' ? 'cut' : kind} ${index}` }];
      try {
        if (kind === 'whole') {
          await client.chat.completions.create({ model: 'gpt-4o-mini', messages }, { signal: deadline.signal });
        } else {
          const stream = await client.chat.completions.create(
            { model: 'gpt-4o-mini', messages, stream: true },
            { signal: deadline.signal },
          );
          for await (const _chunk of stream) if (kind === 'abandoned') break;
        }
        outcomes[`${kind} answered`] = (outcomes[`${kind} answered`] ?? 0) + 1;
      } catch {
        outcomes[`${kind} failed`] = (outcomes[`${kind} failed`] ?? 0) + 1;
      } finally {
        clearTimeout(timer);
      }
    }
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < total) await one(next++);
      }),
    );
    expect(stalled).toEqual([]);
    expect(outcomes['whole answered']).toBe(total / 4);
    expect(outcomes['streamed answered']).toBe(total / 4);
    // Every request reached the provider once; the connections it saw are those the abandoned and
    // cut streams closed, plus the parallel ones, not one per request.
    expect(provider.requests.length - sentBefore).toBe(total);
    expect(relay.connections() - before).toBeLessThanOrEqual(total / 2 + parallel);
    // Every request sent has its answer on the record, or why there is none (and the 20 + 3 + 1 of the tests before).
    await server.llmGateway!.flush();
    const [row] = await store.query<{ count: string | number }>(sql`SELECT count(*) AS count FROM events WHERE type = 'model.responded'`);
    expect(Number(row?.count)).toBe(total + 20 + 3 + 1);
    const after = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'still there?' }] });
    expect(after.choices[0]!.message.content).toContain('still there?');
  });
});
