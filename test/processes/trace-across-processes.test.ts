// One run, one trace, across processes: an app starts a run inside its own trace (traceparent) on
// one `factory serve`; the run is held for approval and that server stops; a second `factory serve`
// on the same home takes the approval and resumes the run. Both export live spans over OTLP/HTTP
// protobuf to a local receiver that decodes them: the resuming process, which never saw the
// request, finds the caller's trace the run's start recorded, so its spans join the same trace,
// under the run's root span — not a trace of their own.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSpanId, runTraceId } from '@aifactory/verification';
import { createTallyWorkspace, factory, startServe, type ServeProcess, type TallyWorkspace } from '../fixtures/tally-workspace.ts';

// The parts of opentelemetry-proto the assertions read, with the official field numbers.
const otlpSchema = protobuf
  .parse(
    `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { repeated Span spans = 2; }
message Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; repeated KeyValue attributes = 9; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`,
  )
  .root.lookupType('otlp.ExportTraceServiceRequest');

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  runId: unknown;
  pid: unknown;
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number };
const valueOf = (value: AnyValue | undefined) =>
  value?.stringValue ?? value?.boolValue ?? (value?.intValue !== undefined ? Number(value.intValue) : value?.doubleValue);
const attributesOf = (list: Array<{ key: string; value?: AnyValue }> = []) =>
  Object.fromEntries(list.map((item) => [item.key, valueOf(item.value)]));
const hex = (value: unknown) => (value ? Buffer.from(String(value), 'base64').toString('hex') : '');

describe('a run held in one process and resumed in another', () => {
  let workspace: TallyWorkspace;
  let receiver: Server;
  let serve: ServeProcess | undefined;
  const spans: ReceivedSpan[] = [];
  let otel: Record<string, string>;

  beforeAll(async () => {
    workspace = createTallyWorkspace();
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/v1/traces') {
          const decoded = otlpSchema.toObject(otlpSchema.decode(Buffer.concat(chunks)), { longs: String, bytes: String }) as {
            resourceSpans?: Array<{
              resource?: { attributes?: Array<{ key: string; value?: AnyValue }> };
              scopeSpans?: Array<{
                spans?: Array<{ traceId: unknown; spanId: unknown; parentSpanId?: unknown; name: string; attributes?: [] }>;
              }>;
            }>;
          };
          for (const resourceSpans of decoded.resourceSpans ?? []) {
            const pid = attributesOf(resourceSpans.resource?.attributes)['process.pid'];
            for (const scopeSpans of resourceSpans.scopeSpans ?? [])
              for (const span of scopeSpans.spans ?? [])
                spans.push({
                  traceId: hex(span.traceId),
                  spanId: hex(span.spanId),
                  parentSpanId: hex(span.parentSpanId),
                  name: span.name,
                  runId: attributesOf(span.attributes)['gen_ai.conversation.id'],
                  pid,
                });
          }
        }
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      OTEL_SERVICE_NAME: 'tally-api',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    };
  });
  afterAll(async () => {
    await serve?.stop('SIGKILL');
    receiver?.close();
    workspace?.remove();
  });

  it('keeps one trace id: the resuming process finds the caller’s trace and its spans join it', { timeout: 900_000 }, async () => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';

    // First process: the app's request starts the run in its trace; the write is held.
    serve = await startServe(workspace, [], otel);
    const first = serve;
    const token = async (principal: string, roles: string) =>
      (
        JSON.parse((await factory(workspace, ['tokens', 'create', '--principal', principal, '--role', roles, '--json'])).stdout) as {
          token: string;
        }
      ).token;
    const alice = await token('alice@acme.example', 'operator');
    const bob = await token('bob@acme.example', 'approver,ops-lead');
    const started = await fetch(`${first.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json', traceparent: `00-${callerTrace}-${callerSpan}-01` },
      body: JSON.stringify({ agent: 'tally-clerk', input: 'entry' }),
    });
    expect(started.status, await started.clone().text()).toBe(200);
    const { runId, status } = (await started.json()) as { runId: string; status: string };
    expect(status).toBe('held');
    expect((await first.stop('SIGTERM')).code).toBe(0);
    serve = undefined;

    // Second process: the approval resumes the run there.
    serve = await startServe(workspace, [], otel);
    const second = serve;
    const approvals = (await (
      await fetch(`${second.url}/v1/approvals?runId=${runId}`, { headers: { authorization: `Bearer ${bob}` } })
    ).json()) as { approvals: Array<{ id: string }> };
    expect(approvals.approvals, JSON.stringify(approvals)).toHaveLength(1);
    const approvalId = approvals.approvals[0]!.id;
    const voted = await fetch(`${second.url}/v1/approvals/${approvalId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(voted.status, await voted.clone().text()).toBe(200);
    let run: { status?: string } = {};
    for (let waited = 0; run.status !== 'completed' && waited < 120_000; waited += 200) {
      run = (
        (await (await fetch(`${second.url}/v1/runs/${runId}`, { headers: { authorization: `Bearer ${alice}` } })).json()) as {
          run: typeof run;
        }
      ).run;
      if (run.status !== 'completed') await sleep(200);
    }
    expect(run.status).toBe('completed');
    expect(workspace.calls().filter((call) => call.tool === 'write')).toHaveLength(1);
    expect((await second.stop('SIGTERM')).code).toBe(0);
    serve = undefined;

    const ofRun = spans.filter((span) => span.runId === runId || span.traceId === callerTrace || span.traceId === runTraceId(runId));
    const pids = [...new Set(ofRun.map((span) => span.pid))];
    expect(pids.sort()).toEqual([first.pid, second.pid].sort());
    // Every span of the run, from either process, is in the caller's trace: never in one of its own.
    expect(new Set(ofRun.map((span) => span.traceId))).toEqual(new Set([callerTrace]));
    // Each process's part of the run hangs under the run's root span.
    for (const pid of [first.pid, second.pid]) {
      const segment = ofRun.find((span) => span.pid === pid && span.name === 'invoke_agent tally-clerk');
      expect(
        segment,
        `process ${pid} exported no invoke_agent span: ${JSON.stringify(ofRun.filter((span) => span.pid === pid).map((span) => [span.name, span.parentSpanId]))}`,
      ).toBeDefined();
      expect(segment!.parentSpanId).toBe(runSpanId(runId, 'root'));
    }
    // The resumed part did the write: its tool span is in the second process's export.
    expect(ofRun.some((span) => span.pid === second.pid && /tally\.write/.test(span.name))).toBe(true);
  });
});
