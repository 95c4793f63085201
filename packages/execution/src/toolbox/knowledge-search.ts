// Knowledge search as a tool: `knowledge__search` over the agent's collections, each search a
// governed retrieval action whose decision sees the collections and their classifications.
// Locations are printed in canonical JSON: the trace stores them as jsonb (keys reordered), and a
// replay must print them as the run did.
import { canonicalJson } from '@aifactory/core';
import type { ToolCall, ToolSpec } from '../models/index.ts';
import type { ProposedAction } from '../governance/gate.ts';
import type { ResolvedCall, ToolOutcome, ToolRun } from './toolbox-port.ts';

/** A knowledge search the toolbox can offer as a retrieval action. */
export interface KnowledgeAccess {
  /** Collections the agent may search, with their classifications (for the decision). */
  collections: Array<{ name: string; classifications: string[]; topK: number }>;
  search(
    collection: string,
    query: string,
    topK: number,
  ): Promise<
    Array<{ chunkId: string; contentHash: string; content: string; score: number; citation: { source: string; location?: unknown } }>
  >;
}

/** The model's name for knowledge search. */
export const knowledgeTool = 'knowledge__search';

/** The knowledge search tool of one agent. */
export class KnowledgeSearch {
  readonly #knowledge: KnowledgeAccess;

  constructor(knowledge: KnowledgeAccess) {
    this.#knowledge = knowledge;
  }

  /** The search tool's spec, offering the agent's collections. */
  spec(): ToolSpec {
    const knowledge = this.#knowledge;
    return {
      name: knowledgeTool,
      description: `Search company knowledge (${knowledge.collections.map((collection) => collection.name).join(', ')}); returns cited passages.`,
      inputSchema: {
        type: 'object',
        properties: {
          query: { type: 'string' },
          collection: { type: 'string', enum: knowledge.collections.map((collection) => collection.name) },
        },
        required: ['query'],
        additionalProperties: false,
      },
    };
  }

  /** The retrieval action a search call stands for, or what is wrong with it. */
  resolve(call: ToolCall): ({ ok: true } & ResolvedCall) | { ok: false; message: string } {
    const knowledge = this.#knowledge;
    const query = typeof call.args.query === 'string' ? call.args.query : undefined;
    if (!query) return { ok: false, message: `${knowledgeTool} needs a string 'query'.` };
    const requested = typeof call.args.collection === 'string' ? call.args.collection : undefined;
    const collections = knowledge.collections.filter((collection) => requested === undefined || collection.name === requested);
    if (collections.length === 0)
      return {
        ok: false,
        message: `Unknown collection '${requested}'. Available: ${knowledge.collections.map((c) => c.name).join(', ')}.`,
      };
    const action: ProposedAction = {
      kind: 'retrieval',
      name: collections.map((collection) => collection.name).join(','),
      args: {
        query,
        collections: collections.map((collection) => collection.name),
        classifications: [...new Set(collections.flatMap((collection) => collection.classifications))],
      },
      collections: collections.map((collection) => ({ name: collection.name, classifications: collection.classifications })),
    };
    return { ok: true, action, tool: knowledgeTool };
  }

  /** Searches every collection of the action, best passages first, and cites them. */
  async execute(call: ToolCall, resolved: ResolvedCall, run: ToolRun): Promise<ToolOutcome> {
    const knowledge = this.#knowledge;
    const started = Date.now();
    const names = resolved.action.args.collections as string[];
    const query = resolved.action.args.query as string;
    try {
      const results = (
        await Promise.all(
          names.map((name) =>
            knowledge.search(name, query, knowledge.collections.find((collection) => collection.name === name)?.topK ?? 5),
          ),
        )
      )
        .flat()
        .sort((left, right) => right.score - left.score);
      const content = results
        .map(
          (result, index) =>
            `[${index + 1}] ${result.content}\n(source: ${result.citation.source}${result.citation.location ? ` ${canonicalJson(result.citation.location)}` : ''})`,
        )
        .join('\n\n');
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
            chunks: results.map((result) => ({
              id: result.chunkId,
              content_hash: result.contentHash,
              score: result.score,
              source: result.citation.source,
              location: result.citation.location ?? null,
            })),
            duration_ms: Date.now() - started,
          },
        },
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return {
        ok: false,
        message,
        event: {
          type: 'tool.failed',
          actor: 'knowledge',
          payload: { step: run.step, call_id: call.id, name: resolved.tool, error: { code: 'retrieval_failed', message } },
        },
      };
    }
  }
}
