// The governing MCP proxy: an MCP client connects here instead of to the upstream server and sees
// the same tools, but every tools/call is decided, recorded write-ahead, then executed, held or
// denied — the chokepoint of docs/architecture.md in front of a server we did not write. Each
// client session is one governed run (GovernedSession), sealed when the session ends.
//
// Names: upstream tool `read_file` of the proxy named `fs` is `fs.read_file` to policies, as an
// agent's MCP tools are. tools/list hides tools the policy denies the caller whatever the
// arguments. Tool definitions are pinned on first sight (tool_pins); a definition that differs
// from its pin is governed as the action `tool_changed.<server>.<tool>` (see docs/mcp-proxy.md):
// allowed, the pin moves; held, the tool stays hidden and uncallable until approved; denied, it
// stays hidden and every call to it is refused.
//
// Resources and prompts pass through when the upstream offers them, governed as retrievals (what
// they return goes into a model's context): resources/read is the action `retrieval`
// `<server>.resource:<uri>` with args {uri}, prompts/get is `retrieval` `<server>.prompt:<name>` with
// the prompt's arguments. Each is decided, recorded write-ahead (tool.called with kind retrieval),
// run and recorded (retrieval.performed, the content hashed), held or denied like a tool call — a
// held or denied one is a JSON-RPC error naming the approval or the rule, since neither result has
// an error form. The lists hide what the policy denies the caller whatever the arguments; resource
// templates pass through as they are (a template names no resource until it is read).
import { decide, type Decision, type PolicySet } from '@aifactory/control';
import {
  ArgumentValidator,
  GovernedSession,
  RunOwnership,
  ToolPinStore,
  changedFields,
  toolDefinitionHash,
  voteIneligibility,
  type ActionIo,
  type Approval,
  type ApprovalService,
  type GovernedOutcome,
  type ToolPin,
} from '@aifactory/execution';
import { contentHash, type Principal } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import type { Workspace } from '@aifactory/workspace';
import { runtimeRecorder } from '@aifactory/workspace';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode as McpErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
  type GetPromptResult,
  type ReadResourceResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Upstream } from './upstream.ts';
import { whoMayApprove } from '../approval-hints.ts';

/** The metadata key under which the proxy explains a result it produced itself (denied, pending, failed). */
export const governanceMetaKey = 'io.aifactory/governance';

/** The action name of reading resource `uri` of server `server`. */
export function resourceActionName(server: string, uri: string): string {
  return `${server}.resource:${uri}`;
}

/** The action name of getting prompt `prompt` of server `server`. */
export function promptActionName(server: string, prompt: string): string {
  return `${server}.prompt:${prompt}`;
}

/** The action name prefix under which a changed tool definition is decided. */
export const toolChangedPrefix = 'tool_changed.';

/** What a governing proxy is made of. */
export interface GoverningProxyOptions {
  /**
   * The workspace whose recorder, approvals and store hold the record (voteAndResume for elicited
   * votes); a promise lets clients connect (and the handshake finish) while the store still opens.
   */
  workspace: ProxyWorkspace | Promise<ProxyWorkspace>;
  /** The server governed. */
  upstream: Upstream;
  /** The server's name in policies (`<name>.<tool>`) and pins. */
  name: string;
  /** The policy set in force now. */
  policies: () => PolicySet;
  /** The owning team (CEL `agent.team`). */
  team?: string;
  /** The leases of the session runs (default: one for this proxy). */
  ownership?: RunOwnership;
  /** Results larger than this (JSON characters) are recorded by hash and size only (default 65 536). */
  maxRecordedResultChars?: number;
}

/** What the proxy uses of a workspace. */
export type ProxyWorkspace = Pick<Workspace, 'recorder' | 'approvals' | 'store' | 'voteAndResume' | 'notify'>;

/** One client's session: its MCP server and its governed run. */
export interface ProxySession {
  /** The MCP server to connect a transport to. */
  readonly server: Server;
  /** The session's run id once it has one (after its first tools/list or tools/call). */
  runId(): string | undefined;
  /** Seals the session's run (completed) and forgets it; the transport is the caller's to close. */
  close(): Promise<void>;
}

/** Who calls: resolved on the session's first governed request. */
export type ProxyPrincipalResolver = (server: Server, extra: { authInfo?: { extra?: Record<string, unknown> } }) => Principal;

interface SessionState {
  server: Server;
  principal?: Principal;
  governed?: Promise<GovernedSession>;
  runId?: string;
  /** Changed definitions settled in this session: tool name + definition hash -> accepted or why not. */
  changes: Map<string, { accepted: true } | { accepted: false; held: boolean; message: string; approvalId?: string }>;
  closed?: Promise<void>;
}

/** The governing proxy in front of one upstream server (see the file header). */
export class GoverningMcpProxy {
  readonly #options: GoverningProxyOptions;
  readonly #parts: Promise<{ workspace: ProxyWorkspace; pinStore: ToolPinStore; ownership: RunOwnership }>;
  readonly #validator = new ArgumentValidator();
  /** Definition hashes by listed tool object: a listing's objects are reused until the upstream lists anew, so each is hashed once, not twice per call. */
  readonly #definitionHashes = new WeakMap<Tool, string>();
  readonly #sessions = new Set<SessionState>();
  #tools: Promise<Map<string, Tool>> | undefined;
  #pins: Promise<Map<string, ToolPin>> | undefined;

  constructor(options: GoverningProxyOptions) {
    this.#options = options;
    this.#parts = Promise.resolve(options.workspace).then((workspace) => ({
      workspace,
      pinStore: new ToolPinStore(workspace.store as Store),
      ownership: options.ownership ?? new RunOwnership({ store: workspace.store as Store }),
    }));
    this.#parts.catch(() => undefined);
    options.upstream.onToolsChanged(() => {
      this.#tools = undefined;
      for (const session of this.#sessions) void session.server.sendToolListChanged().catch(() => undefined);
    });
    options.upstream.onListChanged('resources', () => {
      for (const session of this.#sessions) void session.server.sendResourceListChanged().catch(() => undefined);
    });
    options.upstream.onListChanged('prompts', () => {
      for (const session of this.#sessions) void session.server.sendPromptListChanged().catch(() => undefined);
    });
  }

  /** The server's name in policies. */
  get name(): string {
    return this.#options.name;
  }

  /** Opens a client session: an MCP server whose tools are the upstream's, governed as `principalOf` resolves the caller. */
  createSession(principalOf: ProxyPrincipalResolver): ProxySession {
    const upstreamVersion = this.#options.upstream.serverVersion();
    const server = new Server(
      { name: `aifactory-proxy:${this.#options.name}`, version: upstreamVersion?.version ?? '0.1.0' },
      {
        capabilities: this.#capabilities(),
        instructions: `Tools of ${upstreamVersion?.name ?? this.#options.name}, governed by aifactory: each call is decided by policy and recorded; a call that needs approval returns the approval id, and asking again with the same arguments once it is approved runs it.`,
      },
    );
    const state: SessionState = { server, changes: new Map() };
    this.#sessions.add(state);
    const principal = (extra: { authInfo?: { extra?: Record<string, unknown> } }) => (state.principal ??= principalOf(server, extra));
    server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => ({
      tools: await this.#listTools(state, principal(extra as never)),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) =>
      this.#callTool(state, principal(extra as never), request.params.name, request.params.arguments ?? {}, {
        requestId: String(extra.requestId),
        signal: extra.signal,
      }),
    );
    const upstreamOffers = this.#options.upstream.capabilities() ?? {};
    if (upstreamOffers.resources) {
      server.setRequestHandler(ListResourcesRequestSchema, async (_request, extra) => {
        const caller = principal(extra as never);
        const governed = await this.#governed(state, caller);
        const resources = await this.#options.upstream.listResources();
        return {
          resources: resources.filter(
            (resource) => !this.#hiddenByPolicy(governed, 'retrieval', resourceActionName(this.#options.name, resource.uri), caller),
          ),
        };
      });
      server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
        resourceTemplates: await this.#options.upstream.listResourceTemplates(),
      }));
      server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) =>
        this.#retrieve<ReadResourceResult>(
          state,
          principal(extra as never),
          resourceActionName(this.#options.name, request.params.uri),
          { uri: request.params.uri },
          { requestId: String(extra.requestId), signal: extra.signal },
          {
            fetch: (signal) => this.#options.upstream.readResource(request.params.uri, { signal }),
            chunks: (result) => result.contents.map((content) => ({ id: content.uri, content_hash: contentHash(content) })),
          },
        ),
      );
    }
    if (upstreamOffers.prompts) {
      server.setRequestHandler(ListPromptsRequestSchema, async (_request, extra) => {
        const caller = principal(extra as never);
        const governed = await this.#governed(state, caller);
        const prompts = await this.#options.upstream.listPrompts();
        return {
          prompts: prompts.filter(
            (prompt) => !this.#hiddenByPolicy(governed, 'retrieval', promptActionName(this.#options.name, prompt.name), caller),
          ),
        };
      });
      server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
        const args = request.params.arguments ?? {};
        return this.#retrieve<GetPromptResult>(
          state,
          principal(extra as never),
          promptActionName(this.#options.name, request.params.name),
          args,
          { requestId: String(extra.requestId), signal: extra.signal },
          {
            fetch: (signal) => this.#options.upstream.getPrompt(request.params.name, args, { signal }),
            chunks: (result) =>
              result.messages.map((message, index) => ({ id: `${request.params.name}#${index}`, content_hash: contentHash(message) })),
          },
        );
      });
    }
    return {
      server,
      runId: () => state.runId,
      close: () => {
        state.closed ??= (async () => {
          this.#sessions.delete(state);
          const governed = await state.governed?.catch(() => undefined);
          await governed?.finish({ status: 'completed', payload: { ended: 'session closed' } });
        })();
        return state.closed;
      },
    };
  }

  /** Closes every session (sealing their runs) and the upstream connection. */
  async close(): Promise<void> {
    this.#sessions.clear();
    await this.#options.upstream.close().catch(() => undefined);
  }

  #definitionHash(tool: Tool): string {
    let hash = this.#definitionHashes.get(tool);
    if (hash === undefined) {
      hash = toolDefinitionHash(tool);
      this.#definitionHashes.set(tool, hash);
    }
    return hash;
  }

  /** What a client session offers: tools always; resources and prompts when the upstream offers them. */
  #capabilities(): { tools: { listChanged: true }; resources?: { listChanged: true }; prompts?: { listChanged: true } } {
    const offered = this.#options.upstream.capabilities() ?? {};
    return {
      tools: { listChanged: true },
      ...(offered.resources ? { resources: { listChanged: true as const } } : {}),
      ...(offered.prompts ? { prompts: { listChanged: true as const } } : {}),
    };
  }

  /**
   * Governs a resource read or a prompt get as a retrieval (see the file header): decided, its intent
   * recorded before the upstream is asked, its content recorded by hash after. Held or denied, the
   * client gets a JSON-RPC error that names the approval (ask again once approved) or the rule.
   */
  async #retrieve<T>(
    state: SessionState,
    principal: Principal,
    name: string,
    args: Record<string, unknown>,
    call: { requestId: string; signal: AbortSignal },
    source: { fetch: (signal: AbortSignal) => Promise<T>; chunks: (result: T) => Array<{ id: string; content_hash: string }> },
  ): Promise<T> {
    const governed = await this.#governed(state, principal);
    const actor = this.#agent().id;
    const io: ActionIo<T> = {
      intent: (recordedArgs, step, approvalId) => ({
        type: 'tool.called',
        actor,
        payload: {
          step,
          name,
          kind: 'retrieval',
          call_id: call.requestId,
          args: recordedArgs,
          ...(approvalId ? { approval_id: approvalId } : {}),
        },
      }),
      execute: () => source.fetch(call.signal),
      returned: (result, step) => ({
        type: 'retrieval.performed',
        actor,
        payload: { step, name, call_id: call.requestId, chunks: source.chunks(result) },
      }),
      failed: (error, step) => ({
        type: 'tool.failed',
        actor,
        payload: { step, name, call_id: call.requestId, error: { code: 'upstream_failed', message: (error as Error).message } },
      }),
    };
    const outcome = await governed.act({ kind: 'retrieval', name, args }, io);
    switch (outcome.kind) {
      case 'executed':
        return outcome.value;
      case 'failed':
        throw outcome.error instanceof McpError
          ? outcome.error
          : new McpError(McpErrorCode.InternalError, `'${name}' failed upstream: ${(outcome.error as Error).message}`);
      case 'denied':
        throw new McpError(McpErrorCode.InvalidRequest, outcome.message, {
          [governanceMetaKey]: { status: 'denied', runId: governed.runId, step: outcome.step, ...decisionMeta(outcome.decision) },
        });
      case 'held': {
        const approval = await ((await this.#parts).workspace.approvals as ApprovalService)
          .get(outcome.approval.id)
          .catch(() => outcome.approval);
        throw new McpError(
          McpErrorCode.InvalidRequest,
          `Pending approval: '${name}' needs approval ${approval.id} (run ${governed.runId}). ${whoMayApprove(approval)} decides with \`factory approvals approve ${approval.id}\` or POST /v1/approvals/${approval.id}/approve; ask again with the same arguments once it is approved.`,
          {
            [governanceMetaKey]: {
              status: 'pending_approval',
              runId: governed.runId,
              step: outcome.step,
              approvalId: approval.id,
              ...decisionMeta(outcome.decision),
            },
          },
        );
      }
    }
  }

  /** The session's governed run, started on first use. */
  #governed(state: SessionState, principal: Principal): Promise<GovernedSession> {
    state.governed ??= this.#parts.then(({ workspace, ownership }) =>
      GovernedSession.open({
        recorder: runtimeRecorder(workspace.recorder),
        approvals: workspace.approvals,
        notify: workspace.notify,
        ownership,
        policies: this.#options.policies,
        store: workspace.store as Store,
        agent: this.#agent(),
        principal,
        input: { upstream: this.#options.upstream.description, server: this.#options.name },
        metadata: {
          proxy: 'mcp',
          upstream: this.#options.upstream.description,
          server: this.#options.name,
          ...(this.#options.upstream.serverVersion() ? { upstream_server: this.#options.upstream.serverVersion() } : {}),
        },
      }),
    );
    state.governed.then(
      (governed) => (state.runId = governed.runId),
      () => (state.governed = undefined),
    );
    return state.governed;
  }

  #agent(): { id: string; team?: string; tags: string[] } {
    return { id: `mcp:${this.#options.name}`, ...(this.#options.team ? { team: this.#options.team } : {}), tags: ['mcp-proxy'] };
  }

  /** The upstream's tools now (cached until it says they changed). */
  #upstreamTools(refresh = false): Promise<Map<string, Tool>> {
    if (refresh || !this.#tools) {
      const loading = this.#options.upstream.listTools().then((tools) => new Map(tools.map((tool) => [tool.name, tool])));
      loading.catch(() => {
        if (this.#tools === loading) this.#tools = undefined;
      });
      this.#tools = loading;
    }
    return this.#tools;
  }

  #loadPins(): Promise<Map<string, ToolPin>> {
    this.#pins ??= this.#parts
      .then(({ pinStore }) => pinStore.load(this.#options.name))
      .catch((error: unknown) => {
        this.#pins = undefined;
        throw error;
      });
    return this.#pins;
  }

  async #listTools(state: SessionState, principal: Principal): Promise<Tool[]> {
    const tools = [...(await this.#upstreamTools(true)).values()];
    const governed = await this.#governed(state, principal);
    const listed: Tool[] = [];
    const pinned: Array<{ type: string; actor: string; payload: unknown }> = [];
    for (const tool of tools) {
      const accepted = await this.#definitionAccepted(state, governed, tool, pinned);
      if (accepted.accepted && !this.#hiddenByPolicy(governed, 'tool', `${this.#options.name}.${tool.name}`, principal)) listed.push(tool);
    }
    if (pinned.length > 0) await governed.record(pinned as never);
    return listed;
  }

  /**
   * Whether the tool's definition is its pin's (pinning it first when new), or a change the policy
   * allowed or an approver accepted. A change is governed once per session and definition.
   */
  async #definitionAccepted(
    state: SessionState,
    governed: GovernedSession,
    tool: Tool,
    pinned: Array<{ type: string; actor: string; payload: unknown }>,
  ): Promise<{ accepted: true } | { accepted: false; held: boolean; message: string; approvalId?: string }> {
    const pins = await this.#loadPins();
    const hash = this.#definitionHash(tool);
    let pin = pins.get(tool.name);
    if (!pin) {
      pin = await (await this.#parts).pinStore.pinFirst(this.#options.name, tool, governed.runId);
      pins.set(tool.name, pin);
      if (pin.definitionHash === hash && pin.runId === governed.runId) {
        pinned.push({
          type: 'tool.pinned',
          actor: this.#agent().id,
          payload: { server: this.#options.name, tool: tool.name, definition_hash: hash, first_sight: true },
        });
      }
    }
    if (pin.definitionHash === hash) return { accepted: true };
    const key = `${tool.name}\u0000${hash}`;
    const settled = state.changes.get(key);
    if (settled && (settled.accepted || !settled.held)) return settled;
    const outcome = await this.#governChange(governed, tool, pin, hash);
    state.changes.set(key, outcome);
    return outcome;
  }

  /** Decides a changed definition as `tool_changed.<server>.<tool>`; executing it moves the pin. */
  async #governChange(
    governed: GovernedSession,
    tool: Tool,
    pin: ToolPin,
    hash: string,
  ): Promise<{ accepted: true } | { accepted: false; held: boolean; message: string; approvalId?: string }> {
    const server = this.#options.name;
    const changed = changedFields(pin.definition, tool);
    const args = {
      server,
      tool: tool.name,
      pinned_hash: pin.definitionHash,
      definition_hash: hash,
      changed,
      ...(tool.description !== undefined ? { description: tool.description.slice(0, 2000) } : {}),
    };
    const actor = this.#agent().id;
    const io: ActionIo<boolean> = {
      intent: (recordedArgs, step, approvalId) => ({
        type: 'tool.changed',
        actor,
        payload: {
          step,
          server,
          tool: tool.name,
          pinned_hash: pin.definitionHash,
          definition_hash: hash,
          changed,
          ...(approvalId ? { approval_id: approvalId } : {}),
          description: recordedArgs['description'],
        },
      }),
      execute: async () => {
        const moved = await (await this.#parts).pinStore.repin(server, tool, pin.definitionHash, governed.runId);
        // Another process moved it first: take whatever stands now.
        this.#pins = undefined;
        return moved;
      },
      returned: (moved, step) => ({
        type: 'tool.pinned',
        actor,
        payload: { step, server, tool: tool.name, definition_hash: hash, previous_hash: pin.definitionHash, moved },
      }),
      failed: (error, step) => ({
        type: 'tool.failed',
        actor,
        payload: {
          step,
          name: `${toolChangedPrefix}${server}.${tool.name}`,
          error: { code: 'pin_failed', message: (error as Error).message },
        },
      }),
    };
    const outcome = await governed.act({ kind: 'tool', name: `${toolChangedPrefix}${server}.${tool.name}`, args }, io);
    const what = `The definition of tool '${tool.name}' changed since it was pinned (${changed.join(', ') || 'definition'})`;
    switch (outcome.kind) {
      case 'executed':
        return { accepted: true };
      case 'failed':
        return {
          accepted: false,
          held: false,
          message: `${what}, and the new pin could not be stored: ${(outcome.error as Error).message}`,
        };
      case 'held':
        return {
          accepted: false,
          held: true,
          message: `${what}; it is held for approval ${outcome.approval.id} and cannot be called until an approver accepts the change.`,
          approvalId: outcome.approval.id,
        };
      case 'denied':
        return { accepted: false, held: false, message: `${what}; ${outcome.message}` };
    }
  }

  /** A tool, resource or prompt is listed unless the policy denies it to this caller whatever its arguments. */
  #hiddenByPolicy(governed: GovernedSession, kind: 'tool' | 'retrieval', name: string, principal: Principal): boolean {
    const decision = decide(governed.policySet, {
      kind,
      name,
      args: {},
      agent: this.#agent(),
      principal,
      run: { id: governed.runId, steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
    });
    if (decision.authority !== 'deny') return false;
    if (decision.defaulted) return true;
    return decision.rules.some(
      (rule) =>
        rule.authority === 'deny' &&
        rule.conditionError === undefined &&
        !Object.keys(rule.values).some((path) => path.startsWith('action.args')),
    );
  }

  async #callTool(
    state: SessionState,
    principal: Principal,
    name: string,
    args: Record<string, unknown>,
    call: { requestId: string; signal: AbortSignal },
  ): Promise<CallToolResult> {
    let tools = await this.#upstreamTools();
    if (!tools.has(name)) tools = await this.#upstreamTools(true);
    const tool = tools.get(name);
    if (!tool)
      throw new McpError(
        McpErrorCode.InvalidParams,
        `Tool '${name}' is not offered by ${this.#options.name}; call tools/list to see the tools.`,
      );
    const governed = await this.#governed(state, principal);
    const pinned: Array<{ type: string; actor: string; payload: unknown }> = [];
    const definition = await this.#definitionAccepted(state, governed, tool, pinned);
    if (pinned.length > 0) await governed.record(pinned as never);
    if (!definition.accepted)
      return governanceResult(
        definition.held ? 'pending_approval' : 'denied',
        governed.runId,
        definition.message,
        definition.approvalId ? { approvalId: definition.approvalId } : {},
      );
    const policyName = `${this.#options.name}.${name}`;
    const validation = this.#validator.validate(
      `${name}\u0000${this.#definitionHash(tool)}`,
      (tool.inputSchema ?? { type: 'object' }) as Record<string, unknown>,
      args,
    );
    const proposed = { kind: 'tool' as const, name: policyName, args, ...(validation.ok ? {} : { argumentErrors: validation.errors }) };
    const actor = this.#agent().id;
    const limit = this.#options.maxRecordedResultChars ?? 65_536;
    const io: ActionIo<CallToolResult> = {
      intent: (recordedArgs, step, approvalId) => ({
        type: 'tool.called',
        actor,
        payload: {
          step,
          name: policyName,
          call_id: call.requestId,
          args: recordedArgs,
          ...(approvalId ? { approval_id: approvalId } : {}),
        },
      }),
      execute: () => this.#options.upstream.callTool(name, args, { signal: call.signal }),
      returned: (result, step) => ({
        type: 'tool.returned',
        actor,
        payload: { step, name: policyName, call_id: call.requestId, ...recordedResult(result, limit) },
      }),
      failed: (error, step) => ({
        type: 'tool.failed',
        actor,
        payload: { step, name: policyName, call_id: call.requestId, error: { code: 'upstream_failed', message: (error as Error).message } },
      }),
    };
    let outcome = await governed.act(proposed, io);
    let note: string | undefined;
    if (outcome.kind === 'held') {
      const elicited = await this.#elicit(state.server, principal, governed, outcome.approval, proposed, io);
      if (elicited.outcome) outcome = elicited.outcome;
      note = elicited.note;
    }
    return this.#toResult(outcome, governed.runId, name, note);
  }

  /**
   * Where the client supports elicitation, its user is asked directly; the answer is a vote like any
   * other (roles, count and separation of duties decide whether it counts). A caller whose vote could
   * not count is not asked.
   */
  async #elicit(
    server: Server,
    principal: Principal,
    governed: GovernedSession,
    approval: Approval,
    proposed: { kind: 'tool'; name: string; args: Record<string, unknown> },
    io: ActionIo<CallToolResult>,
  ): Promise<{ outcome?: GovernedOutcome<CallToolResult>; note?: string }> {
    if (!server.getClientCapabilities()?.elicitation) return {};
    const refusal = voteIneligibility(approval, principal);
    if (refusal) return { note: `You are not asked: ${refusal.message}` };
    const answer = await server
      .elicitInput({
        message: `${proposed.name} with ${JSON.stringify(approval.action.args).slice(0, 500)} needs approval ${approval.id}. Approve?`,
        requestedSchema: {
          type: 'object',
          properties: {
            approve: { type: 'boolean', title: 'Approve', description: 'Yes to let the call run, no to refuse it.' },
            comment: { type: 'string', title: 'Comment' },
          },
          required: ['approve'],
        },
      })
      .catch(() => undefined);
    if (!answer || answer.action !== 'accept' || typeof answer.content?.['approve'] !== 'boolean') return {};
    const comment =
      typeof answer.content['comment'] === 'string' && answer.content['comment'] ? { comment: answer.content['comment'] } : {};
    try {
      const voted = await (
        await this.#parts
      ).workspace.voteAndResume({
        approvalId: approval.id,
        ballot: { approver: principal, vote: answer.content['approve'] ? 'approve' : 'reject', ...comment },
        resume: false,
      });
      if (voted.kind === 'counted') return { note: `Your vote was counted; ${voted.vote.remaining} more approval(s) are needed.` };
    } catch (error) {
      return { note: `Your answer could not decide it: ${(error as Error).message}` };
    }
    return { outcome: await governed.act(proposed, io) };
  }

  async #toResult(outcome: GovernedOutcome<CallToolResult>, runId: string, tool: string, note?: string): Promise<CallToolResult> {
    switch (outcome.kind) {
      case 'executed':
        return outcome.value;
      case 'failed':
        return governanceResult('failed', runId, `The call to '${tool}' failed upstream: ${(outcome.error as Error).message}`, {
          step: outcome.step,
        });
      case 'denied':
        return governanceResult('denied', runId, outcome.message, { step: outcome.step, ...decisionMeta(outcome.decision) });
      case 'held': {
        const approval = await ((await this.#parts).workspace.approvals as ApprovalService)
          .get(outcome.approval.id)
          .catch(() => outcome.approval);
        const text =
          `Pending approval: the call to '${tool}' needs approval ${approval.id} (run ${runId}). ${whoMayApprove(approval)} decides with \`factory approvals approve ${approval.id}\` or POST /v1/approvals/${approval.id}/approve; ` +
          `call '${tool}' again with the same arguments once it is approved to run it.${note ? ` ${note}` : ''}`;
        return governanceResult('pending_approval', runId, text, {
          step: outcome.step,
          approvalId: approval.id,
          ...decisionMeta(outcome.decision),
        });
      }
    }
  }
}

/** A result the proxy answers itself: an error result (so no client takes it for the tool's output), explained under governanceMetaKey. */
function governanceResult(
  status: 'denied' | 'pending_approval' | 'failed',
  runId: string,
  text: string,
  extra: Record<string, unknown> = {},
): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }], _meta: { [governanceMetaKey]: { status, runId, ...extra } } };
}

function decisionMeta(decision: Decision | undefined): Record<string, unknown> {
  return decision
    ? { authority: decision.authority, rules: decision.rules.map((rule) => `${rule.policy}/${rule.ruleId}`), reason: decision.reason }
    : {};
}

/** What tool.returned keeps of a result: all of it when small, else its hash and size (the recorder redacts secrets either way). */
function recordedResult(result: CallToolResult, limit: number): Record<string, unknown> {
  const text = JSON.stringify({
    content: result.content,
    ...(result.structuredContent ? { structuredContent: result.structuredContent } : {}),
  });
  const isError = result.isError === true;
  if (text.length <= limit)
    return {
      is_error: isError,
      content: result.content,
      ...(result.structuredContent ? { structured_content: result.structuredContent } : {}),
    };
  return { is_error: isError, result_hash: contentHash(JSON.parse(text) as unknown), result_chars: text.length };
}
