// Export: JSONL that `factory runs verify --file` checks offline on another machine (runs,
// events with their salts, seals, the public keys, and a signed trailer so a cut or edited file
// is caught), and OpenTelemetry spans following the GenAI semantic conventions (OTLP JSON, one
// ExportTraceServiceRequest per line as the OTLP file exporter writes them). Both stream: memory
// stays flat whatever the size of the selection.
import { createHash } from 'node:crypto';
import type { Store } from '@aifactory/store';
import type { StoredEvent, StoredSeal } from './chain-verifier.ts';
import {
  GenAiSpanKind,
  genAiSchemaUrl,
  recordedTraceParent,
  rootSpan,
  runSpanId,
  runTrace,
  spanSteps,
  type SpanAttributes,
} from './gen-ai-spans.ts';
import { listRuns, type RunFilter, type RunSummary } from './run-query.ts';
import type { SealSigner } from './seal-signer.ts';
import { checkpointJson, signCheckpoint } from './checkpoint.ts';
import { queryRows, readStoreId, toDate } from './store-access.ts';
import { readRunEvents } from './verify.ts';

/** Format name in the export header. */
export const exportFormat = 'aifactory.trace';
/**
 * Export format version. Version 2 adds the store identity and a signed checkpoint of the seal
 * chain to the header, every seal of a run (start, checkpoint, final) right after its run line,
 * and the count and digest of the exported run ids to the signed trailer.
 */
export const exportVersion = 2;

/** The message an export trailer's signature covers (version 1: lines and digest; version 2: the run list too). */
export function trailerMessage(digest: string, lines: number, runs?: { count: number; digest: string }, version = runs ? 2 : 1): string {
  return version >= 2 && runs
    ? `${exportFormat}:v${version}:${lines}:${digest}:${runs.count}:${runs.digest}`
    : `${exportFormat}:v1:${lines}:${digest}`;
}

/** Options of exportJsonl. */
export interface ExportOptions {
  /** Signs the trailer (digest of every line) so the file cannot be cut or edited unnoticed. */
  signer?: SealSigner;
  /** Export time (tests). */
  now?: Date;
}

function isEmptyFilter(filter: RunFilter): boolean {
  return Object.values(filter).every((value) => value === undefined);
}

async function sealsOf(store: Store, runId: string): Promise<StoredSeal[]> {
  const rows = await queryRows(
    store,
    'SELECT seq, run_id, kind, store_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts FROM seals WHERE run_id = $1 ORDER BY seq',
    [runId],
  );
  return rows.map((row) => ({
    seq: Number(row.seq),
    kind: (row.kind as string | undefined) ?? 'final',
    storeId: (row.store_id as string | null | undefined) ?? null,
    runId: row.run_id as string,
    headSeq: Number(row.head_seq),
    headHash: row.head_hash as string,
    keyId: row.key_id as string,
    publicKey: row.public_key as string,
    prevSealHash: row.prev_seal_hash as string,
    sealHash: row.seal_hash as string,
    signature: row.signature as string,
    ts: toDate(row.ts),
  }));
}

/** One event as an export line; the payload is spliced in as the exact canonical text that was hashed. */
export function eventLine(event: StoredEvent): string {
  return (
    `{"kind":"event","run_id":${JSON.stringify(event.runId)},"seq":${event.seq},"ts":"${event.ts.toISOString()}","type":${JSON.stringify(event.type)},` +
    `"actor":${JSON.stringify(event.actor)},"payload":${event.payloadText ?? 'null'},"payload_salt":${JSON.stringify(event.payloadSalt)},` +
    `"payload_hash":"${event.payloadHash}","schema_version":${event.schemaVersion},"redactions":${JSON.stringify(event.redactions)},` +
    `"erased_at":${event.erasedAt ? `"${event.erasedAt.toISOString()}"` : 'null'},"prev_hash":"${event.prevHash}","hash":"${event.hash}"}`
  );
}

function runLine(run: RunSummary): string {
  return JSON.stringify({
    kind: 'run',
    id: run.id,
    agent: run.agent,
    team: run.team,
    principal: run.principal,
    // The stored status, which the chain covers: whether a running run's owner is alive
    // (queued, orphaned, recovering) is a fact of the moment, not of the record.
    status: run.status === 'queued' || run.status === 'orphaned' || run.status === 'recovering' ? 'running' : run.status,
    started_at: run.startedAt.toISOString(),
    ended_at: run.endedAt?.toISOString() ?? null,
    replay_of: run.replayOf,
    parent_run_id: run.parentRunId,
  });
}

function sealLine(seal: StoredSeal): string {
  return JSON.stringify({
    kind: 'seal',
    seal_kind: seal.kind ?? 'final',
    store_id: seal.storeId ?? null,
    seq: seal.seq,
    run_id: seal.runId,
    head_seq: seal.headSeq,
    head_hash: seal.headHash,
    key_id: seal.keyId,
    public_key: seal.publicKey,
    prev_seal_hash: seal.prevSealHash,
    seal_hash: seal.sealHash,
    signature: seal.signature,
    ts: seal.ts.toISOString(),
  });
}

/** Streams the selected runs as JSONL lines (each ending in a newline), ending with a signed trailer. */
export async function* exportJsonl(store: Store, filter: RunFilter = {}, options: ExportOptions = {}): AsyncGenerator<string> {
  const digest = createHash('sha256');
  let lines = 0;
  const counts = { runs: 0, events: 0, seals: 0 };
  const emit = (line: string): string => {
    const text = `${line}\n`;
    digest.update(text);
    lines += 1;
    return text;
  };
  const keys = await queryRows<{ key_id: string; public_key: string }>(
    store,
    'SELECT DISTINCT key_id, public_key FROM seals ORDER BY key_id',
  );
  if (options.signer && !keys.some((key) => key.key_id === options.signer!.keyId))
    keys.push({ key_id: options.signer.keyId, public_key: options.signer.publicKey });
  const storeId = await readStoreId(store, { fresh: true });
  // The seal chain's head when the export began, signed: the exported seals must reach it.
  const [head] = await queryRows<{ seq: number; seal_hash: string }>(store, 'SELECT seq, seal_hash FROM seals ORDER BY seq DESC LIMIT 1');
  const checkpoint =
    options.signer && storeId && head
      ? signCheckpoint(options.signer, {
          storeId,
          sealSeq: Number(head.seq),
          sealHash: head.seal_hash,
          ...(options.now ? { ts: options.now } : {}),
        })
      : undefined;
  const [firstStart] = await queryRows<{ ts: string | null }>(
    store,
    `SELECT to_char(min(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts FROM seals WHERE kind = 'start'`,
  );
  yield emit(
    JSON.stringify({
      kind: 'header',
      format: exportFormat,
      version: exportVersion,
      exported_at: (options.now ?? new Date()).toISOString(),
      source: store.kind,
      store_id: storeId,
      complete: isEmptyFilter(filter),
      selection: { ...filter, since: filter.since?.toISOString(), until: filter.until?.toISOString() },
      keys: keys.map((key) => ({ key_id: key.key_id, public_key: key.public_key })),
      attested_since: firstStart?.ts ?? null,
      checkpoint: checkpoint ? checkpointJson(checkpoint) : null,
    }),
  );
  const runIds = createHash('sha256');
  for await (const run of listRuns(store, filter)) {
    counts.runs += 1;
    runIds.update(`${run.id}\n`);
    yield emit(runLine(run));
    // Seals first: a verifier then knows a run's checkpoints before it reads the events they cover.
    for (const seal of await sealsOf(store, run.id)) {
      counts.seals += 1;
      yield emit(sealLine(seal));
    }
    for await (const event of readRunEvents(store, run.id)) {
      counts.events += 1;
      yield emit(eventLine(event));
    }
  }
  const hex = digest.digest('hex');
  const runsDigest = runIds.digest('hex');
  const trailer: Record<string, unknown> = { kind: 'trailer', lines, ...counts, digest: hex, runs_digest: runsDigest };
  if (options.signer) {
    trailer.key_id = options.signer.keyId;
    trailer.signature = options.signer.sign(trailerMessage(hex, lines, { count: counts.runs, digest: runsDigest }));
  }
  yield `${JSON.stringify(trailer)}\n`;
}

// ---------------------------------------------------------------------------------------------
// OTLP JSON (OpenTelemetry GenAI semantic conventions, mapped in gen-ai-spans.ts)

type AttributeValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values: AttributeValue[] } };
interface Attribute {
  key: string;
  value: AttributeValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attribute[];
  events: Array<{ timeUnixNano: string; name: string; attributes: Attribute[] }>;
  status: { code: number; message?: string };
}

const StatusCode = { Unset: 0, Ok: 1, Error: 2 } as const;

function attributeValue(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  if (Array.isArray(value)) {
    const values = value.map(attributeValue).filter((item): item is AttributeValue => item !== undefined);
    return { arrayValue: { values } };
  }
  return undefined;
}

function attributes(record: SpanAttributes): Attribute[] {
  const result: Attribute[] = [];
  for (const [key, value] of Object.entries(record)) {
    const converted = value === undefined || value === null ? undefined : attributeValue(value);
    if (converted) result.push({ key, value: converted });
  }
  return result;
}

function nanos(date: Date): string {
  return `${BigInt(date.getTime()) * 1_000_000n}`;
}

function payloadOf(event: StoredEvent): Record<string, unknown> {
  if (event.payloadText === null) return {};
  try {
    const parsed = JSON.parse(event.payloadText) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Builds the spans of one run from its events: a root invoke_agent span, chat spans, execute_tool spans, and the governance events under the root. */
class RunSpanBuilder {
  readonly #runId: string;
  #traceId: string;
  readonly #root: OtlpSpan;
  readonly #open = new Map<string, OtlpSpan>();
  readonly #done: OtlpSpan[] = [];

  constructor(run: RunSummary) {
    this.#runId = run.id;
    const own = runTrace(run.id);
    this.#traceId = own.traceId;
    const root = rootSpan(run);
    this.#root = {
      traceId: this.#traceId,
      spanId: own.rootSpanId,
      name: root.name,
      kind: GenAiSpanKind.Internal,
      startTimeUnixNano: nanos(run.startedAt),
      endTimeUnixNano: nanos(run.endedAt ?? run.startedAt),
      attributes: attributes(root.attributes),
      events: [],
      status: { code: run.status === 'failed' ? StatusCode.Error : run.status === 'completed' ? StatusCode.Ok : StatusCode.Unset },
    };
  }

  #span(key: string, name: string, kind: number, at: Date, attrs: SpanAttributes): OtlpSpan {
    return {
      traceId: this.#traceId,
      spanId: runSpanId(this.#runId, key),
      parentSpanId: this.#root.spanId,
      name,
      kind,
      startTimeUnixNano: nanos(at),
      endTimeUnixNano: nanos(at),
      attributes: attributes(attrs),
      events: [],
      status: { code: StatusCode.Unset },
    };
  }

  add(event: StoredEvent): void {
    this.#root.endTimeUnixNano = nanos(event.ts);
    const source = {
      seq: event.seq,
      ts: event.ts,
      type: event.type,
      actor: event.actor,
      payload: payloadOf(event),
      erased: event.erasedAt !== null,
    };
    // The first event: a run started in a caller's trace (an HTTP request's) is exported in that trace, as it was live.
    if (event.type === 'run.started') {
      const parent = recordedTraceParent(source.payload.metadata);
      if (parent) {
        this.#traceId = parent.trace_id;
        this.#root.traceId = parent.trace_id;
        this.#root.parentSpanId = parent.parent_span_id;
      }
    }
    for (const step of spanSteps(source)) {
      if (step.op === 'start') {
        this.#open.set(step.key, this.#span(`${step.key}:${event.seq}`, step.name, step.kind, event.ts, step.attributes));
      } else if (step.op === 'end') {
        const span = this.#open.get(step.key);
        if (!span) continue;
        this.#open.delete(step.key);
        span.endTimeUnixNano = nanos(event.ts);
        span.attributes.push(...attributes({ ...step.attributes, 'error.type': step.error?.type }));
        span.status = step.error ? { code: StatusCode.Error, message: step.error.message } : { code: StatusCode.Ok };
        this.#done.push(span);
      } else {
        const span = this.#span(step.key, step.name, step.kind, event.ts, step.attributes);
        if (step.durationMs !== undefined)
          span.startTimeUnixNano = `${BigInt(span.endTimeUnixNano) - BigInt(Math.round(step.durationMs)) * 1_000_000n}`;
        if (step.error !== undefined) span.status = { code: StatusCode.Error, message: step.error };
        this.#done.push(span);
      }
    }
  }

  /** Spans finished so far (handed out once). */
  drain(): OtlpSpan[] {
    return this.#done.splice(0, this.#done.length);
  }

  /** The root span and any spans left open (an action whose outcome was never recorded). */
  finish(): OtlpSpan[] {
    for (const span of this.#open.values()) {
      span.status = { code: StatusCode.Error, message: 'no outcome recorded' };
      span.attributes.push(...attributes({ 'error.type': 'outcome_unknown' }));
      this.#done.push(span);
    }
    this.#open.clear();
    return [...this.drain(), this.#root];
  }
}

function otlpLine(spans: OtlpSpan[], serviceName: string): string {
  return `${JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attributes({ 'service.name': serviceName }) },
        scopeSpans: [{ scope: { name: '@aifactory/verification', version: '0.1.0' }, spans, schemaUrl: genAiSchemaUrl }],
        schemaUrl: genAiSchemaUrl,
      },
    ],
  })}\n`;
}

/** Streams the selected runs as OTLP JSON lines (one ExportTraceServiceRequest per line, at most spansPerLine spans each). */
export async function* exportOtlp(
  store: Store,
  filter: RunFilter = {},
  options: { spansPerLine?: number; serviceName?: string } = {},
): AsyncGenerator<string> {
  const limit = options.spansPerLine ?? 500;
  // The service name operators give their telemetry (OTEL_SERVICE_NAME), as the live tracer uses it.
  const serviceName = options.serviceName ?? (process.env.OTEL_SERVICE_NAME?.trim() || 'aifactory');
  for await (const run of listRuns(store, filter)) {
    const builder = new RunSpanBuilder(run);
    let pending: OtlpSpan[] = [];
    for await (const event of readRunEvents(store, run.id)) {
      builder.add(event);
      pending.push(...builder.drain());
      if (pending.length >= limit) {
        yield otlpLine(pending, serviceName);
        pending = [];
      }
    }
    pending.push(...builder.finish());
    for (let index = 0; index < pending.length; index += limit) yield otlpLine(pending.slice(index, index + limit), serviceName);
  }
}
