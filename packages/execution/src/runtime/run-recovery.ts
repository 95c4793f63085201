// What a process taking over a run whose owner died learns from the run's trace, before it goes
// on from the last checkpoint:
// - the outcome of every action that ran and was recorded, so going on never runs it again;
// - the model responses recorded, so the steps after the checkpoint see the same answers (and the
//   same tool calls) they saw the first time — model calls that were not recorded are made again;
// - actions in doubt: a tool call (or hand-off) whose intent was recorded but whose outcome was
//   not. It may or may not have happened, so it is never run again silently: it is retried only
//   when the agent declares the tool idempotent (or a human said retry); otherwise the run is
//   held with reason outcome_unknown until a human confirms it happened, retries it, or fails it.
import type { Store } from '@aifactory/store';
import { readRunEvents } from '@aifactory/verification';
import { payloadObject } from '@aifactory/verification/internal';
import type { AgentDefinition } from '../agents/index.ts';
import type { RunEventListener } from '../graph/run-events.ts';
import type { ModelResponse } from '../models/index.ts';
import { compileAllowList } from '../tools/allow-list.ts';
import type { ToolOutcome } from '../toolbox/toolbox-port.ts';

/** An action whose intent was recorded and whose outcome was not. */
export interface InDoubtAction {
  step: number;
  callId?: string;
  kind: 'tool' | 'handoff' | 'retrieval';
  name: string;
  /** Seq of its intent event (tool.called / handoff.started). */
  seq: number;
}

/** How a human settled an action in doubt. */
export type InDoubtResolution = 'confirmed' | 'retried' | 'failed';

/** A human's decision on a run held with its actions in doubt (outcome_unknown). */
export interface InDoubtDecision {
  resolution: InDoubtResolution;
  by: string;
  /** With `confirmed`: what the call returned, as the human read it. */
  result?: string;
  /** With `failed`: why. */
  reason?: string;
}

/** A decision handed over to be applied, with who listens to the run as it goes on. */
export interface InDoubtSettlement extends InDoubtDecision {
  onEvent?: RunEventListener;
  /** Called once the decision (action.resolved) is in the trace, before the run goes on. */
  onRecorded?: () => void;
}

/** What the trace of a run tells its new owner. */
export interface RecoveryLedger {
  /** Recorded tool outcomes by `step:call_id`. */
  outcomes: Map<string, { seq: number; type: 'tool.returned' | 'tool.failed'; actor: string; payload: Record<string, unknown> }>;
  /** Human resolutions by `step:call_id`. */
  resolutions: Map<string, InDoubtDecision>;
  /** Actions in doubt that no human has settled. */
  inDoubt: InDoubtAction[];
  /** Recorded model responses by the hash of their request. */
  modelResponses: Map<string, ModelResponse>;
  /** The approval each recorded hold (run.held) waits on, by step. */
  holds: Map<number, string>;
  /** The approvals a recorded resume (run.resumed) went on with. */
  resumed: Set<string>;
  /** The seq of the run's last event (what the ledger was read up to). */
  headSeq: number;
  /** The run's last hold: its seq, and whether it held actions in doubt (outcome_unknown) or waits on an approval. */
  lastHold?: { seq: number; inDoubt: boolean };
  /** The decisions (action.resolved) recorded since the last hold, in their order: once the hold is in doubt, a human's decision waiting to be applied. */
  decidedSinceHold: DecidedAction[];
}

/** An in-doubt action a human decided on (its action.resolved). */
export interface DecidedAction extends InDoubtDecision {
  step: number;
  callId?: string;
  name: string;
}

/** The key of one tool call of one step. */
export function callKey(step: number, callId: string | undefined): string {
  return `${step}:${callId ?? ''}`;
}

/** Reads the trace of a run into what recovery needs. */
export async function readRecoveryLedger(store: Store, runId: string): Promise<RecoveryLedger> {
  const intents = new Map<string, InDoubtAction>();
  const outcomes: RecoveryLedger['outcomes'] = new Map();
  const resolutions: RecoveryLedger['resolutions'] = new Map();
  const requestHashes = new Map<number, string>();
  const modelResponses = new Map<string, ModelResponse>();
  const holds = new Map<number, string>();
  const resumed = new Set<string>();
  let headSeq = 0;
  let lastHold: RecoveryLedger['lastHold'];
  let decidedSinceHold: DecidedAction[] = [];
  for await (const event of readRunEvents(store, runId)) {
    headSeq = event.seq;
    const payload = payloadObject(event.payloadText);
    const step = typeof payload.step === 'number' ? payload.step : -1;
    const key = callKey(step, typeof payload.call_id === 'string' ? payload.call_id : undefined);
    switch (event.type) {
      case 'tool.called':
      case 'handoff.started': {
        const kind =
          event.type === 'handoff.started'
            ? 'handoff'
            : payload.kind === 'retrieval'
              ? 'retrieval'
              : payload.kind === 'handoff'
                ? 'handoff'
                : 'tool';
        // A call whose outcome is known (recorded, or confirmed by a human) is served back, never
        // run, when a recovered run passes it again: that second intent is not in doubt.
        if (outcomes.has(key) || resolutions.get(key)?.resolution === 'confirmed') break;
        intents.set(key, {
          step,
          ...(typeof payload.call_id === 'string' ? { callId: payload.call_id } : {}),
          kind,
          name: String(payload.name ?? ''),
          seq: event.seq,
        });
        resolutions.delete(key);
        break;
      }
      case 'tool.returned':
      case 'tool.failed':
        intents.delete(key);
        outcomes.set(key, { seq: event.seq, type: event.type, actor: event.actor, payload });
        break;
      case 'retrieval.performed':
        intents.delete(key);
        break;
      case 'action.resolved': {
        const decision: InDoubtDecision = {
          resolution: payload.resolution as InDoubtResolution,
          by: String(payload.by ?? ''),
          ...(typeof payload.result === 'string' ? { result: payload.result } : {}),
          ...(typeof payload.reason === 'string' ? { reason: payload.reason } : {}),
        };
        resolutions.set(key, decision);
        decidedSinceHold.push({
          step,
          ...(typeof payload.call_id === 'string' ? { callId: payload.call_id } : {}),
          name: String(payload.name ?? ''),
          ...decision,
        });
        intents.delete(key);
        break;
      }
      case 'model.requested':
        if (typeof payload.request_hash === 'string') requestHashes.set(step, payload.request_hash);
        break;
      case 'model.responded': {
        const hash = requestHashes.get(step);
        if (hash && payload.content !== undefined) modelResponses.set(hash, responseOf(payload));
        break;
      }
      case 'run.held':
        if (typeof payload.approval_id === 'string') holds.set(step, payload.approval_id);
        decidedSinceHold = [];
        lastHold = { seq: event.seq, inDoubt: payload.reason === 'outcome_unknown' };
        break;
      case 'run.resumed':
        if (typeof payload.approval_id === 'string') resumed.add(payload.approval_id);
        break;
      default:
        break;
    }
  }
  return {
    outcomes,
    resolutions,
    inDoubt: [...intents.values()].sort((left, right) => left.seq - right.seq),
    modelResponses,
    holds,
    resumed,
    headSeq,
    ...(lastHold ? { lastHold } : {}),
    decidedSinceHold,
  };
}

/** A recorded model.responded payload as the model response it was. */
function responseOf(payload: Record<string, unknown>): ModelResponse {
  return {
    provider: String(payload.provider ?? ''),
    model: String(payload.model ?? ''),
    content: String(payload.content ?? ''),
    toolCalls: (payload.tool_calls as ModelResponse['toolCalls']) ?? [],
    usage: (payload.usage as ModelResponse['usage']) ?? { inputTokens: 0, outputTokens: 0 },
    costUsd: Number(payload.cost_usd ?? 0),
    priced: true,
    finishReason: String(payload.finish_reason ?? 'stop'),
    latencyMs: 0,
    attempts: 0,
    fallbackUsed: payload.fallback_used === true,
  };
}

/**
 * Whether running the action again is safe: retrievals only read; a tool is when its server's
 * `idempotent` globs name it; a hand-off never is (it starts another run).
 */
export function isIdempotent(definition: AgentDefinition, action: Pick<InDoubtAction, 'kind' | 'name'>): boolean {
  if (action.kind === 'retrieval') return true;
  if (action.kind !== 'tool') return false;
  const dot = action.name.indexOf('.');
  if (dot < 0) return false;
  const server = definition.tools.find((candidate) => candidate.name === action.name.slice(0, dot));
  if (!server?.idempotent) return false;
  return compileAllowList(server.idempotent).allows(action.name.slice(dot + 1));
}

/** The outcome a tool call had, served back from the trace instead of running it again. */
export function recordedToolOutcome(recorded: RecoveryLedger['outcomes'] extends Map<string, infer V> ? V : never): ToolOutcome {
  const payload = { ...recorded.payload, recorded_seq: recorded.seq };
  if (recorded.type === 'tool.returned')
    return { ok: true, content: String(recorded.payload.content ?? ''), event: { type: 'tool.returned', actor: recorded.actor, payload } };
  const error = recorded.payload.error as { message?: string } | string | undefined;
  const message = typeof error === 'string' ? error : (error?.message ?? 'The tool failed.');
  return { ok: false, message, event: { type: 'tool.failed', actor: recorded.actor, payload } };
}

/** The outcome of an in-doubt call a human confirmed happened. */
export function confirmedToolOutcome(step: number, callId: string, name: string, resolution: { by: string; result?: string }): ToolOutcome {
  const content = resolution.result ?? `The call's outcome was not recorded; ${resolution.by} confirmed that it happened.`;
  return {
    ok: true,
    content,
    event: { type: 'tool.returned', actor: name, payload: { step, call_id: callId, name, content, confirmed_by: resolution.by } },
  };
}
