// Export: JSONL that `factory runs verify --file` checks offline on another machine (runs,
// events with their salts, seals, the public keys, and a signed trailer so a cut or edited file
// is caught), and OpenTelemetry spans following the GenAI semantic conventions (OTLP JSON, one
// ExportTraceServiceRequest per line as the OTLP file exporter writes them). Both stream: memory
// stays flat whatever the size of the selection.
import { createHash } from 'node:crypto';
import { sha256Hex } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import type { StoredEvent, StoredSeal } from './chain-verifier.ts';
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
  return version >= 2 && runs ? `${exportFormat}:v${version}:${lines}:${digest}:${runs.count}:${runs.digest}` : `${exportFormat}:v1:${lines}:${digest}`;
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
  const rows = await queryRows(store, 'SELECT seq, run_id, kind, store_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts FROM seals WHERE run_id = $1 ORDER BY seq', [runId]);
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
    status: run.status,
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
  const keys = await queryRows<{ key_id: string; public_key: string }>(store, 'SELECT DISTINCT key_id, public_key FROM seals ORDER BY key_id');
  if (options.signer && !keys.some((key) => key.key_id === options.signer!.keyId)) keys.push({ key_id: options.signer.keyId, public_key: options.signer.publicKey });
  const storeId = await readStoreId(store, { fresh: true });
  // The seal chain's head when the export began, signed: the exported seals must reach it.
  const [head] = await queryRows<{ seq: number; seal_hash: string }>(store, 'SELECT seq, seal_hash FROM seals ORDER BY seq DESC LIMIT 1');
  const checkpoint = options.signer && storeId && head ? signCheckpoint(options.signer, { storeId, sealSeq: Number(head.seq), sealHash: head.seal_hash, ...(options.now ? { ts: options.now } : {}) }) : undefined;
  const [firstStart] = await queryRows<{ ts: string | null }>(store, `SELECT to_char(min(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts FROM seals WHERE kind = 'start'`);
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
// OTLP JSON (OpenTelemetry GenAI semantic conventions)

type AttributeValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: AttributeValue[] } };
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

const SpanKind = { Internal: 1, Client: 3 } as const;
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

function attributes(record: Record<string, unknown>): Attribute[] {
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

function numberOf(...candidates: unknown[]): number | undefined {
  for (const candidate of candidates) if (typeof candidate === 'number' && Number.isFinite(candidate)) return candidate;
  return undefined;
}

/** Builds the spans of one run from its events: a root invoke_agent span, chat spans, execute_tool spans, and the governance events on the root. */
class RunSpanBuilder {
  readonly #traceId: string;
  readonly #root: OtlpSpan;
  readonly #open = new Map<string, { span: OtlpSpan; started: StoredEvent }>();
  readonly #done: OtlpSpan[] = [];

  constructor(run: RunSummary) {
    this.#traceId = sha256Hex(`trace:${run.id}`).slice(0, 32);
    this.#root = {
      traceId: this.#traceId,
      spanId: this.#spanId('root'),
      name: `invoke_agent ${run.agent}`,
      kind: SpanKind.Internal,
      startTimeUnixNano: nanos(run.startedAt),
      endTimeUnixNano: nanos(run.endedAt ?? run.startedAt),
      attributes: attributes({
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.name': run.agent,
        'gen_ai.conversation.id': run.id,
        'aifactory.run.id': run.id,
        'aifactory.run.status': run.status,
        'aifactory.team': run.team,
        'enduser.id': run.principal,
      }),
      events: [],
      status: { code: run.status === 'failed' ? StatusCode.Error : run.status === 'completed' ? StatusCode.Ok : StatusCode.Unset },
    };
  }

  #spanId(key: string): string {
    return sha256Hex(`span:${this.#traceId}:${key}`).slice(0, 16);
  }

  #start(key: string, event: StoredEvent, name: string, kind: number, attrs: Record<string, unknown>): void {
    const span: OtlpSpan = {
      traceId: this.#traceId,
      spanId: this.#spanId(`${key}:${event.seq}`),
      parentSpanId: this.#root.spanId,
      name,
      kind,
      startTimeUnixNano: nanos(event.ts),
      endTimeUnixNano: nanos(event.ts),
      attributes: attributes({ ...attrs, 'aifactory.event.seq': event.seq }),
      events: [],
      status: { code: StatusCode.Unset },
    };
    this.#open.set(key, { span, started: event });
  }

  #end(key: string, event: StoredEvent, attrs: Record<string, unknown>, error?: string): void {
    const open = this.#open.get(key);
    if (!open) return;
    this.#open.delete(key);
    open.span.endTimeUnixNano = nanos(event.ts);
    open.span.attributes.push(...attributes(attrs));
    open.span.status = error === undefined ? { code: StatusCode.Ok } : { code: StatusCode.Error, message: error };
    this.#done.push(open.span);
  }

  add(event: StoredEvent): void {
    const payload = payloadOf(event);
    this.#root.endTimeUnixNano = nanos(event.ts);
    const step = payload.step;
    const errorText = (value: unknown) => (typeof value === 'string' ? value : typeof (value as { message?: unknown })?.message === 'string' ? (value as { message: string }).message : 'error');
    switch (event.type) {
      case 'model.requested': {
        const model = (payload.model as string | undefined) || (payload.name as string | undefined) || 'model';
        this.#start(`model:${String(step)}`, event, `chat ${model}`, SpanKind.Client, {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': payload.provider,
          'gen_ai.request.model': model,
        });
        return;
      }
      case 'model.responded': {
        const usage = (payload.usage ?? {}) as Record<string, unknown>;
        this.#end(`model:${String(step)}`, event, {
          'gen_ai.response.model': payload.model,
          'gen_ai.usage.input_tokens': numberOf(usage.inputTokens, usage.input_tokens),
          'gen_ai.usage.output_tokens': numberOf(usage.outputTokens, usage.output_tokens),
          'gen_ai.response.finish_reasons': typeof payload.finish_reason === 'string' ? [payload.finish_reason] : undefined,
          'aifactory.cost_usd': numberOf(payload.cost_usd),
        });
        return;
      }
      case 'model.failed':
        this.#end(`model:${String(step)}`, event, { 'error.type': 'model_failed' }, errorText(payload.error));
        return;
      case 'tool.called':
      case 'handoff.started': {
        const name = String(payload.name ?? 'tool');
        const key = `tool:${String(payload.call_id ?? `${String(step)}:${name}`)}`;
        if (event.type === 'handoff.started') {
          this.#start(key, event, `invoke_agent ${name}`, SpanKind.Internal, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': name, 'gen_ai.tool.call.id': payload.call_id });
        } else {
          this.#start(key, event, `execute_tool ${name}`, SpanKind.Internal, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': name, 'gen_ai.tool.type': 'function', 'gen_ai.tool.call.id': payload.call_id });
        }
        return;
      }
      case 'tool.returned':
      case 'tool.failed': {
        const name = String(payload.name ?? 'tool');
        const key = `tool:${String(payload.call_id ?? `${String(step)}:${name}`)}`;
        if (event.type === 'tool.failed') this.#end(key, event, { 'error.type': (payload.error as { code?: string })?.code ?? 'tool_failed' }, errorText(payload.error));
        else this.#end(key, event, { 'aifactory.duration_ms': numberOf(payload.duration_ms) });
        return;
      }
      case 'retrieval.performed': {
        const key = `retrieval:${event.seq}`;
        const chunks = Array.isArray(payload.chunks) ? (payload.chunks as Array<{ id?: unknown; content_hash?: unknown }>) : [];
        this.#start(key, event, 'execute_tool retrieval', SpanKind.Internal, {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': 'retrieval',
          'gen_ai.tool.type': 'datastore',
          'gen_ai.tool.call.id': payload.call_id,
          'aifactory.retrieval.collections': Array.isArray(payload.collections) ? payload.collections.map(String) : undefined,
          'aifactory.retrieval.chunk_ids': chunks.map((chunk) => String(chunk.id)),
          'aifactory.retrieval.content_hashes': chunks.map((chunk) => String(chunk.content_hash)),
        });
        const open = this.#open.get(key)!;
        const duration = numberOf(payload.duration_ms);
        if (duration !== undefined) open.span.startTimeUnixNano = `${BigInt(open.span.endTimeUnixNano) - BigInt(Math.round(duration)) * 1_000_000n}`;
        this.#end(key, event, {});
        return;
      }
      default: {
        const decision = (payload.decision ?? {}) as Record<string, unknown>;
        const action = (payload.action ?? {}) as Record<string, unknown>;
        // Governance facts (decisions, approvals, notifications, budget, answer) become zero-length
        // child spans, not events of the root span, so a long run's root span stays small.
        this.#done.push({
          traceId: this.#traceId,
          spanId: this.#spanId(`event:${event.seq}`),
          parentSpanId: this.#root.spanId,
          name: event.type,
          kind: SpanKind.Internal,
          startTimeUnixNano: nanos(event.ts),
          endTimeUnixNano: nanos(event.ts),
          attributes: attributes({
            'aifactory.event.seq': event.seq,
            'aifactory.actor': event.actor,
            'aifactory.step': typeof step === 'number' ? step : undefined,
            'aifactory.authority': decision.authority,
            'aifactory.action.kind': action.kind,
            'aifactory.action.name': action.name,
            'aifactory.approval.id': payload.approval_id,
            'aifactory.erased': event.erasedAt ? true : undefined,
          }),
          events: [],
          status: { code: event.type === 'budget.exceeded' || decision.authority === 'deny' ? StatusCode.Error : StatusCode.Unset },
        });
      }
    }
  }

  /** Spans finished so far (handed out once). */
  drain(): OtlpSpan[] {
    return this.#done.splice(0, this.#done.length);
  }

  /** The root span and any spans left open (an action whose outcome was never recorded). */
  finish(): OtlpSpan[] {
    for (const { span } of this.#open.values()) {
      span.status = { code: StatusCode.Error, message: 'no outcome recorded' };
      this.#done.push(span);
    }
    this.#open.clear();
    return [...this.drain(), this.#root];
  }
}

function otlpLine(spans: OtlpSpan[]): string {
  return `${JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attributes({ 'service.name': 'aifactory' }) },
        scopeSpans: [{ scope: { name: '@aifactory/verification', version: '0.1.0' }, spans }],
      },
    ],
  })}\n`;
}

/** Streams the selected runs as OTLP JSON lines (one ExportTraceServiceRequest per line, at most spansPerLine spans each). */
export async function* exportOtlp(store: Store, filter: RunFilter = {}, options: { spansPerLine?: number } = {}): AsyncGenerator<string> {
  const limit = options.spansPerLine ?? 500;
  for await (const run of listRuns(store, filter)) {
    const builder = new RunSpanBuilder(run);
    let pending: OtlpSpan[] = [];
    for await (const event of readRunEvents(store, run.id)) {
      builder.add(event);
      pending.push(...builder.drain());
      if (pending.length >= limit) {
        yield otlpLine(pending);
        pending = [];
      }
    }
    pending.push(...builder.finish());
    for (let index = 0; index < pending.length; index += limit) yield otlpLine(pending.slice(index, index + limit));
  }
}
