// The knowledge plane's metadata: collections, documents with lineage, and chunks. Vectors live
// in the hnswlib-node index beside the store; chunk.label is the vector's label there.
import { index, integer, jsonb, pgTable, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** A named set of documents embedded with one model. */
export const collections = pgTable('kn_collections', {
  name: text('name').primaryKey(),
  embeddingModel: text('embedding_model').notNull(),
  dimensions: integer('dimensions').notNull(),
  classifications: jsonb('classifications').notNull().default([]),
  config: jsonb('config').notNull().default({}),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** One source document of a collection, by path and content hash. */
export const documents = pgTable(
  'kn_documents',
  {
    id: serial('id').primaryKey(),
    collection: text('collection').notNull(),
    sourcePath: text('source_path').notNull(),
    contentHash: text('content_hash').notNull(),
    version: integer('version').notNull().default(1),
    mediaType: text('media_type').notNull(),
    classifications: jsonb('classifications').notNull().default([]),
    metadata: jsonb('metadata').notNull().default({}),
    ingestedAt: timestamp('ingested_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [uniqueIndex('kn_documents_source_idx').on(table.collection, table.sourcePath)],
);

/** One chunk of a document; label is its vector's label in the collection's index. */
export const chunks = pgTable(
  'kn_chunks',
  {
    id: text('id').primaryKey(),
    collection: text('collection').notNull(),
    documentId: integer('document_id').notNull(),
    label: integer('label').notNull(),
    ordinal: integer('ordinal').notNull(),
    content: text('content').notNull(),
    contentHash: text('content_hash').notNull(),
    location: jsonb('location').notNull().default({}),
  },
  (table) => [
    index('kn_chunks_document_idx').on(table.documentId),
    uniqueIndex('kn_chunks_label_idx').on(table.collection, table.label),
    index('kn_chunks_hash_idx').on(table.collection, table.contentHash),
  ],
);
