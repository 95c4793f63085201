// Replay: re-executes a recorded run's agent — the same LangGraph graph, the same governance gate
// under the run's recorded policies — with everything non-deterministic served back from the
// trace: model outputs, tool results, retrievals, approvals, the clock and the ids. No model is
// called and no tool runs (the agent's MCP servers are started only to list their tools, which
// are part of every model request). Each governed action the replay takes is compared with the
// recorded one at the same step (kind, name, arguments hash, model request hash, authority); the
// first difference is the divergence. The replay is recorded as a run of its own (replay_of).
import { existsSync } from 'node:fs';
import { AsyncLocalStorageProviderSingleton } from '@langchain/core/singletons';
import { Command, MemorySaver } from '@langchain/langgraph';
import { compilePolicies, loadPolicyFiles, parsePolicy, type Authority, type PolicySet } from '@aifactory/control';
import { AiFactoryError, canonicalJson, contentHash } from '@aifactory/core';
import { chunkContents, collectionClassifications } from '@aifactory/knowledge';
import type { Store } from '@aifactory/store';
import { type EventType } from '@aifactory/verification';
import { firstChildRun } from '@aifactory/verification/internal';
import { findAgent, loadAgentDefinition, withResolvedPrompt, type AgentDefinition } from '../agents/index.ts';
import { findArtifactContent, findPolicyVersions, storedArtifactHashes } from '../agents/definition-rows.ts';
import type { ModelGateway, ModelRequest, ModelResponse, ToolCall } from '../models/index.ts';
import { ToolHost } from '../tools/index.ts';
import { createAgentGraph } from '../graph/agent-graph.ts';
import type { AgentStateValue, ApprovalResume } from '../graph/agent-state.ts';
import type { AgentToolbox, ToolOutcome } from '../toolbox/toolbox-port.ts';
import {
  GovernanceGate,
  type EventDraft,
  type Gate,
  type GateRunContext,
  type GovernOptions,
  type ProposedAction,
  type Verdict,
} from '../governance/gate.ts';
import type { KnowledgeAccess } from '../toolbox/knowledge-search.ts';
import { createToolbox } from '../toolbox/toolbox.ts';
import { graphAgentSpec } from '../runtime/agent-runtime.ts';
import { eventAt, loadRecordedRun, type RecordedRun } from './recorded-run.ts';

/** The recorder a replay is recorded with (the verification plane's Recorder fits). */
export interface ReplayRecorder {
  startRun(run: {
    id?: string;
    agent: string;
    team?: string;
    principal: string;
    input?: unknown;
    metadata?: Record<string, unknown>;
    replayOf?: string;
  }): Promise<{ runId: string } | unknown>;
  recordBatch(runId: string, events: Array<{ type: never; actor: string; payload: unknown }>): Promise<unknown>;
  finishRun(runId: string, outcome: { status: 'completed' | 'failed'; payload?: unknown }): Promise<unknown>;
}

/** Options of replayRun. */
export interface ReplayOptions {
  /** The run to replay. */
  runId: string;
  /** Records the replay as a run of its own, linked by replay_of; without it nothing is written. */
  recorder?: ReplayRecorder;
  /** Id of the replay run (default `replay_<run>_<time>`). */
  replayRunId?: string;
  /** Where to look the agent up by name when the recorded agent_file is gone. */
  agentsDir?: string;
  /**
   * Knowledge collections of the agent (only names and classifications are used; searches are
   * served from the trace). Default: the agent's collections as the store describes them.
   */
  knowledge?: (agent: AgentDefinition) => Promise<KnowledgeAccess | undefined>;
}

/** An action as compared: what it is and its arguments. */
export interface ReplayedAction {
  kind: string;
  name: string;
  args: Record<string, unknown>;
  argsHash: string;
  authority?: Authority;
  /** For model calls: the content hash of the request (system prompt, messages, tools, parameters). */
  requestHash?: string;
}

/** One field where recorded and replayed arguments differ (path under args). */
export interface ArgumentDifference {
  path: string;
  recorded?: unknown;
  replayed?: unknown;
}

/** Where the replay parts from the recording. */
export interface ReplayDivergence {
  step: number;
  /** One sentence: what differs. */
  reason: string;
  recorded: ReplayedAction | null;
  replayed: ReplayedAction | null;
  differences: ArgumentDifference[];
}

/** The outcome of a replay. */
export interface ReplayReport {
  runId: string;
  /** The replay's own run, when recorded. */
  replayRunId: string | null;
  /** identical: every recorded action was taken again, the same; diverged: see divergence; unavailable: the agent could not be rebuilt. */
  outcome: 'identical' | 'diverged' | 'unavailable';
  /** Governed steps compared. */
  steps: number;
  agent: {
    file: string | null;
    recordedDefinitionHash: string | null;
    definitionHash: string | null;
    recordedPromptHash: string | null;
    promptHash: string | null;
    /** Whether the recorded definition source is stored (artifacts table). */
    definitionStored: boolean;
  };
  policies: { recordedSetHash: string | null; setHash: string | null; source: 'recorded' | 'current' | 'none' };
  divergence: ReplayDivergence | null;
  /** Plain statements about what could not be replayed exactly, or changed since. */
  notes: string[];
  /** The replays of the run's hand-offs (its child runs), in the order the run made them. */
  children: ReplayReport[];
  durationMs: number;
}

class DivergenceSignal extends Error {
  readonly divergence: ReplayDivergence;
  constructor(divergence: ReplayDivergence) {
    super(divergence.reason);
    this.divergence = divergence;
  }
}

/** Replays a recorded run (see the file comment); never calls a model or runs a tool. */
export async function replayRun(store: Store, options: ReplayOptions): Promise<ReplayReport> {
  const started = performance.now();
  const run = await loadRecordedRun(store, options.runId);
  const notes: string[] = [];
  const metadata = run.metadata;
  const report: ReplayReport = {
    runId: run.id,
    replayRunId: null,
    outcome: 'unavailable',
    steps: 0,
    agent: {
      file: metadata.agent_file ?? null,
      recordedDefinitionHash: metadata.definition_hash ?? null,
      definitionHash: null,
      recordedPromptHash: metadata.prompt_hash ?? null,
      promptHash: null,
      definitionStored: false,
    },
    policies: { recordedSetHash: metadata.policy_set_hash ?? null, setHash: null, source: 'none' },
    divergence: null,
    notes,
    children: [],
    durationMs: 0,
  };
  const finish = (): ReplayReport => ({ ...report, durationMs: performance.now() - started });

  if (metadata.definition_hash) {
    report.agent.definitionStored = (await storedArtifactHashes(store, [metadata.definition_hash])).has(metadata.definition_hash);
  }
  const loaded = await resolveAgent(run, options, notes);
  if (!loaded) return finish();
  const definition = await asItRan(store, run, loaded, notes);
  report.agent.file = definition.file;
  report.agent.definitionHash = definition.definitionHash;
  report.agent.promptHash = definition.promptHash;
  if (!metadata.definition_hash)
    notes.push('The run does not record the hash of its agent definition; the current definition is replayed unchecked.');
  else if (metadata.definition_hash !== definition.definitionHash) {
    notes.push(
      `The agent definition changed since the run: recorded ${short(metadata.definition_hash)}, now ${short(definition.definitionHash)} (${definition.file})${report.agent.definitionStored ? '; the recorded source is kept in the artifacts table' : '; the recorded source is not stored'}. The replay runs the current definition and shows where its behaviour parts.`,
    );
  }
  if (metadata.prompt_hash && metadata.prompt_hash !== definition.promptHash) {
    notes.push(`The system prompt changed since the run: recorded ${short(metadata.prompt_hash)}, now ${short(definition.promptHash)}.`);
  }

  const policies = await recordedPolicies(store, run, definition, notes);
  report.policies.source = policies.source;
  report.policies.setHash = policies.set.hash;

  const host = definition.tools.length > 0 ? await ToolHost.connect(definition.tools) : undefined;
  try {
    const knowledge = options.knowledge ? await options.knowledge(definition) : await recordedKnowledge(store, run, definition, notes);
    const replayRunId = options.replayRunId ?? `replay_${run.id}_${Date.now().toString(36)}`;
    const buffered: EventDraft[] = [];
    if (options.recorder) {
      await options.recorder.startRun({
        id: replayRunId,
        agent: run.agent,
        ...(run.team ? { team: run.team } : {}),
        principal: run.principal,
        input: run.input,
        replayOf: run.id,
        metadata: {
          ...metadata,
          replay_of: run.id,
          definition_hash: definition.definitionHash,
          prompt_hash: definition.promptHash,
          policy_set_hash: policies.set.hash,
        },
      });
      report.replayRunId = replayRunId;
    }
    // A hand-off's child run is replayed too (it is a run of its own, recorded on its own), and
    // its outcome is the hand-off's: a child that parts from its recording parts the parent there.
    const replayChild = async (childRunId: string): Promise<ReplayReport> => {
      // Outside the parent node's LangChain context, so the child's holds park the child's graph
      // instead of unwinding through the parent's (as the runtime starts a child).
      const child = await AsyncLocalStorageProviderSingleton.getInstance().run(undefined, () =>
        replayRun(store, { ...options, runId: childRunId, replayRunId: `${replayRunId}_${report.children.length + 1}` }),
      );
      report.children.push(child);
      return child;
    };
    const outcome = await drive(run, definition, policies.set, host, knowledge, store, buffered, notes, replayChild);
    report.steps = outcome.steps;
    report.divergence = outcome.divergence;
    report.outcome = outcome.divergence ? 'diverged' : 'identical';
    if (options.recorder) {
      for (let index = 0; index < buffered.length; index += 500) {
        await options.recorder.recordBatch(replayRunId, buffered.slice(index, index + 500) as never);
      }
      await options.recorder.finishRun(replayRunId, {
        status: 'completed',
        payload: {
          replay: {
            of: run.id,
            outcome: report.outcome,
            steps: report.steps,
            ...(report.divergence ? { divergence: report.divergence } : {}),
            notes,
          },
        },
      });
    }
  } finally {
    await host?.close();
  }
  return finish();
}

async function resolveAgent(run: RecordedRun, options: ReplayOptions, notes: string[]): Promise<AgentDefinition | undefined> {
  const file = run.metadata.agent_file;
  try {
    if (file && existsSync(file)) return await loadAgentDefinition(file);
    if (options.agentsDir) {
      if (file) notes.push(`The recorded agent file ${file} is gone; the agent '${run.agent}' is looked up in ${options.agentsDir}.`);
      return await findAgent(run.agent, { directory: options.agentsDir });
    }
    notes.push(
      file
        ? `The recorded agent file ${file} is gone and no agents folder was given, so the agent cannot be rebuilt.`
        : `The run does not record its agent file, so the agent '${run.agent}' cannot be rebuilt.`,
    );
  } catch (error) {
    notes.push(
      `The agent '${run.agent}' cannot be loaded: ${error instanceof AiFactoryError ? error.format() : String((error as Error)?.message ?? error)}`,
    );
  }
  return undefined;
}

/**
 * The agent as the run ran it where a setting came from outside its file: the registry prompt
 * version the run recorded (its rendered text was kept by hash before the run started; the label
 * may point elsewhere now), and an evaluation variant's model or top_k, taken from the run's
 * metadata when the file is unchanged (its definition hash covers the file, not the variant).
 */
async function asItRan(store: Store, run: RecordedRun, definition: AgentDefinition, notes: string[]): Promise<AgentDefinition> {
  const metadata = run.metadata;
  let current = definition;
  const prompt = metadata.prompt;
  if (prompt && metadata.prompt_hash && metadata.prompt_hash !== current.promptHash) {
    const via = prompt.label ? ` via @${prompt.label}` : '';
    const text = await findArtifactContent(store, metadata.prompt_hash, 'prompt');
    if (text === undefined)
      notes.push(
        `The run used the registry prompt ${prompt.name} v${prompt.version}${via}, whose text is not stored (${short(metadata.prompt_hash)}); the replay cannot use it.`,
      );
    else {
      current = withResolvedPrompt(current, text, {
        name: prompt.name,
        version: prompt.version,
        ...(prompt.label ? { label: prompt.label } : {}),
        contentHash: prompt.content_hash,
      });
      notes.push(`The run used the registry prompt ${prompt.name} v${prompt.version}${via}; the replay uses the text it ran with.`);
    }
  }
  if (!metadata.definition_hash || metadata.definition_hash !== current.definitionHash) return current;
  if (typeof metadata.model === 'string' && metadata.model !== current.model.id) {
    notes.push(
      `The run used the model ${metadata.model} in place of the agent's ${current.model.id} (an evaluation variant); so does the replay.`,
    );
    current = { ...current, model: { ...current.model, id: metadata.model } };
  }
  const topK = metadata.top_k;
  if (topK && current.knowledge.some((entry) => topK[entry.collection] !== undefined && topK[entry.collection] !== entry.topK)) {
    notes.push(`The run searched with top_k ${canonicalJson(topK)} (an evaluation variant); so does the replay.`);
    current = {
      ...current,
      knowledge: current.knowledge.map((entry) =>
        typeof topK[entry.collection] === 'number' ? { ...entry, topK: topK[entry.collection]! } : entry,
      ),
    };
  }
  return current;
}

/** The policy set recorded for the run, by content hash; the agent's current policies when it is not stored. */
async function recordedPolicies(
  store: Store,
  run: RecordedRun,
  definition: AgentDefinition,
  notes: string[],
): Promise<{ set: PolicySet; source: 'recorded' | 'current' }> {
  const refs = run.metadata.policies ?? [];
  if (refs.length > 0) {
    const rows = await findPolicyVersions(
      store,
      refs.map((ref) => ref.hash),
    );
    if (rows.length === refs.length) {
      const set = compilePolicies(rows.map((row) => parsePolicy(row.source, row.file ?? `${row.name}@${row.version}`)));
      if (!run.metadata.policy_set_hash || set.hash === run.metadata.policy_set_hash) return { set, source: 'recorded' };
      notes.push(
        `The stored policies hash to ${short(set.hash)}, not the recorded policy set ${short(run.metadata.policy_set_hash)}; the agent's current policies are used.`,
      );
    } else {
      const missing = refs.filter((ref) => !rows.some((row) => row.hash === ref.hash)).map((ref) => `${ref.name}@${ref.version}`);
      notes.push(`The recorded policies ${missing.join(', ')} are not stored; the agent's current policies are used.`);
    }
  } else notes.push("The run does not record its policies; the agent's current policies are used.");
  return { set: compilePolicies(await loadPolicyFiles(definition.policies)), source: 'current' };
}

/** Drives the agent graph over the recording; returns steps compared and the first divergence. */
async function drive(
  run: RecordedRun,
  definition: AgentDefinition,
  policySet: PolicySet,
  host: ToolHost | undefined,
  knowledge: KnowledgeAccess | undefined,
  store: Store,
  buffered: EventDraft[],
  notes: string[],
  replayChild: (childRunId: string) => Promise<ReplayReport>,
): Promise<{ steps: number; divergence: ReplayDivergence | null }> {
  const decisions = new Map<number, Record<string, unknown>>();
  const decisionTimes = new Map<number, Date>();
  let lastRecordedStep = 0;
  for (const event of run.events) {
    if (event.type !== 'policy.decided' || !event.payload) continue;
    const step = Number(event.payload.step);
    if (!decisions.has(step)) {
      decisions.set(step, event.payload);
      decisionTimes.set(step, event.ts);
    }
    lastRecordedStep = Math.max(lastRecordedStep, step);
  }
  // The recorded waits for humans: from each run.held to the run.resumed of its step.
  const holds: Array<{ from: number; to: number }> = [];
  for (const event of run.events) {
    if (event.type !== 'run.held') continue;
    const resumed = run.events.find(
      (later) => later.type === 'run.resumed' && later.seq > event.seq && later.payload?.step === event.payload?.step,
    );
    if (resumed) holds.push({ from: event.ts.getTime(), to: resumed.ts.getTime() });
  }
  const heldBefore = (at: Date): number => holds.reduce((sum, hold) => sum + (hold.to <= at.getTime() ? hold.to - hold.from : 0), 0);
  const compared = new Set<number>();
  let currentStep = 0;
  let clock = run.startedAt;
  const inner = new GovernanceGate({
    policies: () => policySet,
    recorder: { recordBatch: async (_runId, events) => void buffered.push(...events) },
    clock: () => clock,
    // A replay tells no one and asks no one: a hold parks on the approval the run recorded.
    obligations: {
      notify: async () => {},
      requestApproval: async (request) => ({
        id: String(eventAt(run, 'run.held', request.step)?.payload?.approval_id ?? `replay-approval-${request.step}`),
      }),
    },
  });

  const gate: Gate = {
    get policySet() {
      return policySet;
    },
    async govern(
      context: GateRunContext,
      step: number,
      proposed: ProposedAction,
      intent?: (args: Record<string, unknown>) => EventDraft,
      options?: GovernOptions,
    ): Promise<Verdict> {
      currentStep = step;
      const recorded = decisions.get(step);
      const replayed: ReplayedAction = {
        kind: proposed.kind,
        name: proposed.name,
        args: proposed.args,
        argsHash: contentHash(proposed.args),
      };
      if (proposed.kind === 'model' && intent)
        replayed.requestHash = (intent(proposed.args).payload as { request_hash?: string }).request_hash;
      if (!recorded)
        throw new DivergenceSignal({
          step,
          reason: `The replay takes a ${proposed.kind} action '${proposed.name}' at step ${step}, where the recorded run took none (it ended after step ${lastRecordedStep}).`,
          recorded: null,
          replayed,
          differences: [],
        });
      const recordedAction = recordedView(run, step, recorded);
      const differences: ArgumentDifference[] = [];
      if (recordedAction.kind !== replayed.kind)
        differences.push({ path: '(kind)', recorded: recordedAction.kind, replayed: replayed.kind });
      if (recordedAction.name !== replayed.name)
        differences.push({ path: '(name)', recorded: recordedAction.name, replayed: replayed.name });
      if (recordedAction.argsHash !== replayed.argsHash) {
        const fields = diffArguments(recordedAction.args, replayed.args);
        differences.push(
          ...(fields.length > 0 ? fields : [{ path: '(args hash)', recorded: recordedAction.argsHash, replayed: replayed.argsHash }]),
        );
      }
      if (differences.length > 0) {
        throw new DivergenceSignal({
          step,
          reason: `At step ${step} the recorded run took the ${recordedAction.kind} '${recordedAction.name}' and the replay takes the ${replayed.kind} '${replayed.name}'${recordedAction.kind === replayed.kind && recordedAction.name === replayed.name ? ' with other arguments' : ''}.`,
          recorded: recordedAction,
          replayed,
          differences,
        });
      }
      if (recordedAction.requestHash && replayed.requestHash && recordedAction.requestHash !== replayed.requestHash) {
        const promptChanged = run.metadata.prompt_hash && run.metadata.prompt_hash !== definition.promptHash;
        throw new DivergenceSignal({
          step,
          reason: `At step ${step} the model would be asked something else than it was (${promptChanged ? 'the system prompt changed' : 'system prompt, conversation, tools or parameters differ'}), so its recorded answer no longer applies.`,
          recorded: recordedAction,
          replayed,
          differences: [{ path: '(model request hash)', recorded: recordedAction.requestHash, replayed: replayed.requestHash }],
        });
      }
      clock = decisionTimes.get(step) ?? clock;
      // Decide as of the recorded start, so conditions on run.elapsed_ms see the recorded clock
      // (which stops while the run waits for a human).
      const verdict = await inner.govern(
        { ...context, startedAtMs: run.startedAt.getTime() + heldBefore(clock) },
        step,
        proposed,
        intent,
        options,
      );
      compared.add(step);
      replayed.authority = verdict.decision.authority;
      if (recordedAction.authority && verdict.decision.authority !== recordedAction.authority) {
        throw new DivergenceSignal({
          step,
          reason: `At step ${step} the ${proposed.kind} '${proposed.name}' was decided ${recordedAction.authority} and is now decided ${verdict.decision.authority} under the same policies.`,
          recorded: recordedAction,
          replayed,
          differences: [{ path: '(authority)', recorded: recordedAction.authority, replayed: verdict.decision.authority }],
        });
      }
      return verdict;
    },
    hold: (context, step, proposed, decision) => inner.hold(context, step, proposed, decision),
    defer: (runId, event) => inner.defer(runId, event),
    commit: (runId, events) => inner.commit(runId, events),
    flush: (runId) => inner.flush(runId),
  };

  const models: ModelGateway = {
    async call(_request: ModelRequest): Promise<ModelResponse> {
      const responded = eventAt(run, 'model.responded', currentStep)?.payload;
      if (responded) {
        const usage = (responded.usage ?? {}) as { inputTokens?: number; outputTokens?: number };
        return {
          provider: String(responded.provider ?? ''),
          model: String(responded.model ?? ''),
          content: String(responded.content ?? ''),
          toolCalls: (responded.tool_calls ?? []) as ToolCall[],
          usage: { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 },
          costUsd: Number(responded.cost_usd ?? 0),
          priced: true,
          finishReason: String(responded.finish_reason ?? 'stop'),
          latencyMs: Number(responded.latency_ms ?? 0),
          attempts: Number(responded.attempts ?? 1),
          fallbackUsed: responded.fallback_used === true,
        };
      }
      const failed = eventAt(run, 'model.failed', currentStep)?.payload;
      if (failed)
        throw new Error(
          typeof failed.error === 'string' ? failed.error : String((failed.error as { message?: string })?.message ?? 'model failed'),
        );
      throw new DivergenceSignal({
        step: currentStep,
        reason: `The recorded run has no model output for step ${currentStep}.`,
        recorded: null,
        replayed: null,
        differences: [],
      });
    },
  };

  const real = createToolbox({ ...(host ? { host } : {}), ...(knowledge ? { knowledge } : {}), handoffs: definition.handoffs });
  const toolbox: AgentToolbox = {
    specs: () => real.specs(),
    resolve: (call) => real.resolve(call),
    execute: async (call, resolved, context): Promise<ToolOutcome> => {
      if (resolved.action.kind === 'handoff') await replayHandoff(run, store, resolved.action, context.step, replayChild);
      return servedOutcome(run, store, call, resolved.action, context.step, notes);
    },
  };

  const graph = createAgentGraph({
    // The same agent spec the runtime ran with, its own limits included.
    agent: graphAgentSpec(definition),
    gate,
    models,
    toolbox,
    checkpointer: new MemorySaver(),
    emit: () => {},
    markHeld: async (runId, held) => {
      await gate.commit(runId, [
        {
          type: 'run.held',
          actor: 'runtime',
          payload: { step: held.step, approval_id: held.approvalId, kind: held.kind, name: held.name },
        },
      ]);
    },
  });

  const input =
    typeof run.input === 'object' && run.input !== null && 'text' in run.input
      ? String((run.input as { text: unknown }).text)
      : typeof run.input === 'string'
        ? run.input
        : '';
  const config = { configurable: { thread_id: run.id }, recursionLimit: 100_000 };
  const roles = Array.isArray(run.metadata.principal_roles) ? run.metadata.principal_roles.map(String) : [];
  try {
    let state = (await graph.invoke(
      {
        runId: run.id,
        principal: { id: run.principal, roles },
        startedAtMs: Date.now(),
        messages: [{ role: 'user', content: input }],
      } as never,
      config,
    )) as AgentStateValue;
    while (state.held) {
      const held = state.held;
      const resumed = run.events.find(
        (event) =>
          event.type === 'run.resumed' &&
          event.payload?.step === held.step &&
          (event.payload?.approval_id === undefined || event.payload.approval_id === held.approvalId),
      );
      if (!resumed?.payload) {
        notes.push(`The recorded run is still waiting for approval ${held.approvalId} at step ${held.step}; the replay stops there too.`);
        return { steps: compared.size, divergence: null };
      }
      const outcome = resumed.payload.outcome === 'rejected' ? 'rejected' : 'approved';
      const by = run.events
        .filter(
          (event) =>
            event.type === 'approval.voted' &&
            event.payload?.approval_id === held.approvalId &&
            event.payload?.vote === (outcome === 'approved' ? 'approve' : 'reject'),
        )
        .map((event) => String(event.payload?.approver));
      const comment = run.events.find((event) => event.type === 'approval.rejected' && event.payload?.approval_id === held.approvalId)
        ?.payload?.comment;
      await gate.commit(run.id, [{ type: 'run.resumed', actor: 'runtime', payload: resumed.payload }]);
      const resume: ApprovalResume = { approvalId: held.approvalId, outcome, by, ...(typeof comment === 'string' ? { comment } : {}) };
      state = (await graph.invoke(new Command({ resume }) as never, config)) as AgentStateValue;
    }
    await gate.flush(run.id);
    const missed = [...decisions.keys()].filter((step) => !compared.has(step)).sort((left, right) => left - right)[0];
    if (missed !== undefined) {
      const recordedAction = recordedView(run, missed, decisions.get(missed)!);
      return {
        steps: compared.size,
        divergence: {
          step: missed,
          reason: `The replay ended (${state.status}${state.error ? `: ${state.error}` : ''}) before step ${missed}, where the recorded run took the ${recordedAction.kind} '${recordedAction.name}'.`,
          recorded: recordedAction,
          replayed: null,
          differences: [],
        },
      };
    }
    return { steps: compared.size, divergence: null };
  } catch (error) {
    const signal =
      error instanceof DivergenceSignal
        ? error
        : (error as { cause?: unknown })?.cause instanceof DivergenceSignal
          ? (error as { cause: DivergenceSignal }).cause
          : undefined;
    if (!signal) throw error;
    await gate.flush(run.id).catch(() => {});
    return { steps: compared.size, divergence: signal.divergence };
  }
}

/**
 * The knowledge collections the agent searched, for the tool list the model saw: names and top_k
 * from the definition, classifications as the store describes them now (a retrieval's recorded
 * classifications are compared as its arguments, so a relabelled collection shows there).
 */
async function recordedKnowledge(
  store: Store,
  run: RecordedRun,
  definition: AgentDefinition,
  notes: string[],
): Promise<KnowledgeAccess | undefined> {
  if (definition.knowledge.length === 0) return undefined;
  const names = definition.knowledge.map((entry) => entry.collection);
  const stored = await collectionClassifications(store, names);
  const recordedRetrievals = run.events.filter(
    (event) => event.type === 'policy.decided' && (event.payload?.action as { kind?: string } | undefined)?.kind === 'retrieval',
  );
  return {
    collections: definition.knowledge.map((entry) => {
      let classifications = stored.get(entry.collection);
      if (!classifications) {
        // The collection is gone: take the labels the recorded retrievals of it carried alone.
        const alone = recordedRetrievals
          .map((event) => (event.payload?.action as { args?: { collections?: string[]; classifications?: string[] } }).args)
          .find((args) => args?.collections?.length === 1 && args.collections[0] === entry.collection);
        classifications = alone?.classifications ?? [];
        notes.push(`The collection '${entry.collection}' is no longer stored; its recorded classifications are used.`);
      }
      return { name: entry.collection, classifications, topK: entry.topK ?? 5 };
    }),
    search: async () => {
      throw new Error('A replay serves searches from the trace.');
    },
  };
}

/** Replays the child run a hand-off at `step` started; a child that parts from its recording is the parent's divergence. */
async function replayHandoff(
  run: RecordedRun,
  store: Store,
  action: ProposedAction,
  step: number,
  replayChild: (childRunId: string) => Promise<ReplayReport>,
): Promise<void> {
  const recorded = run.events.find(
    (event) =>
      ['tool.returned', 'tool.failed', 'run.held'].includes(event.type) &&
      event.payload?.step === step &&
      typeof event.payload?.child_run === 'string',
  )?.payload?.child_run as string | undefined;
  // Older traces name no child in the outcome: the child is then the run whose parent this is, started for this agent.
  const childRunId = recorded ?? (await firstChildRun(store, run.id, action.name))?.id;
  if (!childRunId) return;
  const child = await replayChild(childRunId);
  if (child.outcome === 'identical') return;
  const replayed: ReplayedAction = { kind: action.kind, name: action.name, args: action.args, argsHash: contentHash(action.args) };
  throw new DivergenceSignal({
    step,
    reason:
      child.outcome === 'unavailable'
        ? `At step ${step} the hand-off to '${action.name}' started run ${childRunId}, which cannot be replayed: ${child.notes.at(-1) ?? 'its agent is not available'}`
        : `At step ${step} the hand-off to '${action.name}' started run ${childRunId}, whose replay diverges at its step ${child.divergence?.step}: ${child.divergence?.reason}`,
    recorded: replayed,
    replayed,
    differences: [{ path: '(child run)', recorded: childRunId, replayed: child.outcome }],
  });
}

function recordedView(run: RecordedRun, step: number, payload: Record<string, unknown>): ReplayedAction {
  const action = (payload.action ?? {}) as { kind?: string; name?: string; args?: Record<string, unknown>; args_hash?: string };
  const args = action.args ?? {};
  const decision = (payload.decision ?? {}) as { authority?: Authority };
  const requestHash = eventAt(run, 'model.requested', step)?.payload?.request_hash;
  return {
    kind: String(action.kind ?? ''),
    name: String(action.name ?? ''),
    args,
    argsHash: action.args_hash ?? contentHash(args),
    ...(decision.authority ? { authority: decision.authority } : {}),
    ...(typeof requestHash === 'string' ? { requestHash } : {}),
  };
}

/** Serves the recorded outcome of a tool call, retrieval or hand-off at `step`. */
async function servedOutcome(
  run: RecordedRun,
  store: Store,
  call: ToolCall,
  action: ProposedAction,
  step: number,
  notes: string[],
): Promise<ToolOutcome> {
  const outcomeTypes: readonly EventType[] = ['tool.returned', 'tool.failed', 'retrieval.performed'];
  const outcome = run.events.find(
    (event): event is typeof event & { type: EventType } =>
      (outcomeTypes as readonly string[]).includes(event.type) &&
      event.payload?.step === step &&
      (event.payload?.call_id === undefined || event.payload.call_id === call.id),
  );
  if (!outcome?.payload) {
    throw new DivergenceSignal({
      step,
      reason: `The recorded run has no outcome for the ${action.kind} '${action.name}' at step ${step}.`,
      recorded: null,
      replayed: { kind: action.kind, name: action.name, args: action.args, argsHash: contentHash(action.args) },
      differences: [],
    });
  }
  const payload = outcome.payload;
  const event: EventDraft = { type: outcome.type, actor: outcome.actor, payload };
  if (outcome.type === 'tool.failed') {
    const error = payload.error as { message?: string } | string | undefined;
    return { ok: false, message: typeof error === 'string' ? error : String(error?.message ?? 'failed'), event };
  }
  if (outcome.type === 'retrieval.performed') {
    const recordedChunks = (payload.chunks ?? []) as Array<{ id: string; content_hash: string; source: string; location: unknown }>;
    const byId = await chunkContents(
      store,
      recordedChunks.map((chunk) => chunk.id),
    );
    const parts = recordedChunks.map((chunk, index) => {
      const row = byId.get(chunk.id);
      if (!row || row.contentHash !== chunk.content_hash)
        notes.push(
          `Chunk ${chunk.id} retrieved at step ${step} is ${row ? 'changed (content hash differs)' : 'no longer stored'}; the model request after it cannot match.`,
        );
      return `[${index + 1}] ${row?.content ?? ''}\n(source: ${chunk.source}${chunk.location ? ` ${canonicalJson(chunk.location)}` : ''})`;
    });
    const classifications = Array.isArray(action.args.classifications) ? action.args.classifications.map(String) : [];
    return { ok: true, content: parts.join('\n\n') || 'No matching passages.', classifications, event };
  }
  return { ok: true, content: String(payload.content ?? ''), event };
}

/** Field-level differences between two argument objects (paths like `path`, `items[2].sku`). */
export function diffArguments(recorded: unknown, replayed: unknown, path = ''): ArgumentDifference[] {
  if (contentHash(recorded ?? null) === contentHash(replayed ?? null)) return [];
  const bothObjects =
    recorded !== null &&
    replayed !== null &&
    typeof recorded === 'object' &&
    typeof replayed === 'object' &&
    Array.isArray(recorded) === Array.isArray(replayed);
  if (!bothObjects)
    return [{ path: path || '(args)', ...(recorded === undefined ? {} : { recorded }), ...(replayed === undefined ? {} : { replayed }) }];
  const left = recorded as Record<string, unknown>;
  const right = replayed as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
  return keys.flatMap((key) =>
    diffArguments(left[key], right[key], Array.isArray(recorded) ? `${path}[${key}]` : path ? `${path}.${key}` : key),
  );
}

function short(hash: string | undefined): string {
  return hash ? `${hash.slice(0, 12)}…` : '(none)';
}
