// The one composition root: openWorkspace(config) builds every part a process needs from one
// configuration — the store, the seal signer, the redactor, the recorder, the runtime with its
// approvals, notifications, models and knowledge — and the use cases every adapter (HTTP, CLI,
// MCP, the demo) calls. Two processes opened from the same configuration seal with the same key.
import type { ModelGateway } from '@aifactory/execution';
import type { Store } from '@aifactory/store';
import { createRecorder, type Recorder, type Redactor, type SealSigner } from '@aifactory/verification';
import { startRun, type StartRunRequest } from './use-cases/start-run.ts';
import { verifyWorkspaceRun } from './use-cases/verify-run.ts';
import { voteAndResume, type VoteAndResumeRequest, type VoteAndResumeResult } from './use-cases/vote-and-resume.ts';
import { openWorkspaceStore, workspaceRedactor, workspaceSigner, workspaceWitness, type WorkspaceConfig } from './workspace-config.ts';
import { createWorkspaceRuntime, type WorkspaceRuntime, type WorkspaceRuntimeOptions } from './workspace-runtime.ts';
import type { RunResult } from '@aifactory/execution';
import type { VerificationReport } from '@aifactory/verification';

/** What a caller may bring instead of what the configuration would build. */
export interface OpenWorkspaceOptions {
  /** An open store to use (the caller closes it); default: opened from the configuration and closed with the workspace. */
  store?: Store;
  /** A ready model gateway (tests, benchmarks). */
  gateway?: ModelGateway;
  /** Wraps the recorder the workspace builds (e.g. to count events for metrics). */
  observeRecorder?: (recorder: Recorder) => Recorder;
  /** LangGraph checkpoint durability. */
  durability?: WorkspaceRuntimeOptions['durability'];
  /** Organisation-wide policy files applied to every agent. */
  basePolicyFiles?: string[];
  /** Also start agents by the path of a YAML file (a local admin's CLI only; default false: names in the agents folder only). */
  agentPaths?: boolean;
  /** The job queue of a Postgres store (workers, `serve --queue`): notifications are delivered through it. */
  queue?: WorkspaceRuntimeOptions['queue'];
  /** Changes a loaded agent before it runs (evaluation variants). */
  adaptAgent?: WorkspaceRuntimeOptions['adaptAgent'];
}

/** An open workspace: its parts, and the use cases adapters call. */
export interface Workspace extends WorkspaceRuntime {
  /** The configuration it was opened from. */
  readonly config: WorkspaceConfig;
  /** The key every seal of this workspace is signed with. */
  readonly signer: SealSigner;
  /** The redactor the recorder applies before anything is written. */
  readonly redactor: Redactor;
  /** Starts a governed run (see use-cases/start-run.ts). */
  startRun(request: StartRunRequest): Promise<RunResult>;
  /** Casts a vote and, once it decides the approval, resumes the held run (see use-cases/vote-and-resume.ts). */
  voteAndResume(request: VoteAndResumeRequest): Promise<VoteAndResumeResult>;
  /** Verifies a run's chain and seal, pinning this workspace's key (see use-cases/verify-run.ts). */
  verifyRun(runId: string): Promise<VerificationReport>;
}

/** Opens the workspace described by `config`. */
export async function openWorkspace(config: WorkspaceConfig, options: OpenWorkspaceOptions = {}): Promise<Workspace> {
  const store = options.store ?? (await openWorkspaceStore(config));
  try {
    const signer = await workspaceSigner(config);
    const redactor = await workspaceRedactor(config);
    const witness = workspaceWitness(config);
    const built = createRecorder(store, { signer, redactor, ...(witness ? { witness } : {}) });
    const recorder = options.observeRecorder ? options.observeRecorder(built) : built;
    const parts = await createWorkspaceRuntime({
      store,
      dataDir: config.home,
      agentsDir: config.agentsDir,
      recorder,
      redactor,
      ...(options.gateway ? { gateway: options.gateway } : {}),
      ...(options.durability ? { durability: options.durability } : {}),
      ...(options.basePolicyFiles ? { basePolicyFiles: options.basePolicyFiles } : {}),
      ...(options.agentPaths ? { agentPaths: true } : {}),
      ...(options.queue ? { queue: options.queue } : {}),
      ...(options.adaptAgent ? { adaptAgent: options.adaptAgent } : {}),
    });
    let closed: Promise<void> | undefined;
    const workspace: Workspace = {
      ...parts,
      config,
      signer,
      redactor,
      startRun: (request) => startRun(workspace, request),
      voteAndResume: (request) => voteAndResume(workspace, request),
      verifyRun: (runId) => verifyWorkspaceRun(workspace, runId),
      close() {
        closed ??= (async () => {
          await parts.close();
          if (!options.store) await store.close();
        })();
        return closed;
      },
    };
    return workspace;
  } catch (error) {
    if (!options.store) await store.close().catch(() => undefined);
    throw error;
  }
}
