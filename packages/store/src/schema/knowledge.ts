// The knowledge plane's metadata: collections, documents with lineage, and chunks. Vectors live
// in the hnswlib-node index beside the store (chunk.label is the vector's label there); each
// chunk also keeps its embedding here, so the index can be rebuilt on any machine without
// paying the embedding model again. No foreign keys: drizzle-kit qualifies their targets with
// "public", which would break per-schema isolation; the knowledge plane deletes children itself.
import { customType, index, integer, jsonb, pgTable, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** Raw bytes (Postgres bytea); PGlite returns Uint8Array, postgres.js a Buffer (also a Uint8Array). */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType() {
    return 'bytea';
  },
  toDriver(value) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  },
  fromDriver(value) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  },
});

/** A named set of documents embedded with one model. */
export const collections = pgTable('kn_collections', {
  name: text('name').primaryKey(),
  /** Embedding model id (`local:hashing-v1-384`, `openai:text-embedding-3-small`); one per collection. */
  embeddingModel: text('embedding_model').notNull(),
  dimensions: integer('dimensions').notNull(),
  /** Labels declared for the collection itself (public, internal, pii, ...). */
  classifications: jsonb('classifications').$type<string[]>().notNull().default([]),
  /**
   * Union of its documents' labels. Grown inside each document's transaction and recomputed
   * after removals, so a crash can leave it too broad (stricter policies), never too narrow.
   */
  documentClassifications: jsonb('document_classifications').$type<string[]>().notNull().default([]),
  /** Index, chunking and masking settings (see @aifactory/knowledge CollectionSettings). */
  config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
  /** Bumped by every committed change; the index file records the revision it reflects. */
  revision: integer('revision').notNull().default(0),
  /** Next free vector label; labels are never reused, so a deleted vector cannot alias a new one. */
  nextLabel: integer('next_label').notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** One source document of a collection, by root, path and content hash. */
export const documents = pgTable(
  'kn_documents',
  {
    id: serial('id').primaryKey(),
    collection: text('collection').notNull(),
    /** Absolute folder the document was ingested from; deletions are detected per root. */
    sourceRoot: text('source_root').notNull().default(''),
    /** Path relative to the root, with forward slashes. */
    sourcePath: text('source_path').notNull(),
    /** sha256 of the file's bytes. */
    contentHash: text('content_hash').notNull(),
    /** 1 on first ingest, +1 whenever the content changes. */
    version: integer('version').notNull().default(1),
    mediaType: text('media_type').notNull(),
    byteSize: integer('byte_size').notNull().default(0),
    classifications: jsonb('classifications').$type<string[]>().notNull().default([]),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    ingestedAt: timestamp('ingested_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [uniqueIndex('kn_documents_source_idx').on(table.collection, table.sourceRoot, table.sourcePath)],
);

/** One chunk of a document with its lineage; label is its vector's label in the collection's index. */
export const chunks = pgTable(
  'kn_chunks',
  {
    id: text('id').primaryKey(),
    collection: text('collection').notNull(),
    documentId: integer('document_id').notNull(),
    label: integer('label').notNull(),
    ordinal: integer('ordinal').notNull(),
    content: text('content').notNull(),
    /** sha256 of content; equal hashes share one embedding (dedup) and collapse in results. */
    contentHash: text('content_hash').notNull(),
    /** Heading path, page, line range or record within the document. */
    location: jsonb('location').$type<Record<string, unknown>>().notNull().default({}),
    /** Lineage: the document path, version and hash this chunk was cut from. */
    sourcePath: text('source_path').notNull().default(''),
    documentVersion: integer('document_version').notNull().default(1),
    documentHash: text('document_hash').notNull().default(''),
    /** Float32 little-endian embedding, dimensions of the collection. */
    embedding: bytea('embedding'),
  },
  (table) => [
    index('kn_chunks_document_idx').on(table.documentId),
    uniqueIndex('kn_chunks_label_idx').on(table.collection, table.label),
    index('kn_chunks_hash_idx').on(table.collection, table.contentHash),
  ],
);
