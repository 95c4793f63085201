// Live OpenTelemetry: with the standard OTEL_* variables set, `factory serve` exports each run's
// GenAI spans as it happens, over OTLP/HTTP protobuf, to a local receiver that decodes them with
// protobufjs against the OTLP trace schema. The spans carry the run's trace id (the one
// `runs export --format otlp` gives it), the GenAI attributes, and no secret from the input. A run
// started by a request that is part of a trace (traceparent) goes in that trace, live and in the
// export, and the request's log line carries that trace id.
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { exportOtlp, genAiSchemaUrl, runSpanId, runTraceId } from '@aifactory/verification';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

// The parts of opentelemetry-proto's trace and common schemas the assertions read, with the
// official field numbers (opentelemetry/proto/collector/trace/v1, trace/v1, common/v1).
const otlpSchema = protobuf
  .parse(
    `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; bytes bytes_value = 7; }
}
message ArrayValue { repeated AnyValue values = 1; }
`,
  )
  .root.lookupType('otlp.ExportTraceServiceRequest');

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code: number; message: string };
  serviceName: unknown;
  scopeSchemaUrl: string;
}

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
};
const plain = (value: AnyValue | undefined): unknown =>
  value === undefined
    ? undefined
    : (value.stringValue ??
      value.boolValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
      value.doubleValue ??
      value.arrayValue?.values?.map(plain));
const attributesOf = (list: Array<{ key: string; value?: AnyValue }> = []) =>
  Object.fromEntries(list.map((item) => [item.key, plain(item.value)]));

describe('live OpenTelemetry from factory serve', () => {
  const workspace = prepareBusinessWorkspace();
  const spans: ReceivedSpan[] = [];
  const bodies: Buffer[] = [];
  const contentTypes = new Set<string>();
  let receiver: Server;
  let store: Store;
  let server: RunningServer;
  let runId: string;
  let tracedRunId: string;
  const logs: Array<Record<string, unknown>> = [];
  const responses = new Map<string, Headers>();
  // The caller's trace: an app's request span, as its traceparent header names it.
  const callerTrace = '0af7651916cd43dd8448eb211c80319c';
  const callerSpan = 'b7ad6b7169203331';
  const ownRun = (span: { traceId: string }) => span.traceId === runTraceId(runId);
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        if (request.url === '/v1/traces') {
          bodies.push(body);
          contentTypes.add(String(request.headers['content-type']));
          const decoded = otlpSchema.toObject(otlpSchema.decode(body), { longs: String, bytes: String, defaults: false }) as {
            resourceSpans?: Array<{
              resource?: { attributes?: Array<{ key: string; value?: AnyValue }> };
              scopeSpans?: Array<{ schemaUrl?: string; spans?: Array<Record<string, unknown>> }>;
            }>;
          };
          for (const resourceSpans of decoded.resourceSpans ?? []) {
            const serviceName = attributesOf(resourceSpans.resource?.attributes)['service.name'];
            for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
              for (const span of scopeSpans.spans ?? []) {
                const hex = (value: unknown) => (value ? Buffer.from(String(value), 'base64').toString('hex') : '');
                spans.push({
                  traceId: hex(span.traceId),
                  spanId: hex(span.spanId),
                  parentSpanId: hex(span.parentSpanId),
                  name: String(span.name),
                  kind: Number(span.kind ?? 0),
                  attributes: attributesOf(span.attributes as Array<{ key: string; value?: AnyValue }>),
                  status: {
                    code: Number((span.status as { code?: number } | undefined)?.code ?? 0),
                    message: String((span.status as { message?: string } | undefined)?.message ?? ''),
                  },
                  serviceName,
                  scopeSchemaUrl: scopeSpans.schemaUrl ?? '',
                });
              }
            }
          }
        }
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    process.env.OTEL_SERVICE_NAME = 'shop-copilot-api';
    process.env.OTEL_BSP_SCHEDULE_DELAY = '50';
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: (line) => logs.push(line),
    });
    const { token } = await createApiToken(store, { principal: 'alice@shop.example', roles: ['operator'] });
    const start = async (input: string, headers: Record<string, string>) => {
      const response = await fetch(`${server.url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ agent: 'order-desk', input }),
      });
      expect(response.status).toBeLessThan(300);
      responses.set(headers['x-request-id']!, response.headers);
      return ((await response.json()) as { runId: string }).runId;
    };
    runId = await start('Where is my order? My key is sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd', { 'x-request-id': 'own-trace' });
    tracedRunId = await start('Where is my order 1042?', {
      'x-request-id': 'caller-trace',
      traceparent: `00-${callerTrace}-${callerSpan}-01`,
    });
    // Closing the server shuts the SDK down, which flushes what is still buffered.
    await server.close();
  });

  afterAll(async () => {
    process.env = savedEnv;
    await store?.close();
    receiver?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  it('exports the run as GenAI spans under its own trace id, over OTLP/HTTP protobuf', () => {
    expect([...contentTypes]).toEqual(['application/x-protobuf']);
    const runSpans = spans.filter(ownRun);
    expect(runSpans.length).toBeGreaterThan(0);
    expect(spans.every((span) => ownRun(span) || span.traceId === callerTrace)).toBe(true);
    const agent = runSpans.find((span) => span.name === 'invoke_agent order-desk')!;
    expect(agent.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'order-desk',
      'gen_ai.conversation.id': runId,
      'enduser.id': 'alice@shop.example',
    });
    expect(agent.status.code).toBe(1);
    const chat = runSpans.filter((span) => span.attributes['gen_ai.operation.name'] === 'chat');
    expect(chat.length).toBeGreaterThan(0);
    for (const span of chat) {
      expect(span.kind).toBe(3); // CLIENT
      expect(span.parentSpanId).toBe(agent.spanId);
      expect(span.attributes['gen_ai.request.model']).toEqual(expect.any(String));
      expect(span.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
      expect(span.attributes['gen_ai.provider.name']).toBe('scripted');
    }
    const decided = runSpans.filter((span) => span.name === 'policy.decided');
    expect(decided.map((span) => span.attributes['aifactory.authority'])).toContain('autonomous');
    expect(new Set(runSpans.map((span) => span.serviceName))).toEqual(new Set(['shop-copilot-api']));
    expect(new Set(runSpans.map((span) => span.scopeSchemaUrl))).toEqual(new Set([genAiSchemaUrl]));
  });

  it('uses the mapping `runs export --format otlp` uses: same trace id, span names and service name', async () => {
    const exported: Array<{ name: string; traceId: string }> = [];
    let resourceService: unknown;
    for await (const line of exportOtlp(store, { runIds: [runId] })) {
      const request = JSON.parse(line) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: AnyValue }> };
          scopeSpans: Array<{ spans: Array<{ name: string; traceId: string }> }>;
        }>;
      };
      resourceService = attributesOf(request.resourceSpans[0]!.resource.attributes)['service.name'];
      for (const span of request.resourceSpans[0]!.scopeSpans[0]!.spans) exported.push(span);
    }
    expect(resourceService).toBe('shop-copilot-api');
    expect(new Set(exported.map((span) => span.traceId))).toEqual(new Set([runTraceId(runId)]));
    const liveNames = spans
      .filter(ownRun)
      .map((span) => span.name)
      .sort();
    expect(exported.map((span) => span.name).sort()).toEqual(liveNames);
  });

  it('puts a run started by a request with a traceparent into that trace, live and exported, and logs the trace id the spans carry', async () => {
    const live = spans.filter((span) => span.traceId === callerTrace);
    const agent = live.find((span) => span.name === 'invoke_agent order-desk')!;
    expect(agent.attributes['gen_ai.conversation.id']).toBe(tracedRunId);
    // Under the run's root span, which hangs under the caller's span (the export writes it).
    expect(agent.parentSpanId).toBe(runSpanId(tracedRunId, 'root'));
    expect(live.filter((span) => span.attributes['gen_ai.operation.name'] === 'chat').length).toBeGreaterThan(0);
    expect(
      spans.filter((span) => span.attributes['gen_ai.conversation.id'] === tracedRunId).every((span) => span.traceId === callerTrace),
    ).toBe(true);
    const exported: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string }> = [];
    for await (const line of exportOtlp(store, { runIds: [tracedRunId] })) {
      const request = JSON.parse(line) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: typeof exported }> }> };
      exported.push(...request.resourceSpans[0]!.scopeSpans[0]!.spans);
    }
    expect(new Set(exported.map((span) => span.traceId))).toEqual(new Set([callerTrace]));
    expect(exported.find((span) => span.spanId === runSpanId(tracedRunId, 'root'))!.parentSpanId).toBe(callerSpan);
    // The request's log line and its traceresponse name the trace the spans are in.
    const logged = (id: string) => logs.find((line) => line.event === 'http.request' && line.request_id === id);
    expect(logged('caller-trace')).toMatchObject({ trace_id: callerTrace, route: '/v1/runs', status: 200 });
    expect(responses.get('caller-trace')!.get('traceresponse')).toBe(`00-${callerTrace}-${runSpanId(tracedRunId, 'root')}-01`);
    // Without a traceparent the run has its own trace, and the log line says which.
    expect(logged('own-trace')).toMatchObject({ trace_id: runTraceId(runId), route: '/v1/runs' });
  });

  it('sends no secret from the input in any span', () => {
    expect(bodies.length).toBeGreaterThan(0);
    for (const body of bodies) expect(body.toString('latin1')).not.toContain('sk-proj-AbCdEfGh');
  });
});
