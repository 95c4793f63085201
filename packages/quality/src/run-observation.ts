// What an evaluation looks at in a finished (or held) run: its status and answer as the runtime
// returned them, and from the recorded trace the decisions made, the cost of its model calls and
// the passages its retrievals returned. Reading the trace, not the live events, means a case
// checks what is on the record.
import type { RecordedRun } from '@aifactory/execution/replay';

/** One governed decision of the run, as recorded. */
export interface ObservedDecision {
  kind: string;
  name: string;
  authority: string;
}

/** One passage a retrieval of the run returned. */
export interface ObservedPassage {
  source: string;
  location: unknown;
}

/** What a case's checks read. */
export interface RunObservation {
  runId: string;
  /** completed, held or failed. */
  status: 'completed' | 'held' | 'failed';
  /** The final answer, when the run completed. */
  answer?: string;
  /** Why it failed, when it did. */
  error?: string;
  decisions: ObservedDecision[];
  /** Sum of the recorded model calls' cost. */
  costUsd: number;
  /** Wall time from start to completion, hold or failure. */
  latencyMs: number;
  passages: ObservedPassage[];
}

/** The governed facts of a recorded run: decisions, cost, retrieved passages. */
export function traceFacts(run: Pick<RecordedRun, 'events'>): Pick<RunObservation, 'decisions' | 'costUsd' | 'passages'> {
  const decisions: ObservedDecision[] = [];
  const passages: ObservedPassage[] = [];
  let costUsd = 0;
  for (const event of run.events) {
    const payload = event.payload;
    if (!payload) continue;
    if (event.type === 'policy.decided') {
      const action = payload.action as { kind?: unknown; name?: unknown } | undefined;
      const decision = payload.decision as { authority?: unknown } | undefined;
      decisions.push({ kind: String(action?.kind ?? ''), name: String(action?.name ?? ''), authority: String(decision?.authority ?? '') });
    } else if (event.type === 'model.responded' && typeof payload.cost_usd === 'number') {
      costUsd += payload.cost_usd;
    } else if (event.type === 'retrieval.performed' && Array.isArray(payload.chunks)) {
      for (const chunk of payload.chunks as Array<{ source?: unknown; location?: unknown }>) {
        if (typeof chunk.source === 'string') passages.push({ source: chunk.source, location: chunk.location ?? null });
      }
    }
  }
  return { decisions, costUsd, passages };
}
