// A recorded run as replay, what-if and impact read it: the run row, its metadata (agent and
// prompt hashes, policies in force) and its events with parsed payloads, indexed by step.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { readRunEvents } from '@aifactory/verification';
import { findRun } from '@aifactory/verification/internal';

/** What the runtime writes to runs.metadata when a run starts. */
export interface RecordedRunMetadata {
  agent_file?: string;
  definition_hash?: string;
  prompt_hash?: string;
  model?: string;
  /** The registry prompt version the run used (`spec.prompt`, or an evaluation's `--prompt`). */
  prompt?: { name: string; version: number; label?: string; content_hash: string };
  /** Passages per search of each knowledge collection the run could search, as it ran. */
  top_k?: Record<string, number>;
  principal_roles?: string[];
  policies?: Array<{ name: string; version: string | number; hash: string }>;
  policy_set_hash?: string;
  [key: string]: unknown;
}

/** One event of a recorded run, payload parsed (null once erased). */
export interface RecordedRunEvent {
  seq: number;
  ts: Date;
  type: string;
  actor: string;
  payload: Record<string, unknown> | null;
  /** Whether redaction replaced anything in the payload before it was recorded. */
  redacted: boolean;
}

/** A run and its events. */
export interface RecordedRun {
  id: string;
  agent: string;
  team: string | null;
  principal: string;
  status: string;
  startedAt: Date;
  endedAt: Date | null;
  input: unknown;
  replayOf: string | null;
  metadata: RecordedRunMetadata;
  events: RecordedRunEvent[];
}

/** Loads a run and all its events; NOT_FOUND names the run when it does not exist. */
export async function loadRecordedRun(store: Store, runId: string): Promise<RecordedRun> {
  const row = await findRun(store, runId);
  if (!row) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist; run 'factory runs list' to see the runs.`);
  const events = await loadRecordedEvents(store, runId);
  return {
    id: row.id,
    agent: row.agent,
    team: row.team ?? null,
    principal: row.principal,
    status: row.status,
    startedAt: row.startedAt,
    endedAt: row.endedAt ?? null,
    input: row.input,
    replayOf: row.replayOf ?? null,
    metadata: (row.metadata ?? {}) as RecordedRunMetadata,
    events,
  };
}

/** A run's events with parsed payloads, without its row (one query; an evaluation's checks read only these). */
export async function loadRecordedEvents(store: Store, runId: string): Promise<RecordedRunEvent[]> {
  const events: RecordedRunEvent[] = [];
  for await (const event of readRunEvents(store, runId)) {
    events.push({
      seq: event.seq,
      ts: event.ts,
      type: event.type,
      actor: event.actor,
      payload: event.payloadText === null ? null : (JSON.parse(event.payloadText) as Record<string, unknown>),
      redacted: (event.redactions?.length ?? 0) > 0,
    });
  }
  return events;
}

/** The first event of `type` recorded for `step` (and call id, when given). */
export function eventAt(run: RecordedRun, type: string, step: number, callId?: string): RecordedRunEvent | undefined {
  return run.events.find(
    (event) => event.type === type && event.payload?.step === step && (callId === undefined || event.payload?.call_id === callId),
  );
}
