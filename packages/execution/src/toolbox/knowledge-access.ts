// Connects an agent's knowledge collections to the knowledge plane: the toolbox offers a
// `knowledge__search` tool, and each search is a governed retrieval action.
import { createKnowledgeBase, type KnowledgeBase } from '@aifactory/knowledge';
import type { Store } from '@aifactory/store';
import type { AgentDefinition } from '../agents/index.ts';
import type { KnowledgeAccess } from './knowledge-search.ts';

/** Returns a resolver that opens the knowledge base once and describes each agent's collections. */
export function knowledgeAccessFor(
  store: Store,
  dataDir: string,
): { resolve: (agent: AgentDefinition) => Promise<KnowledgeAccess | undefined>; close: () => Promise<void> } {
  let base: KnowledgeBase | undefined;
  return {
    async resolve(agent) {
      if (agent.knowledge.length === 0) return undefined;
      base ??= createKnowledgeBase(store, { dataDir });
      const opened = base;
      const described = await opened.describeCollections(agent.knowledge.map((entry) => entry.collection));
      return {
        collections: described.map((collection) => ({
          name: collection.name,
          classifications: collection.classifications,
          topK: agent.knowledge.find((entry) => entry.collection === collection.name)?.topK ?? 5,
        })),
        search: async (collection, query, topK) =>
          (await opened.search(collection, query, { topK })).map((result) => ({
            chunkId: result.chunkId,
            contentHash: result.contentHash,
            content: result.content,
            score: result.score,
            citation: { source: result.citation.text ?? result.citation.source, location: result.citation.location },
          })),
      };
    },
    async close() {
      await base?.close();
    },
  };
}
