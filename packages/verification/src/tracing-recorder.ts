// Live OpenTelemetry: a recorder wrapper that turns each event, once it is durable, into GenAI
// spans through the same mapping `runs export --format otlp` uses (gen-ai-spans.ts). Spans are
// built from what was recorded (after redaction), never from the drafts, so no secret reaches a
// span. Every span of a run carries the run's trace id (the caller's, when the run was started in
// an HTTP request's trace and its run.started metadata records it; else the run's own); each
// process that drives the run (the one that starts it, the one that resumes it after an approval)
// adds one invoke_agent span under the run's root span id, so the pieces join in any tracing
// backend. A process that meets a run mid-way (a resume) asks `runOf` for the run as its start
// recorded it: the caller's trace, and the agent, team and principal its part of the trace names.
import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { recordedTraceParent, rootSpan, runTrace, spanSteps, type RecordedTraceParent, type SpanAttributes } from './gen-ai-spans.ts';
import type { RecordedEvent, Recorder } from './recorder.ts';
import type { Store } from '@aifactory/store';
import { findRun } from './run-rows.ts';

interface LiveRun {
  segment: Span;
  context: Context;
  open: Map<string, Span>;
}

function otelAttributes(attributes: SpanAttributes): Attributes {
  const result: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined && value !== null) result[key] = value;
  return result;
}

function payloadRecord(payload: unknown): Record<string, unknown> {
  return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {};
}

/** The caller's trace a run was started in, as its row's metadata records it. */
export async function recordedRunTrace(store: Store, runId: string): Promise<RecordedTraceParent | undefined> {
  const row = await findRun(store, runId);
  return row ? recordedTraceParent(row.metadata) : undefined;
}

/** A run as its start recorded it: who runs it, for whom, and (in its metadata) the caller's trace. */
export interface RecordedRunStart {
  agent: string;
  team?: string | null;
  principal: string;
  metadata?: unknown;
}

/** A run's row, as tracingRecorder's runOf wants it (undefined when there is no such run). */
export async function recordedRunStart(store: Store, runId: string): Promise<RecordedRunStart | undefined> {
  const row = await findRun(store, runId);
  return row ? { agent: row.agent, team: row.team, principal: row.principal, metadata: row.metadata } : undefined;
}

const kinds: Record<number, SpanKind> = { 1: SpanKind.INTERNAL, 3: SpanKind.CLIENT };

/**
 * Wraps a recorder so every recorded event becomes spans as it happens. The wrapped recorder
 * behaves exactly like the original: spans are made after each commit, and a tracing failure
 * never fails a recording.
 */
export function tracingRecorder(
  recorder: Recorder,
  tracer: Tracer,
  { runOf }: { runOf?: (runId: string) => Promise<RecordedRunStart | undefined> } = {},
): Recorder {
  const runs = new Map<string, LiveRun>();
  /** Runs met mid-way (a resume), as their start recorded them: looked up once per run. */
  const metRuns = new Map<string, RecordedRunStart | undefined>();

  /** The run's span in this process: opened on the run's first event here (a start or a resume). */
  const liveRun = (event: RecordedEvent, started?: RecordedRunStart): LiveRun => {
    const existing = runs.get(event.runId);
    if (existing) return existing;
    const run = started ?? metRuns.get(event.runId);
    metRuns.delete(event.runId);
    const where = runTrace(event.runId, run ? recordedTraceParent(run.metadata) : undefined);
    const remoteRoot = trace.setSpanContext(context.active(), {
      traceId: where.traceId,
      spanId: where.rootSpanId,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const root = rootSpan({
      id: event.runId,
      agent: run?.agent ?? String(payloadRecord(event.payload).agent ?? 'agent'),
      team: run?.team ?? null,
      principal: run?.principal ?? event.actor,
    });
    const segment = tracer.startSpan(
      root.name,
      {
        kind: SpanKind.INTERNAL,
        attributes: otelAttributes({ ...root.attributes, 'aifactory.event.seq': event.seq }),
        startTime: event.ts,
      },
      remoteRoot,
    );
    const live = { segment, context: trace.setSpan(remoteRoot, segment), open: new Map<string, Span>() };
    runs.set(event.runId, live);
    return live;
  };

  /** Before the first event of a run this process did not start: the run as its start recorded it. */
  const lookUp = async (runId: string) => {
    if (!runOf || runs.has(runId) || metRuns.has(runId)) return;
    try {
      metRuns.set(runId, await runOf(runId));
    } catch {
      metRuns.set(runId, undefined);
    }
  };

  const observe = (events: RecordedEvent[], run?: RecordedRunStart) => {
    try {
      for (const event of events) {
        const live = liveRun(event, run);
        const source = { seq: event.seq, ts: event.ts, type: event.type, actor: event.actor, payload: payloadRecord(event.payload) };
        for (const step of spanSteps(source)) {
          if (step.op === 'start') {
            live.open.set(
              step.key,
              tracer.startSpan(
                step.name,
                { kind: kinds[step.kind] ?? SpanKind.INTERNAL, attributes: otelAttributes(step.attributes), startTime: event.ts },
                live.context,
              ),
            );
          } else if (step.op === 'end') {
            const span = live.open.get(step.key);
            if (!span) continue;
            live.open.delete(step.key);
            span.setAttributes(otelAttributes({ ...step.attributes, 'error.type': step.error?.type }));
            span.setStatus(step.error ? { code: SpanStatusCode.ERROR, message: step.error.message } : { code: SpanStatusCode.OK });
            span.end(event.ts);
          } else {
            const startTime = step.durationMs !== undefined ? new Date(event.ts.getTime() - step.durationMs) : event.ts;
            const span = tracer.startSpan(
              step.name,
              { kind: kinds[step.kind] ?? SpanKind.INTERNAL, attributes: otelAttributes(step.attributes), startTime },
              live.context,
            );
            if (step.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: step.error });
            span.end(event.ts);
          }
        }
        // A hold hands the run to whoever resumes it: this process's part of the trace ends here.
        if (event.type === 'run.held' || event.type === 'run.completed' || event.type === 'run.failed') endSegment(event);
      }
    } catch {
      // Telemetry is best effort; the durable trace already holds the truth.
    }
  };

  const endSegment = (event: RecordedEvent) => {
    const live = runs.get(event.runId);
    if (!live) return;
    runs.delete(event.runId);
    for (const span of live.open.values()) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'no outcome recorded' });
      span.setAttribute('error.type', 'outcome_unknown');
      span.end(event.ts);
    }
    live.segment.setAttribute(
      'aifactory.run.status',
      event.type === 'run.held' ? 'held' : event.type === 'run.completed' ? 'completed' : 'failed',
    );
    if (event.type === 'run.failed') live.segment.setStatus({ code: SpanStatusCode.ERROR, message: 'run failed' });
    else if (event.type === 'run.completed') live.segment.setStatus({ code: SpanStatusCode.OK });
    live.segment.end(event.ts);
  };

  return {
    get keyId() {
      return recorder.keyId;
    },
    async startRun(run, options) {
      const event = await recorder.startRun(run, options);
      observe([event], run);
      return event;
    },
    async record(runId, draft, options) {
      const event = await recorder.record(runId, draft, options);
      await lookUp(runId);
      observe([event]);
      return event;
    },
    async recordBatch(runId, drafts, options) {
      const events = await recorder.recordBatch(runId, drafts, options);
      await lookUp(runId);
      observe(events);
      return events;
    },
    // Options (the lease's fencing epoch) pass through untouched.
    setStatus: (runId, status, options) => recorder.setStatus(runId, status, options),
    async finishRun(runId, outcome, options) {
      const result = await recorder.finishRun(runId, outcome, options);
      await lookUp(runId);
      observe([result.event]);
      return result;
    },
    sealRun: (runId, options) => recorder.sealRun(runId, options),
    checkpoint: (runId) => recorder.checkpoint(runId),
    head: (runId) => recorder.head(runId),
  };
}
