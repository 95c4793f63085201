// The runtime half of the composition root: one call wires a runtime over an open store — the
// verification recorder (signed seals, redaction), approvals, the notification outbox, the
// LangGraph checkpointer, the model gateway and agent loading. openWorkspace() calls it with the
// configured keys; tests and benchmarks call it directly over a store of their own.
import path from 'node:path';
import {
  AgentRuntime,
  createApprovalService,
  createModelGateway,
  endedRunCheckpoint,
  enqueueNotification,
  findAgent,
  findAgentByName,
  isAgentName,
  loadAgentInFolder,
  loadModelRegistry,
  modelGatewayConfigFromEnv,
  RunOwnership,
  StoreCheckpointSaver,
  withResolvedPrompt,
  type AgentDefinition,
  type AgentRuntimeOptions,
  type ApprovalService,
  type KnowledgeAccess,
  type ModelGateway,
  type ModelGatewayConfig,
  type ModelRegistry,
  type RuntimeNotifier,
  type RuntimeRecorder,
} from '@aifactory/execution';
import { knowledgeAccessFor } from '@aifactory/execution/internal';
import type { Store } from '@aifactory/store';
import type { RunQueue } from './run-queue.ts';
import {
  createRecorder,
  loadAtRestCipher,
  loadOrCreateSigner,
  loadRedactor,
  witnessFromEnvironment,
  type Recorder,
  type Redactor,
  type Witness,
} from '@aifactory/verification';

/** Options of createWorkspaceRuntime. */
export interface WorkspaceRuntimeOptions {
  store: Store;
  /** Data directory for the seal key and the redaction key. */
  dataDir: string;
  /** Folder agents are looked up in by name (default ./agents). */
  agentsDir?: string;
  /** Also start agents by the path of a YAML file (a local admin's CLI only; default false: names in agentsDir only). */
  agentPaths?: boolean;
  /** Model gateway config; default from the environment plus each agent's script. */
  models?: ModelGatewayConfig;
  /** A ready gateway (tests, benchmarks); overrides `models`. */
  gateway?: ModelGateway;
  /** Organisation-wide policy files applied to every agent. */
  basePolicyFiles?: string[];
  knowledge?: (agent: AgentDefinition) => Promise<KnowledgeAccess | undefined>;
  durability?: AgentRuntimeOptions['durability'];
  /** A recorder of your own (default: one signed with the seal key, redacting secrets). */
  recorder?: Recorder;
  /** The leases of the runs this process drives (default: AIFACTORY_LEASE_MS or 30 s). */
  ownership?: RunOwnership;
  /** The redactor (default: the data directory's key and redaction.json). */
  redactor?: Redactor;
  /** Seal key file for the default recorder (must exist); default `<dataDir>/keys/seal-ed25519.pem`, created on first use. */
  sealKeyPath?: string;
  /** The runtime's clock (tests): run limits, holds and decisions are timed with it. */
  clock?: () => Date;
  /** The job queue (Postgres): a notification and the job that delivers it then commit together. */
  queue?: RunQueue;
  /** The model registry folder (`models/*.yaml`; default `models` beside the agents folder); none when it does not exist. */
  modelsDir?: string;
  /** Changes a loaded agent before it runs (evaluation variants: another prompt version, model or top_k); its registry prompt is resolved after. */
  adaptAgent?: (definition: AgentDefinition) => AgentDefinition;
}

/** A runtime plus the services around it, sharing one store. */
export interface WorkspaceRuntime {
  runtime: AgentRuntime;
  recorder: Recorder;
  approvals: ApprovalService;
  store: Store;
  /** The workspace redactor (secrets and configured PII), for anything else written or logged. */
  redactor: Redactor;
  /** The notification outbox the runtime's gate queues a policy's notify targets in; every other gate (governed sessions, the LLM gateway) is given it too. */
  notify: RuntimeNotifier;
  /** The model registry (`models/*.yaml`), when the workspace has one; the LLM gateway reads it too. */
  modelRegistry?: ModelRegistry;
  close(): Promise<void>;
}

/** Adapts the verification plane's typed recorder to the runtime's port (event types are checked there). */
export function runtimeRecorder(recorder: Recorder): RuntimeRecorder {
  return {
    startRun: (run, options) => recorder.startRun(run, options),
    recordBatch: (runId, events, options) => recorder.recordBatch(runId, events, options),
    setStatus: (runId, status, options) => recorder.setStatus(runId, status, options),
    finishRun: (runId, outcome, options) => recorder.finishRun(runId, outcome, options),
    sealRun: (runId, options) => recorder.sealRun(runId, options),
  };
}

/** The witness named by AIFACTORY_WITNESS, as a recorder option (checkpoints kept outside the database). */
function witnessOption(): { witness?: Witness } {
  const witness = witnessFromEnvironment();
  return witness ? { witness } : {};
}

/**
 * Resolves an agent's registry prompt (`spec.prompt: <name>@<label or version>`) from the prompt
 * registry in the store: the version's sealed template, rendered with the agent's variables. The
 * version (and the label it came through) is recorded with every run. A process resolves a label
 * when it first loads the agent, so a long-running server picks up a promotion when it restarts.
 */
async function resolveRegistryPrompt(store: Store, definition: AgentDefinition): Promise<AgentDefinition> {
  const reference = definition.promptReference;
  if (!reference) return definition;
  const { resolvePrompt } = await import('@aifactory/quality');
  const resolved = await resolvePrompt(store, reference.name, reference.ref, reference.variables);
  return withResolvedPrompt(definition, resolved.text, {
    name: reference.name,
    version: resolved.version.version,
    ...(resolved.label ? { label: resolved.label } : {}),
    contentHash: resolved.version.contentHash,
  });
}

/** Wires a runtime over `store` with the workspace's keys, agents and models. */
export async function createWorkspaceRuntime(options: WorkspaceRuntimeOptions): Promise<WorkspaceRuntime> {
  const { store } = options;
  const redactor = options.redactor ?? (await loadRedactor(options.dataDir));
  const recorder =
    options.recorder ??
    createRecorder(store, {
      signer: await loadOrCreateSigner(options.dataDir, options.sealKeyPath ? { keyPath: options.sealKeyPath } : {}),
      redactor,
      ...witnessOption(),
    });
  // Approvals and notifications are read by people: they hold masked values, like the trace.
  const redact = (value: unknown) => redactor.redact(value).value;
  const approvals = createApprovalService(store, {
    record: (runId, event) => recorder.record(runId, event),
    redact,
  });
  const agentsDir = options.agentsDir ?? path.resolve('agents');
  const loaded = new Map<string, AgentDefinition>();
  const loadAgent = async (reference: string): Promise<AgentDefinition> => {
    const cached = loaded.get(reference);
    if (cached) return cached;
    // Names resolve inside agentsDir only; a path is either a local admin's (agentPaths) or the
    // file a held run recorded, which must still lie in agentsDir.
    const definition = options.agentPaths
      ? await findAgent(reference, { directory: agentsDir })
      : isAgentName(reference)
        ? await findAgentByName(reference, { directory: agentsDir })
        : await loadAgentInFolder(reference, { directory: agentsDir });
    const resolved = await resolveRegistryPrompt(store, options.adaptAgent ? options.adaptAgent(definition) : definition);
    loaded.set(reference, resolved);
    return resolved;
  };
  // The model registry, when the workspace has one: policies see a model call's entry (CEL
  // `model`) and the gateway falls back to registered models only.
  const modelRegistry = await loadModelRegistry(options.modelsDir ?? path.join(path.dirname(agentsDir), 'models'));
  const gateway =
    options.gateway ??
    createModelGateway({
      ...modelGatewayConfigFromEnv(),
      ...options.models,
      scriptDirectory: options.models?.scriptDirectory ?? path.join(agentsDir, 'scripts'),
      ...(modelRegistry ? { registry: modelRegistry } : {}),
    });
  // Agents with collections search the workspace's knowledge base unless the caller brings its own.
  const knowledge = options.knowledge ? undefined : knowledgeAccessFor(store, options.dataDir);
  const ownership = options.ownership ?? new RunOwnership({ store });
  const notify: RuntimeNotifier = async (input) => {
    const notification = { ...input, payload: redact(input.payload) };
    const queue = options.queue;
    if (!queue) {
      await enqueueNotification(store, notification);
      return;
    }
    // A transactional outbox: the notification and the job that delivers it commit together.
    await store.db.transaction(async (transaction) => {
      await enqueueNotification(transaction, notification);
      await transaction.execute(queue.deliveryJobSql());
    });
  };
  const runtime = new AgentRuntime({
    ownership,
    store,
    recorder: runtimeRecorder(recorder),
    approvals,
    notify,
    models: gateway,
    checkpointer: new StoreCheckpointSaver(store, {
      cipher: await loadAtRestCipher(options.dataDir),
      beforeWrite: (runId) => ownership.ensureCanAct(runId, 'write a checkpoint'),
      // A run that ended is never resumed: its end is not checkpointed (one statement and its
      // whole conversation encrypted fewer per run).
      skip: endedRunCheckpoint,
    }),
    loadAgent,
    ...(options.basePolicyFiles ? { basePolicyFiles: options.basePolicyFiles } : {}),
    knowledge: options.knowledge ?? knowledge!.resolve,
    ...(options.durability ? { durability: options.durability } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(modelRegistry ? { modelRegistry } : {}),
  });
  return {
    runtime,
    recorder,
    approvals,
    store,
    redactor,
    notify,
    ...(modelRegistry ? { modelRegistry } : {}),
    close: async () => {
      await runtime.close();
      await knowledge?.close();
    },
  };
}
