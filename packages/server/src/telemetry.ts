// Live OpenTelemetry through the official Node SDK, configured by the standard OTEL_* variables
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*). Off unless an
// OTLP endpoint is set; only traces are exported (metrics are scraped at /metrics).
import { trace } from '@opentelemetry/api';
import type { Store } from '@aifactory/store';
import { genAiSchemaUrl, recordedRunStart, tracingRecorder, type Recorder } from '@aifactory/verification';

/** Live tracing, when the environment asks for it. */
export interface Telemetry {
  /** Wraps a recorder so each recorded event becomes GenAI spans as it happens; with `store`, a run resumed here joins the caller's trace its start recorded. */
  trace(recorder: Recorder, store?: Store): Recorder;
  /** Exports every span ended so far, now (benchmarks charge the export to the work that made the spans). */
  flush(): Promise<void>;
  /** Flushes spans still buffered and stops the SDK. */
  shutdown(): Promise<void>;
}

/** Whether the environment configures an OTLP trace exporter. */
export function telemetryConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** Starts the SDK when an OTLP endpoint is configured; undefined otherwise (nothing is loaded). */
export async function startTelemetry(env: NodeJS.ProcessEnv = process.env): Promise<Telemetry | undefined> {
  if (!telemetryConfigured(env)) return undefined;
  // Loaded only when asked for: the SDK and its exporters take a while to import.
  const { startNodeSdk } = await import('@opentelemetry/sdk-node');
  const sdk = startNodeSdk({
    metricReaders: [],
    logRecordProcessors: [],
    // OTEL_SERVICE_NAME wins when set; otherwise the service is called what it is.
    ...(env.OTEL_SERVICE_NAME?.trim() ? {} : { resourceAttributes: { 'service.name': 'aifactory' } }),
  });
  const provider = trace.getTracerProvider();
  const tracer = provider.getTracer('@aifactory/verification', '0.1.0', { schemaUrl: genAiSchemaUrl });
  // The SDK registers its provider behind the API's proxy; forceFlush lives on the provider itself.
  const delegate = (provider as { getDelegate?: () => unknown }).getDelegate?.() ?? provider;
  return {
    flush: async () => {
      await (delegate as { forceFlush?: () => Promise<void> }).forceFlush?.();
    },
    trace: (recorder, store) => tracingRecorder(recorder, tracer, store ? { runOf: (runId) => recordedRunStart(store, runId) } : {}),
    shutdown: () => sdk.shutdown(),
  };
}
