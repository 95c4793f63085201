// The tools a governed agent sees: MCP tools (by allow-list), knowledge search (a retrieval
// action) and hand-offs to other agents (the supervisor pattern). Tool names come from the
// model, so they are looked up in our own maps by own property only.
// Locations are printed in canonical JSON: the trace stores them as jsonb (keys reordered), and a
// replay must print them as the run did.
import { canonicalJson } from '@aifactory/core';
import type { ToolCall, ToolSpec } from '../models/index.ts';
import type { ToolHost } from '../tools/index.ts';
import type { AgentToolbox, ToolOutcome } from '../graph/agent-graph.ts';
import type { ProposedAction } from '../governance/gate.ts';

/** A knowledge search the toolbox can offer as a retrieval action. */
export interface KnowledgeAccess {
  /** Collections the agent may search, with their classifications (for the decision). */
  collections: Array<{ name: string; classifications: string[]; topK: number }>;
  search(collection: string, query: string, topK: number): Promise<Array<{ chunkId: string; contentHash: string; content: string; score: number; citation: { source: string; location?: unknown } }>>;
}

/** Runs another agent as a child run and returns its answer, or the approval it is held for. */
export type HandoffRunner = (
  agent: string,
  task: string,
  parent: { runId: string; principal: { id: string; roles: string[] } },
) => Promise<{ runId: string; status: string; answer?: string; error?: string; approvalId?: string; approvers?: unknown }>;

const handoffPrefix = 'handoff__';
const knowledgeTool = 'knowledge__search';

/** Maps an internal tool name ("fs.read_file") to one every provider accepts ("fs__read_file"). */
export function modelToolName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]/g, '__').slice(0, 64);
}

/**
 * What a hand-off produced once its child run ended: the child's answer, or its failure, as the
 * tool result (the toolbox when the child ends at once; the graph when a held child ends later).
 */
export function handoffOutcome(agent: string, callId: string, step: number, child: { runId: string; status: string; answer?: string; error?: string }): Exclude<ToolOutcome, { held: unknown }> {
  const ok = child.status === 'completed';
  const event = { type: ok ? 'tool.returned' : 'tool.failed', actor: agent, payload: { step, call_id: callId, name: `handoff:${agent}`, child_run: child.runId, status: child.status, ...(ok ? { content: child.answer ?? '' } : { error: { code: 'handoff_failed', message: child.error ?? child.status } }) } };
  return ok ? { ok: true, content: child.answer ?? '', event } : { ok: false, message: `Hand-off to '${agent}' ended ${child.status}${child.error ? `: ${child.error}` : ''}.`, event };
}

/** Builds the toolbox of one agent. */
export function createToolbox(options: { host?: ToolHost; knowledge?: KnowledgeAccess; handoffs?: string[]; runHandoff?: HandoffRunner }): AgentToolbox {
  const byModelName = new Map<string, { name: string; spec: ToolSpec }>();
  for (const descriptor of options.host?.list() ?? []) {
    const modelName = descriptor.modelName;
    byModelName.set(modelName, {
      name: descriptor.name,
      spec: { name: modelName, description: descriptor.description ?? descriptor.name, inputSchema: descriptor.inputSchema },
    });
  }
  const specs: ToolSpec[] = [...byModelName.values()].map((entry) => entry.spec);
  const knowledge = options.knowledge;
  if (knowledge && knowledge.collections.length > 0) {
    specs.push({
      name: knowledgeTool,
      description: `Search company knowledge (${knowledge.collections.map((collection) => collection.name).join(', ')}); returns cited passages.`,
      inputSchema: {
        type: 'object',
        properties: { query: { type: 'string' }, collection: { type: 'string', enum: knowledge.collections.map((collection) => collection.name) } },
        required: ['query'],
        additionalProperties: false,
      },
    });
  }
  const handoffs = new Set(options.handoffs ?? []);
  for (const agent of handoffs) {
    specs.push({
      name: modelToolName(`${handoffPrefix}${agent}`),
      description: `Hand the task to the '${agent}' agent and get its answer.`,
      inputSchema: { type: 'object', properties: { task: { type: 'string' } }, required: ['task'], additionalProperties: false },
    });
  }

  return {
    specs: () => specs,
    resolve(call: ToolCall) {
      if (call.name === knowledgeTool && knowledge) {
        const query = typeof call.args.query === 'string' ? call.args.query : undefined;
        if (!query) return { ok: false, message: `${knowledgeTool} needs a string 'query'.` };
        const requested = typeof call.args.collection === 'string' ? call.args.collection : undefined;
        const collections = knowledge.collections.filter((collection) => requested === undefined || collection.name === requested);
        if (collections.length === 0) return { ok: false, message: `Unknown collection '${requested}'. Available: ${knowledge.collections.map((c) => c.name).join(', ')}.` };
        const action: ProposedAction = {
          kind: 'retrieval',
          name: collections.map((collection) => collection.name).join(','),
          args: { query, collections: collections.map((collection) => collection.name), classifications: [...new Set(collections.flatMap((collection) => collection.classifications))] },
          collections: collections.map((collection) => ({ name: collection.name, classifications: collection.classifications })),
        };
        return { ok: true, action, tool: knowledgeTool };
      }
      if (call.name.startsWith(handoffPrefix)) {
        const agent = [...handoffs].find((candidate) => modelToolName(`${handoffPrefix}${candidate}`) === call.name);
        if (!agent) return { ok: false, message: `Unknown hand-off '${call.name}'. Available: ${[...handoffs].join(', ') || 'none'}.` };
        const task = typeof call.args.task === 'string' ? call.args.task : JSON.stringify(call.args);
        return { ok: true, action: { kind: 'handoff', name: agent, args: { task } }, tool: call.name };
      }
      // call.name is model-controlled: a Map lookup sees only the tools put in it, never a prototype key.
      const entry = byModelName.get(call.name);
      if (!entry || !options.host) {
        return { ok: false, message: `Model tried to call unavailable tool '${call.name}'. Available tools: ${specs.map((spec) => spec.name).join(', ') || 'none'}.` };
      }
      // Arguments that fail the schema go to the gate all the same, which denies them before any rule and records it.
      const validation = options.host.validate(entry.name, call.args);
      if (!validation.ok) return { ok: true, action: { kind: 'tool', name: entry.name, args: call.args, argumentErrors: validation.errors }, tool: entry.name };
      return { ok: true, action: { kind: 'tool', name: entry.name, args: call.args }, tool: entry.name };
    },
    async execute(call, resolved, run): Promise<ToolOutcome> {
      const started = Date.now();
      if (resolved.action.kind === 'retrieval' && knowledge) {
        const names = resolved.action.args.collections as string[];
        const query = resolved.action.args.query as string;
        try {
          const results = (
            await Promise.all(names.map((name) => knowledge.search(name, query, knowledge.collections.find((collection) => collection.name === name)?.topK ?? 5)))
          )
            .flat()
            .sort((left, right) => right.score - left.score);
          const content = results.map((result, index) => `[${index + 1}] ${result.content}\n(source: ${result.citation.source}${result.citation.location ? ` ${canonicalJson(result.citation.location)}` : ''})`).join('\n\n');
          return {
            ok: true,
            content: content || 'No matching passages.',
            classifications: resolved.action.args.classifications as string[],
            event: {
              type: 'retrieval.performed',
              actor: 'knowledge',
              payload: {
                step: run.step,
                call_id: call.id,
                collections: names,
                query,
                chunks: results.map((result) => ({ id: result.chunkId, content_hash: result.contentHash, score: result.score, source: result.citation.source, location: result.citation.location ?? null })),
                duration_ms: Date.now() - started,
              },
            },
          };
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          return { ok: false, message, event: { type: 'tool.failed', actor: 'knowledge', payload: { step: run.step, call_id: call.id, name: resolved.tool, error: { code: 'retrieval_failed', message } } } };
        }
      }
      if (resolved.action.kind === 'handoff' && options.runHandoff) {
        const child: { runId: string; status: string; answer?: string; error?: string; approvalId?: string; approvers?: unknown } = await options
          .runHandoff(resolved.action.name, String(resolved.action.args.task), run)
          .catch((error: unknown) => ({ runId: '', status: 'failed', error: error instanceof Error ? error.message : String(error) }));
        // The child waits for a human: so does this run, on the child's approval.
        if (child.status === 'held' && child.approvalId) {
          return { ok: false, held: { runId: child.runId, approvalId: child.approvalId, ...(child.approvers !== undefined ? { approvers: child.approvers } : {}) }, message: `Hand-off to '${resolved.action.name}' waits for approval ${child.approvalId} in run '${child.runId}'.` };
        }
        return handoffOutcome(resolved.action.name, call.id, run.step, child);
      }
      if (!options.host) return { ok: false, message: 'No tool host.', event: { type: 'tool.failed', actor: 'runtime', payload: { step: run.step, call_id: call.id, name: resolved.tool, error: { code: 'unknown_tool', message: 'No tool host.' } } } };
      const result = await options.host.call(resolved.tool, call.args);
      if (result.ok) {
        return { ok: true, content: result.content, event: { type: 'tool.returned', actor: resolved.tool, payload: { step: run.step, call_id: call.id, name: resolved.tool, content: result.content, duration_ms: result.durationMs } } };
      }
      return {
        ok: false,
        message: result.error.message,
        event: { type: 'tool.failed', actor: resolved.tool, payload: { step: run.step, call_id: call.id, name: resolved.tool, error: { code: result.error.code, message: result.error.message }, duration_ms: result.durationMs } },
      };
    },
  };
}
