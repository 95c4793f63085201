// @aifactory/knowledge/testing: deterministic helpers for testing code that uses the knowledge
// plane. Anything exported here is public API.
export { startEmbeddingsWireServer } from './embeddings-wire-server.ts';
export type { EmbeddingsWireServer } from './embeddings-wire-server.ts';
export { minimalPdf } from './minimal-pdf.ts';
