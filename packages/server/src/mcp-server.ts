// Agents as MCP servers: each served agent is one MCP tool taking `input`. A call is a governed
// run with the MCP client's identity as principal (the API token's principal over HTTP, the
// configured or client-announced identity over stdio). A held action does not block the call:
// it returns at once with status pending_approval and the approval id, and `approval_status`
// follows it.
import { randomUUID } from 'node:crypto';
import { ErrorCode, UserError, type Principal } from '@aifactory/core';
import { voteIneligibility, type AgentDefinition, type Approval, type RunEvent, type RunResult } from '@aifactory/execution';
import type { Workspace } from '@aifactory/workspace';
import type { Store } from '@aifactory/store';
import { readRunEvents } from '@aifactory/verification';
import { findRun } from '@aifactory/verification/internal';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { TokenPrincipal } from './api-tokens.ts';
import { approveHint, whoMayApprove } from './approval-hints.ts';

/** What an agents-as-MCP server is made of. */
export interface AgentMcpOptions {
  /** The workspace whose use cases (start-run, vote-and-resume) the tools call, and whose approvals they read. */
  workspace: Pick<Workspace, 'startRun' | 'voteAndResume' | 'approvals'>;
  /** The agents served, one tool each. */
  agents: readonly AgentDefinition[];
  /** Server name announced to clients (default aifactory-agents). */
  name?: string;
  /** The store the runs are recorded in: lets approval_status return a run's answer once it ends. */
  store?: Store;
}

/** Who calls, as the tool handler learns it. */
export type PrincipalResolver = (extra: { authInfo?: { extra?: Record<string, unknown> } }) => Principal;

const resultSchema = {
  status: z.enum(['completed', 'pending_approval', 'failed']).describe('How the run ended for now.'),
  runId: z.string(),
  answer: z.string().optional().describe('The agent\u2019s answer (completed).'),
  approvalId: z.string().optional().describe('The approval the held action waits for (pending_approval).'),
  action: z
    .object({ kind: z.string(), name: z.string(), args: z.record(z.string(), z.unknown()) })
    .optional()
    .describe('The held action.'),
  error: z.string().optional(),
};

const toolNamePattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** Builds an MCP server whose tools are the given agents, run governed as `principalOf(extra)`. */
export function createAgentMcpServer(options: AgentMcpOptions, principalOf: PrincipalResolver): McpServer {
  const server = new McpServer({ name: options.name ?? 'aifactory-agents', version: '0.1.0' }, { capabilities: { logging: {} } });
  for (const agent of options.agents) {
    if (!toolNamePattern.test(agent.name))
      throw new UserError(
        ErrorCode.AgentInvalid,
        `Agent name '${agent.name}' cannot be an MCP tool name; use letters, digits, '_', '-' or '.'.`,
      );
    server.registerTool(
      agent.name,
      {
        title: agent.name,
        description: `${agent.description ?? `Runs the ${agent.name} agent.`} Runs under the agent's policies; an action that needs approval returns status pending_approval with the approval id.`,
        inputSchema: {
          input: z
            .string()
            .min(1)
            .max(100_000)
            .refine((value) => !value.includes('\u0000'), { error: 'must not contain a NUL character' })
            .describe('The request for the agent.'),
        },
        outputSchema: resultSchema,
      },
      async ({ input }, extra): Promise<CallToolResult> => {
        const principal = principalOf(extra as never);
        const progressToken = extra._meta?.progressToken;
        let progress = 0;
        const onEvent = (event: RunEvent) => {
          if (progressToken === undefined || event.type !== 'action.decided') return;
          progress += 1;
          extra
            .sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress, message: `${event.kind} ${event.name}: ${event.authority}` },
            })
            .catch(() => undefined);
        };
        let result = await options.workspace.startRun({ agent: agent.name, input, principal, runId: `run_${randomUUID()}`, onEvent });
        // Where the client supports elicitation, its user is asked directly. Their answer is a vote
        // like any other: the policy's roles, count and separation of duties decide if it counts.
        let note: string | undefined;
        for (let round = 0; result.status === 'held' && round < 10 && server.server.getClientCapabilities()?.elicitation; round += 1) {
          const held = result.held;
          // Ask only a caller whose vote could count: the requester under separation of duties, or
          // a caller without a role the policy names, would be refused whatever they answer.
          const approval = await options.workspace.approvals.get(held.approvalId).catch(() => undefined);
          const refusal = approval ? voteIneligibility(approval, principal) : undefined;
          if (refusal) {
            note = `You are not asked: ${refusal.message}`;
            break;
          }
          const answer = await server.server
            .elicitInput({
              message: `${agent.name} wants to ${held.kind} '${held.name}' with ${JSON.stringify(held.args).slice(0, 500)}. Approve (approval ${held.approvalId})?`,
              requestedSchema: {
                type: 'object',
                properties: {
                  approve: { type: 'boolean', title: 'Approve', description: 'Yes to let the action run, no to refuse it.' },
                  comment: { type: 'string', title: 'Comment' },
                },
                required: ['approve'],
              },
            })
            .catch(() => undefined);
          if (!answer || answer.action !== 'accept' || typeof answer.content?.approve !== 'boolean') break;
          const comment = typeof answer.content.comment === 'string' && answer.content.comment ? { comment: answer.content.comment } : {};
          let outcome;
          try {
            outcome = await options.workspace.voteAndResume({
              approvalId: held.approvalId,
              runId: result.runId,
              ballot: { approver: principal, vote: answer.content.approve ? 'approve' : 'reject', ...comment },
              onEvent,
            });
          } catch (error) {
            note = `Your answer could not decide it: ${(error as Error).message}`;
            break;
          }
          if (outcome.kind === 'counted') {
            note = `Your vote was counted; ${outcome.vote.remaining} more approval(s) are needed.`;
            break;
          }
          result = await outcome.resumed!;
        }
        const approval =
          result.status === 'held' ? await options.workspace.approvals.get(result.held.approvalId).catch(() => undefined) : undefined;
        return toolResult(agent.name, result, note, approval);
      },
    );
  }
  server.registerTool(
    'approval_status',
    {
      title: 'Approval status',
      description:
        "Where an approval of one of your held runs is: pending, approved, rejected, expired or consumed, with its votes; once the run has ended, the run's answer (or its error).",
      inputSchema: {
        approvalId: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/, { error: 'must be an approval id such as apr_9a0b1c2d3e4f5a6b' }),
      },
      outputSchema: {
        approvalId: z.string(),
        status: z.string(),
        runId: z.string(),
        outcome: z.string().nullable(),
        votes: z.number(),
        run: z
          .object({ runId: z.string(), status: z.string(), answer: z.string().optional(), error: z.string().optional() })
          .optional()
          .describe('The run the call started, once known: its status, and its answer when completed.'),
      },
    },
    async ({ approvalId }, extra): Promise<CallToolResult> => {
      const principal = principalOf(extra as never);
      const approval = await options.workspace.approvals.get(approvalId).catch(() => undefined);
      // Only the run's own principal follows its approval here; anyone else learns nothing.
      if (!approval || approval.requestedBy !== principal.id)
        return { isError: true, content: [{ type: 'text', text: `No approval '${approvalId}' is visible to you.` }] };
      const run = options.store ? await runOutcome(options.store, approval.runId) : undefined;
      const structured = {
        approvalId,
        status: approval.status,
        runId: approval.runId,
        outcome: approval.outcome,
        votes: approval.votes.length,
        ...(run ? { run } : {}),
      };
      const lines = [
        `Approval ${approvalId} of run ${approval.runId} is ${approval.status}${approval.outcome ? ` (${approval.outcome})` : ''}.`,
      ];
      if (run?.status === 'completed') lines.push(`Run ${run.runId} completed: ${run.answer ?? ''}`);
      else if (run?.status === 'failed') lines.push(`Run ${run.runId} failed: ${run.error ?? ''}`);
      else if (run) lines.push(`Run ${run.runId} is ${run.status}.`);
      return { content: [{ type: 'text', text: lines.join('\n') }], structuredContent: structured };
    },
  );
  return server;
}

/**
 * How the run the MCP call started ended, read from the trace: a hand-off's approval belongs to a
 * child run, so the answer is the top run's (the one the call returned).
 */
async function runOutcome(
  store: Store,
  runId: string,
): Promise<{ runId: string; status: string; answer?: string; error?: string } | undefined> {
  let current = await findRun(store, runId);
  for (let depth = 0; current?.parentRunId && depth < 20; depth += 1) {
    const parent = await findRun(store, current.parentRunId);
    if (!parent) break;
    current = parent;
  }
  if (!current) return undefined;
  if (current.status !== 'completed' && current.status !== 'failed') return { runId: current.id, status: current.status };
  let payload: Record<string, unknown> | undefined;
  for await (const event of readRunEvents(store, current.id))
    if ((event.type === 'run.completed' || event.type === 'run.failed') && event.payloadText)
      payload = JSON.parse(event.payloadText) as Record<string, unknown>;
  const error = payload?.error as { message?: string } | string | undefined;
  return {
    runId: current.id,
    status: current.status,
    ...(typeof payload?.answer === 'string' ? { answer: payload.answer } : {}),
    ...(error ? { error: typeof error === 'string' ? error : String(error.message ?? '') } : {}),
  };
}

/** The MCP result of a run. */
function toolResult(agent: string, result: RunResult, note?: string, approval?: Approval): CallToolResult {
  if (result.status === 'completed') {
    return {
      content: [{ type: 'text', text: result.answer }],
      structuredContent: { status: 'completed', runId: result.runId, answer: result.answer },
    };
  }
  if (result.status === 'held') {
    const { held } = result;
    const text =
      `Pending approval: ${agent} wants to ${held.kind} '${held.name}', which needs approval ${held.approvalId} (run ${result.runId}). ` +
      `${whoMayApprove(approval)}${approval?.requirement.separation_of_duties ? ' (who started the run)' : ''} decides with \`${approveHint(held.approvalId, approval)}\` or POST /v1/approvals/${held.approvalId}/approve; call approval_status to follow it and get the answer once the run ends.` +
      (note ? ` ${note}` : '');
    return {
      content: [{ type: 'text', text }],
      structuredContent: {
        status: 'pending_approval',
        runId: result.runId,
        approvalId: held.approvalId,
        action: { kind: held.kind, name: held.name, args: held.args },
      },
    };
  }
  return {
    isError: true,
    content: [{ type: 'text', text: `Run ${result.runId} failed: ${result.error}` }],
    structuredContent: { status: 'failed', runId: result.runId, error: result.error },
  };
}

/** Serves agents over stdio as `principal` (default: mcp:<client name> as the client announces it). */
export async function serveAgentsOverStdio(options: AgentMcpOptions & { principal?: Principal }): Promise<McpServer> {
  let server: McpServer | undefined = undefined;
  server = createAgentMcpServer(options, () => {
    if (options.principal) return options.principal;
    const client = server?.server.getClientVersion();
    return { id: `mcp:${client?.name ?? 'unknown-client'}`, roles: ['operator'] };
  });
  await server.connect(new StdioServerTransport());
  return server;
}

/**
 * A Streamable HTTP handler (stateful sessions) for an authenticated principal. A session is
 * bound to the principal that opened it; another principal's requests for it get 404.
 */
export function agentMcpHttpHandler(options: AgentMcpOptions): {
  handle(request: Request, principal: TokenPrincipal): Promise<Response>;
  close(): Promise<void>;
} {
  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; principal: string }>();
  const principalOf: PrincipalResolver = (extra) => {
    const principal = extra.authInfo?.extra?.principal as Principal | undefined;
    if (!principal) throw new UserError(ErrorCode.Forbidden, 'The MCP request carries no authenticated principal.');
    return principal;
  };
  const authInfo = (principal: TokenPrincipal) => ({
    token: principal.tokenId,
    clientId: principal.id,
    scopes: principal.roles,
    extra: { principal: { id: principal.id, roles: principal.roles } },
  });
  return {
    async handle(request, principal) {
      const sessionId = request.headers.get('mcp-session-id');
      if (sessionId) {
        const session = sessions.get(sessionId);
        if (!session || session.principal !== principal.id) {
          return Response.json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found.' }, id: null }, { status: 404 });
        }
        return session.transport.handleRequest(request, { authInfo: authInfo(principal) });
      }
      const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, principal: principal.id });
        },
        onsessionclosed: (id) => {
          sessions.delete(id);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      const server = createAgentMcpServer(options, principalOf);
      await server.connect(transport);
      return transport.handleRequest(request, { authInfo: authInfo(principal) });
    },
    async close() {
      await Promise.allSettled([...sessions.values()].map((session) => session.transport.close()));
      sessions.clear();
    },
  };
}
