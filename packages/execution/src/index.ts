// @aifactory/execution public API: anything exported here is public API.
// The execution plane: governed LangGraph agents, the model gateway, MCP tools, approvals,
// notifications and the store-backed checkpointer.
export * from './models/index.ts';
export * from './tools/index.ts';
export * from './agents/index.ts';
export * from './approvals/index.ts';
export * from './notifications/index.ts';
export * from './checkpoint/index.ts';
export * from './replay/index.ts';
export { AgentRuntime, handedBackError } from './runtime/agent-runtime.ts';
export type { AgentRuntimeOptions, CallerTrace, Principal, RecoveryResult, RunResult, RuntimeApprovals, RuntimeNotifier, RuntimeRecorder } from './runtime/agent-runtime.ts';
export { RunSupervisor } from './runtime/run-supervisor.ts';
export type { RunSupervisorOptions } from './runtime/run-supervisor.ts';
export { isIdempotent, readRecoveryLedger } from './runtime/run-recovery.ts';
export type { InDoubtAction, InDoubtResolution, RecoveryLedger } from './runtime/run-recovery.ts';
export { AgentState, createAgentGraph } from './graph/agent-graph.ts';
export type { AgentGraphDependencies, AgentStateValue, ApprovalResume, HeldAction, RunCounters } from './graph/agent-graph.ts';
export type { AgentToolbox, ToolOutcome } from './toolbox/toolbox-port.ts';
export { GovernanceGate, decisionSummary, maskFields } from './governance/gate.ts';
export { GovernedSession } from './runtime/governed-session.ts';
export type { ActionIo, GovernedOutcome, GovernedSessionOptions } from './runtime/governed-session.ts';
export type { EventDraft, Gate, GateRecorder, GateRunContext, ProposedAction, Verdict } from './governance/gate.ts';
export type { RunEvent, RunEventListener } from './graph/run-events.ts';
export { createToolbox } from './toolbox/toolbox.ts';
export { modelToolName } from './toolbox/handoff.ts';
export type { HandoffRunner } from './toolbox/handoff.ts';
export type { KnowledgeAccess } from './toolbox/knowledge-search.ts';
export { RunOwnership, defaultLeaseMs, leaseMsFromEnv } from './runtime/run-ownership.ts';
export type { LeaseStamp, RunOwnershipOptions } from './runtime/run-ownership.ts';
export { knowledgeAccessFor } from './toolbox/knowledge-access.ts';
export { eraseRunData } from './runtime/run-erasure.ts';
export type { RunDataErasureResult } from './runtime/run-erasure.ts';
