// @aifactory/workspace public API: anything exported here is public API.
// The composition root: configuration read once from the environment, openWorkspace() building
// every part over one store and one seal key, and the use cases every adapter calls.
export { openWorkspace } from './open-workspace.ts';
export type { OpenWorkspaceOptions, Workspace } from './open-workspace.ts';
export {
  findWorkspaceSigner,
  openWorkspaceRecorder,
  openWorkspaceStore,
  workspaceConfigAt,
  workspaceConfigFromEnv,
  workspaceDataDir,
  workspaceRedactor,
  workspaceSigner,
  workspaceWitness,
} from './workspace-config.ts';
export type { WorkspaceConfig, WorkspaceConfigOverrides } from './workspace-config.ts';
export { createWorkspaceRuntime, runtimeRecorder } from './workspace-runtime.ts';
export type { WorkspaceRuntime, WorkspaceRuntimeOptions } from './workspace-runtime.ts';
export { startRun } from './use-cases/start-run.ts';
export type { StartRunRequest } from './use-cases/start-run.ts';
export { voteAndResume } from './use-cases/vote-and-resume.ts';
export type { VoteAndResumeRequest, VoteAndResumeResult } from './use-cases/vote-and-resume.ts';
export { verifyWorkspaceRun } from './use-cases/verify-run.ts';
export { RunQueue, queueSchemaFor, driveRunTask, deliverNotificationsTask } from './run-queue.ts';
export type { DriveReason, DriveRunJob, QueueWorker, QueueWorkerOptions, RunQueueOptions } from './run-queue.ts';
