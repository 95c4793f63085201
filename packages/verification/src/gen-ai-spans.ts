// The one mapping of a run's trace onto OpenTelemetry GenAI spans (semantic conventions for
// generative AI): what each recorded event opens, closes or marks. `runs export --format otlp`
// builds OTLP JSON from it after the fact; the live tracer builds SDK spans from it as events
// are recorded. Span ids derive from the run id; the trace id is the run's own (derived from its
// id) unless the run was started inside a caller's trace (an HTTP request with a traceparent),
// which its run.started metadata records (`trace`), so both give a run the same trace id.
import { sha256Hex } from '@aifactory/core';

/** The semantic-conventions version the attribute names follow (the OTLP schema URL). */
export const genAiSchemaUrl = 'https://opentelemetry.io/schemas/1.37.0';

/** Span kinds the mapping uses (OTLP numbering). */
export const GenAiSpanKind = { Internal: 1, Client: 3 } as const;

/** What a span's attributes may hold; undefined and null values are dropped. */
export type SpanAttributes = Record<string, string | number | boolean | string[] | undefined | null>;

/** An event as the mapping reads it. */
export interface SpanSourceEvent {
  seq: number;
  ts: Date;
  type: string;
  actor: string;
  /** The parsed payload ({} when erased or unreadable). */
  payload: Record<string, unknown>;
  erased?: boolean;
}

/** What one event does to the run's spans. */
export type SpanStep =
  /** Opens a span under the run's root, closed later by an `end` with the same key. */
  | { op: 'start'; key: string; name: string; kind: number; attributes: SpanAttributes }
  /** Closes the open span with this key (nothing when none is open); `error` marks it failed. */
  | { op: 'end'; key: string; attributes: SpanAttributes; error?: { type: string; message: string } }
  /** A finished span: zero-length at the event, or `durationMs` long ending at it. */
  | { op: 'span'; key: string; name: string; kind: number; attributes: SpanAttributes; durationMs?: number; error?: string };

/** The run a trace describes. */
export interface SpanSourceRun {
  id: string;
  agent: string;
  team?: string | null;
  principal: string;
  status?: string;
}

/** The run's own trace id (32 hex), the same in every process and in exports, when no caller's trace was recorded. */
export function runTraceId(runId: string): string {
  return sha256Hex(`trace:${runId}`).slice(0, 32);
}

/** The caller's trace a run was started in, as its run.started metadata records it. */
export interface RecordedTraceParent {
  /** The caller's trace id (32 hex). */
  trace_id: string;
  /** The caller's span the run's root span hangs under (16 hex). */
  parent_span_id: string;
}

/** Where a run's spans go: its trace id, its root span id, and the caller's span above the root (when started in a caller's trace). */
export interface RunTrace {
  traceId: string;
  rootSpanId: string;
  parentSpanId?: string;
}

/** The recorded caller trace of a run.started payload's metadata; undefined when absent or malformed. */
export function recordedTraceParent(metadata: unknown): RecordedTraceParent | undefined {
  const traced = metadata !== null && typeof metadata === 'object' ? (metadata as { trace?: unknown }).trace : undefined;
  if (traced === null || typeof traced !== 'object') return undefined;
  const { trace_id: traceId, parent_span_id: parentSpanId } = traced as Record<string, unknown>;
  if (typeof traceId !== 'string' || !/^[0-9a-f]{32}$/.test(traceId) || /^0+$/.test(traceId)) return undefined;
  if (typeof parentSpanId !== 'string' || !/^[0-9a-f]{16}$/.test(parentSpanId) || /^0+$/.test(parentSpanId)) return undefined;
  return { trace_id: traceId, parent_span_id: parentSpanId };
}

/** The trace a run's spans go in: the caller's when one was recorded, else the run's own. */
export function runTrace(runId: string, parent?: RecordedTraceParent): RunTrace {
  const rootSpanId = runSpanId(runId, 'root');
  return parent
    ? { traceId: parent.trace_id, rootSpanId, parentSpanId: parent.parent_span_id }
    : { traceId: runTraceId(runId), rootSpanId };
}

/** A span id (16 hex) for `key` within the run's trace; the root span's key is 'root'. */
export function runSpanId(runId: string, key: string): string {
  return sha256Hex(`span:${runTraceId(runId)}:${key}`).slice(0, 16);
}

/** The root span's name and attributes: one invoke_agent span per run. */
export function rootSpan(run: SpanSourceRun): { name: string; attributes: SpanAttributes } {
  return {
    name: `invoke_agent ${run.agent}`,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': run.agent,
      'gen_ai.conversation.id': run.id,
      'aifactory.run.id': run.id,
      'aifactory.run.status': run.status,
      'aifactory.team': run.team,
      'enduser.id': run.principal,
    },
  };
}

function numberOf(...candidates: unknown[]): number | undefined {
  for (const candidate of candidates) if (typeof candidate === 'number' && Number.isFinite(candidate)) return candidate;
  return undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function errorText(value: unknown): string {
  if (typeof value === 'string') return value;
  const message = (value as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : 'error';
}

function errorType(value: unknown, fallback: string): string {
  const code = (value as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : fallback;
}

/** Maps one recorded event to what it does to the run's spans. */
export function spanSteps(event: SpanSourceEvent): SpanStep[] {
  const payload = event.payload;
  const step = payload.step;
  switch (event.type) {
    case 'model.requested': {
      const model = stringOf(payload.model) ?? stringOf(payload.name) ?? 'model';
      const parameters = (payload.parameters ?? {}) as Record<string, unknown>;
      return [
        {
          op: 'start',
          key: `model:${String(step)}`,
          name: `chat ${model}`,
          kind: GenAiSpanKind.Client,
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': stringOf(payload.provider),
            'gen_ai.request.model': model,
            'gen_ai.request.temperature': numberOf(payload.temperature, parameters.temperature),
            'gen_ai.request.max_tokens': numberOf(payload.max_tokens, parameters.max_tokens),
            'aifactory.event.seq': event.seq,
          },
        },
      ];
    }
    case 'model.responded': {
      const usage = (payload.usage ?? {}) as Record<string, unknown>;
      return [
        {
          op: 'end',
          key: `model:${String(step)}`,
          attributes: {
            'gen_ai.response.model': stringOf(payload.model),
            'gen_ai.response.id': stringOf(payload.response_id),
            'gen_ai.usage.input_tokens': numberOf(usage.inputTokens, usage.input_tokens),
            'gen_ai.usage.output_tokens': numberOf(usage.outputTokens, usage.output_tokens),
            'gen_ai.response.finish_reasons': typeof payload.finish_reason === 'string' ? [payload.finish_reason] : undefined,
            'aifactory.cost_usd': numberOf(payload.cost_usd),
          },
        },
      ];
    }
    case 'model.failed':
      return [
        {
          op: 'end',
          key: `model:${String(step)}`,
          attributes: {},
          error: { type: errorType(payload.error, 'model_failed'), message: errorText(payload.error) },
        },
      ];
    case 'tool.called':
    case 'handoff.started': {
      const name = String(payload.name ?? 'tool');
      const key = `tool:${String(payload.call_id ?? `${String(step)}:${name}`)}`;
      const callId = stringOf(payload.call_id);
      return event.type === 'handoff.started'
        ? [
            {
              op: 'start',
              key,
              name: `invoke_agent ${name}`,
              kind: GenAiSpanKind.Internal,
              attributes: {
                'gen_ai.operation.name': 'invoke_agent',
                'gen_ai.agent.name': name,
                'gen_ai.tool.call.id': callId,
                'aifactory.event.seq': event.seq,
              },
            },
          ]
        : [
            {
              op: 'start',
              key,
              name: `execute_tool ${name}`,
              kind: GenAiSpanKind.Internal,
              attributes: {
                'gen_ai.operation.name': 'execute_tool',
                'gen_ai.tool.name': name,
                'gen_ai.tool.type': 'function',
                'gen_ai.tool.call.id': callId,
                'aifactory.event.seq': event.seq,
              },
            },
          ];
    }
    case 'tool.returned':
    case 'tool.failed': {
      const name = String(payload.name ?? 'tool');
      const key = `tool:${String(payload.call_id ?? `${String(step)}:${name}`)}`;
      return event.type === 'tool.failed'
        ? [{ op: 'end', key, attributes: {}, error: { type: errorType(payload.error, 'tool_failed'), message: errorText(payload.error) } }]
        : [{ op: 'end', key, attributes: { 'aifactory.duration_ms': numberOf(payload.duration_ms) } }];
    }
    case 'retrieval.performed': {
      const chunks = Array.isArray(payload.chunks) ? (payload.chunks as Array<{ id?: unknown; content_hash?: unknown }>) : [];
      const duration = numberOf(payload.duration_ms);
      return [
        {
          op: 'span',
          key: `retrieval:${event.seq}`,
          name: 'execute_tool retrieval',
          kind: GenAiSpanKind.Internal,
          attributes: {
            'gen_ai.operation.name': 'execute_tool',
            'gen_ai.tool.name': 'retrieval',
            'gen_ai.tool.type': 'datastore',
            'gen_ai.tool.call.id': stringOf(payload.call_id),
            'aifactory.event.seq': event.seq,
            'aifactory.retrieval.collections': Array.isArray(payload.collections) ? payload.collections.map(String) : undefined,
            'aifactory.retrieval.chunk_ids': chunks.map((chunk) => String(chunk.id)),
            'aifactory.retrieval.content_hashes': chunks.map((chunk) => String(chunk.content_hash)),
          },
          ...(duration !== undefined ? { durationMs: duration } : {}),
        },
      ];
    }
    default: {
      const decision = (payload.decision ?? {}) as Record<string, unknown>;
      const action = (payload.action ?? {}) as Record<string, unknown>;
      const failed = event.type === 'budget.exceeded' || decision.authority === 'deny';
      // Governance facts (decisions, approvals, notifications, budget, answer) become zero-length
      // child spans, not events of the root span, so a long run's root span stays small.
      return [
        {
          op: 'span',
          key: `event:${event.seq}`,
          name: event.type,
          kind: GenAiSpanKind.Internal,
          attributes: {
            'aifactory.event.seq': event.seq,
            'aifactory.actor': event.actor,
            'aifactory.step': typeof step === 'number' ? step : undefined,
            'aifactory.authority': stringOf(decision.authority),
            'aifactory.action.kind': stringOf(action.kind),
            'aifactory.action.name': stringOf(action.name),
            'aifactory.approval.id': stringOf(payload.approval_id),
            'aifactory.erased': event.erased ? true : undefined,
            'error.type': event.type === 'budget.exceeded' ? 'budget_exceeded' : decision.authority === 'deny' ? 'denied' : undefined,
          },
          ...(failed
            ? { error: event.type === 'budget.exceeded' ? 'budget exceeded' : String(decision.reason ?? 'denied by policy') }
            : {}),
        },
      ];
    }
  }
}
