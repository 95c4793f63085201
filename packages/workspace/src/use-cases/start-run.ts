// Use case: start a governed run of an agent on one input, as a principal. The HTTP API, the
// CLI, agents served over MCP and the demo all start runs through here.
import type { Principal } from '@aifactory/core';
import type { AgentRuntime, CallerTrace, RunEventListener, RunResult } from '@aifactory/execution';

/** What starting a run takes. */
export interface StartRunRequest {
  /** Agent name (looked up in the agents folder) or path to an agent file. */
  agent: string;
  /** The task for the agent. */
  input: string;
  /** Who starts the run (the principal policies see). */
  principal: Principal;
  /** The run id to use (default: generated). */
  runId?: string;
  /** Receives the run's events as they happen. */
  onEvent?: RunEventListener;
  /** Product feature the run's cost is attributed to (default the agent's). */
  feature?: string;
  /** The caller's trace the run joins (an HTTP request's traceparent); recorded, so every process traces the run there. */
  trace?: CallerTrace;
}

/** Starts a run and resolves when it completes, fails or is held. */
export function startRun(parts: { runtime: AgentRuntime }, request: StartRunRequest): Promise<RunResult> {
  return parts.runtime.start(request.agent, request.input, {
    principal: { id: request.principal.id, roles: [...request.principal.roles] },
    ...(request.runId ? { runId: request.runId } : {}),
    ...(request.onEvent ? { onEvent: request.onEvent } : {}),
    ...(request.feature ? { feature: request.feature } : {}),
    ...(request.trace ? { trace: request.trace } : {}),
  });
}
