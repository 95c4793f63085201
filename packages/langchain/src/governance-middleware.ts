// Governance for LangChain agents: a `createAgent` middleware that puts every model call and tool
// call of an existing agent through aifactory's chokepoint — decided by your policies, recorded
// write-ahead in a run of its own (run.started … run.completed, sealed, verifiable with `factory
// runs verify`), then executed, denied (the model is told why), or held: a LangGraph `interrupt`
// carrying the approval id stops the agent at its checkpoint; once an approver votes, resuming the
// thread (`new Command({ resume: true })`) runs the action exactly once under the consumed approval.
//
// One governed run per thread (`configurable.thread_id`), opened on the agent's first action and
// sealed when the agent finishes; a thread held for approval stays open until it is resumed.
import { compilePolicies, loadPolicyFiles, type PolicySet } from '@aifactory/control';
import { contentHash } from '@aifactory/core';
import { GovernedSession, RunOwnership, type ActionIo, type GovernedOutcome } from '@aifactory/execution';
import type { Principal } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { runtimeRecorder, type Workspace } from '@aifactory/workspace';
import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { getConfig, interrupt } from '@langchain/langgraph';
import { createMiddleware } from 'langchain';

/** What the middleware governs with. */
export interface GovernanceOptions {
  /** The aifactory workspace (openWorkspace(workspaceConfigFromEnv())): its store, recorder, approvals and seal key. */
  workspace: Pick<Workspace, 'recorder' | 'approvals' | 'store' | 'notify'>;
  /** Policy files, or a compiled set. */
  policies: string[] | PolicySet;
  /** The agent's name in policies and the record (CEL `agent.id`). */
  agent: string;
  /** The owning team (CEL `agent.team`). */
  team?: string;
  /** On whose behalf the agent acts (default `{ id: 'langchain', roles: [] }`). */
  principal?: Principal;
  /** Govern model calls too (default true): each is the action `{kind: model, name: <model>}`. */
  models?: boolean;
}

/** What an interrupt for a held action carries (what `agent.invoke` returns under `__interrupt__`). */
export interface GovernanceInterrupt {
  kind: 'aifactory.approval';
  approvalId: string;
  runId: string;
  action: { kind: string; name: string };
  reason: string;
}

/** The governed run of one thread, once the agent acted in it. */
export interface GovernedThreads {
  /** The run id recorded for a thread (default thread: 'default'). */
  runId(threadId?: string): string | undefined;
}

/**
 * A middleware for `createAgent({ ..., middleware: [governance({ ... })] })`. Holds need a
 * checkpointer and a thread id, as any LangGraph interrupt does.
 */
export function governance(options: GovernanceOptions): ReturnType<typeof createMiddleware> & GovernedThreads {
  const sessions = new Map<string, Promise<GovernedSession>>();
  const runIds = new Map<string, string>();
  const ownership = new RunOwnership({ store: options.workspace.store as Store });
  let policySet: Promise<PolicySet> | undefined;
  const policies = () =>
    (policySet ??= Array.isArray(options.policies)
      ? loadPolicyFiles(options.policies).then(compilePolicies)
      : Promise.resolve(options.policies));
  const principal = options.principal ?? { id: 'langchain', roles: [] };
  const agentId = options.agent;

  const threadId = (): string => {
    const configurable = (getConfig()?.configurable ?? {}) as { thread_id?: unknown };
    return typeof configurable.thread_id === 'string' || typeof configurable.thread_id === 'number'
      ? String(configurable.thread_id)
      : 'default';
  };
  const sessionFor = async (thread: string): Promise<GovernedSession> => {
    let session = sessions.get(thread);
    if (!session) {
      const set = await policies();
      session = GovernedSession.open({
        recorder: runtimeRecorder(options.workspace.recorder),
        approvals: options.workspace.approvals,
        notify: options.workspace.notify,
        ownership,
        policies: () => set,
        store: options.workspace.store as Store,
        agent: { id: agentId, ...(options.team ? { team: options.team } : {}), tags: ['langchain'] },
        principal,
        input: { thread },
        metadata: { framework: 'langchain', thread },
      });
      sessions.set(thread, session);
      session.then(
        (opened) => runIds.set(thread, opened.runId),
        () => sessions.delete(thread),
      );
    }
    return session;
  };

  /** Acts; a hold interrupts the graph (LangGraph re-runs the node on resume, and the session then finds the decided approval). */
  async function governed<T>(
    session: GovernedSession,
    proposed: { kind: 'tool' | 'model'; name: string; args: Record<string, unknown> },
    io: ActionIo<T>,
  ): Promise<GovernedOutcome<T>> {
    const outcome = await session.act(proposed, io);
    if (outcome.kind !== 'held') return outcome;
    await session.flush();
    const request: GovernanceInterrupt = {
      kind: 'aifactory.approval',
      approvalId: outcome.approval.id,
      runId: session.runId,
      action: { kind: proposed.kind, name: proposed.name },
      reason: outcome.decision?.reason ?? 'held for approval',
    };
    interrupt(request);
    // Resumed while the approval is still pending: ask again, which interrupts anew if it still is.
    return session.act(proposed, io);
  }

  const middleware = createMiddleware({
    name: 'AifactoryGovernance',
    wrapToolCall: async (request, handler) => {
      const session = await sessionFor(threadId());
      const call = request.toolCall;
      const args = (call.args ?? {}) as Record<string, unknown>;
      const io: ActionIo<ToolMessage | unknown> = {
        intent: (recorded, step, approvalId) => ({
          type: 'tool.called',
          actor: agentId,
          payload: { step, name: call.name, call_id: call.id, args: recorded, ...(approvalId ? { approval_id: approvalId } : {}) },
        }),
        execute: async () => handler(request),
        returned: (value, step) => ({
          type: 'tool.returned',
          actor: call.name,
          payload: { step, name: call.name, call_id: call.id, content: value instanceof ToolMessage ? value.content : '[command]' },
        }),
        failed: (error, step) => ({
          type: 'tool.failed',
          actor: call.name,
          payload: { step, name: call.name, call_id: call.id, error: { code: 'tool_failed', message: (error as Error).message } },
        }),
      };
      const outcome = await governed(session, { kind: 'tool', name: call.name, args }, io);
      switch (outcome.kind) {
        case 'executed':
          return outcome.value as ToolMessage;
        case 'failed':
          throw outcome.error;
        case 'denied':
          return new ToolMessage({ content: outcome.message, tool_call_id: call.id ?? '', name: call.name, status: 'error' });
        case 'held':
          return new ToolMessage({
            content: `The call is still waiting for approval ${outcome.approval.id}.`,
            tool_call_id: call.id ?? '',
            name: call.name,
            status: 'error',
          });
      }
    },
    wrapModelCall: async (request, handler) => {
      if (options.models === false) return handler(request);
      const session = await sessionFor(threadId());
      const model = modelName(request.model);
      const requestHash = contentHash(request.messages.map((message) => ({ type: message.getType(), content: message.content })));
      const io: ActionIo<unknown> = {
        intent: (_recorded, step) => ({
          type: 'model.requested',
          actor: agentId,
          payload: { step, model, request_hash: requestHash, messages: request.messages.length },
        }),
        execute: () => Promise.resolve(handler(request)),
        returned: (value, step) => ({
          type: 'model.responded',
          actor: model,
          payload: {
            step,
            model,
            ...(value instanceof AIMessage
              ? {
                  text: typeof value.content === 'string' ? value.content : JSON.stringify(value.content),
                  tool_calls: value.tool_calls?.map((toolCall) => toolCall.name) ?? [],
                  ...(value.usage_metadata
                    ? { usage: { input_tokens: value.usage_metadata.input_tokens, output_tokens: value.usage_metadata.output_tokens } }
                    : {}),
                }
              : {}),
          },
        }),
        failed: (error, step) => ({
          type: 'model.failed',
          actor: model,
          payload: { step, error: { code: 'model_failed', message: (error as Error).message } },
        }),
      };
      const outcome = await governed(session, { kind: 'model', name: model, args: {} }, io);
      switch (outcome.kind) {
        case 'executed': {
          const value = outcome.value;
          if (value instanceof AIMessage && value.usage_metadata) session.addUsage({ tokens: value.usage_metadata.total_tokens });
          return value as AIMessage;
        }
        case 'failed':
          throw outcome.error;
        case 'denied':
          return new AIMessage(`I cannot continue: ${outcome.message}`);
        case 'held':
          return new AIMessage(`I cannot continue until approval ${outcome.approval.id} is decided.`);
      }
    },
    afterAgent: async () => {
      const thread = threadId();
      const session = sessions.get(thread);
      if (!session) return;
      sessions.delete(thread);
      await (await session).finish({ status: 'completed', payload: { thread } });
      return undefined;
    },
  });
  return Object.assign(middleware, { runId: (thread = 'default') => runIds.get(thread) });
}

/** The model's name as policies see it (`action.name` of a model action). */
function modelName(model: unknown): string {
  const candidate = model as { model?: unknown; modelName?: unknown; _llmType?: () => string };
  if (typeof candidate.model === 'string' && candidate.model) return candidate.model;
  if (typeof candidate.modelName === 'string' && candidate.modelName) return candidate.modelName;
  return typeof candidate._llmType === 'function' ? candidate._llmType() : 'model';
}
