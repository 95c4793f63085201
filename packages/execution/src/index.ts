// @aifactory/execution public API: anything exported here is public API.
// The execution plane: governed LangGraph agents, the model gateway, MCP tools, approvals,
// notifications and the store-backed checkpointer. Named exports only: this root holds what
// running governed agents takes; each area's fuller surface is its subpath (./models is not one:
// its names are here) — ./agents, ./tools, ./approvals, ./notifications, ./checkpoint, ./replay,
// ./testing. What only the workspace's own packages wire together is ./internal, not public API.

// Runs: start, resume, recover; runs proposed from outside; what a run tells its watchers.
export { AgentRuntime } from './runtime/agent-runtime.ts';
export type {
  AgentRuntimeOptions,
  CallerTrace,
  RecoveryResult,
  RunResult,
  RuntimeApprovals,
  RuntimeRecorder,
} from './runtime/agent-runtime.ts';
export { RunSupervisor } from './runtime/run-supervisor.ts';
export type { RunSupervisorOptions } from './runtime/run-supervisor.ts';
export type { InDoubtAction, InDoubtDecision, InDoubtResolution, InDoubtSettlement } from './runtime/run-recovery.ts';
export { RunOwnership } from './runtime/run-ownership.ts';
export type { LeaseStamp, RunOwnershipOptions } from './runtime/run-ownership.ts';
export { GovernedSession } from './runtime/governed-session.ts';
export type { ActionIo, GovernedOutcome, GovernedSessionOptions } from './runtime/governed-session.ts';
export { eraseRunData } from './runtime/run-erasure.ts';
export type { RunDataErasureResult } from './runtime/run-erasure.ts';
export type { RunEvent, RunEventListener } from './graph/run-events.ts';

// The chokepoint: the gate and what it decides, records and carries out.
export { GovernanceGate } from './governance/gate.ts';
export type { RuntimeNotifier } from './governance/notify-obligation.ts';
export type {
  EventDraft,
  Gate,
  GateApprovalRequest,
  GateNotificationPayload,
  GateObligations,
  GateRecorder,
  GateRunContext,
  GovernOptions,
  OpenedApproval,
  ProposedAction,
  Verdict,
} from './governance/gate.ts';

// The agent graph, for callers that drive LangGraph themselves.
export { createAgentGraph } from './graph/agent-graph.ts';
export { AgentState, endedRunCheckpoint } from './graph/agent-state.ts';
export type { AgentStateValue, ApprovalResume, HeldAction } from './graph/agent-state.ts';
export type { AgentGraphDependencies } from './graph/graph-context.ts';

// What an agent may call.
export { createToolbox } from './toolbox/toolbox.ts';
export type { AgentToolbox, ResolvedCall, ToolOutcome, ToolRun } from './toolbox/toolbox-port.ts';
export type { HandoffRunner } from './toolbox/handoff.ts';
export type { KnowledgeAccess } from './toolbox/knowledge-search.ts';

// Models (no subpath of their own).
export {
  computeCost,
  createModelGateway,
  createModelRegistry,
  defaultPrices,
  findPrice,
  loadModelRegistry,
  modelGatewayConfigFromEnv,
  parseModelId,
  parseScript,
  UnexpectedModelCallError,
} from './models/index.ts';
export type {
  BackoffConfig,
  ChatMessage,
  MeteredModelGateway,
  ModelAttribution,
  ModelCallOptions,
  ModelGateway,
  ModelGatewayConfig,
  ModelPrice,
  ModelRequest,
  ModelResponse,
  ModelRegistry,
  ModelScript,
  ModelUsage,
  PriceTable,
  ProviderConfig,
  ProviderKind,
  RegisteredModel,
  ToolCall,
  ToolSpec,
  UsageFilter,
  UsageRecord,
} from './models/index.ts';

// The main entry of each area with a subpath of its own.
export {
  ArgumentValidator,
  ToolHost,
  ToolPinStore,
  changedFields,
  resolvePackageBin,
  serverNameProblem,
  toolDefinitionHash,
} from './tools/index.ts';
export type { McpServerConfig, ToolDescriptor, ToolHostOptions, ToolPin, ToolResult } from './tools/index.ts';
export {
  findAgent,
  findAgentByName,
  isAgentName,
  loadAgentDefinition,
  loadAgentInFolder,
  loadAgents,
  withResolvedPrompt,
} from './agents/index.ts';
export type { AgentDefinition } from './agents/index.ts';
export { createApprovalService, voteIneligibility } from './approvals/index.ts';
export type { Approval, ApprovalService, ApprovalServiceOptions, Ballot, VoteResult } from './approvals/index.ts';
export { enqueueNotification, listNotifications, notificationMessage } from './notifications/index.ts';
export type { Notification, NotificationFilter } from './notifications/index.ts';
export { StoreCheckpointSaver } from './checkpoint/index.ts';
export { loadRecordedRun, policyImpact, replayRun, whatIf } from './replay/index.ts';
export type { PolicyImpactReport, ReplayOptions, ReplayReport, WhatIfReport } from './replay/index.ts';
