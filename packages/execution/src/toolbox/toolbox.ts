// The tools a governed agent sees: MCP tools (by allow-list), knowledge search (a retrieval
// action) and hand-offs to other agents (the supervisor pattern), behind one AgentToolbox.
import type { ToolCall, ToolSpec } from '../models/index.ts';
import type { ToolHost } from '../tools/index.ts';
import { HandoffTools, type HandoffRunner } from './handoff.ts';
import { KnowledgeSearch, knowledgeTool, type KnowledgeAccess } from './knowledge-search.ts';
import { McpTools } from './mcp-tools.ts';
import type { AgentToolbox, ToolOutcome } from './toolbox-port.ts';

/** Builds the toolbox of one agent. */
export function createToolbox(options: {
  host?: ToolHost;
  knowledge?: KnowledgeAccess;
  handoffs?: string[];
  runHandoff?: HandoffRunner;
}): AgentToolbox {
  const mcp = options.host ? new McpTools(options.host) : undefined;
  const knowledge = options.knowledge ? new KnowledgeSearch(options.knowledge) : undefined;
  const handoffs = new HandoffTools(options.handoffs ?? [], options.runHandoff);
  const specs: ToolSpec[] = [
    ...(mcp?.specs() ?? []),
    ...(options.knowledge && options.knowledge.collections.length > 0 ? [knowledge!.spec()] : []),
    ...handoffs.specs(),
  ];

  return {
    specs: () => specs,
    resolve(call: ToolCall) {
      if (call.name === knowledgeTool && knowledge) return knowledge.resolve(call);
      if (handoffs.claims(call)) return handoffs.resolve(call);
      const resolved = mcp?.resolve(call);
      if (resolved) return resolved;
      return {
        ok: false,
        message: `Model tried to call unavailable tool '${call.name}'. Available tools: ${specs.map((spec) => spec.name).join(', ') || 'none'}.`,
      };
    },
    async execute(call, resolved, run): Promise<ToolOutcome> {
      if (resolved.action.kind === 'retrieval' && knowledge) return knowledge.execute(call, resolved, run);
      if (resolved.action.kind === 'handoff' && handoffs.runnable) return handoffs.execute(call, resolved, run);
      if (!mcp)
        return {
          ok: false,
          message: 'No tool host.',
          event: {
            type: 'tool.failed',
            actor: 'runtime',
            payload: { step: run.step, call_id: call.id, name: resolved.tool, error: { code: 'unknown_tool', message: 'No tool host.' } },
          },
        };
      return mcp.execute(call, resolved, run);
    },
  };
}
