// Per-collection settings, stored as kn_collections.config, and the validation of names and
// labels that reach file names and policy contexts.
import { ErrorCode, UserError } from '@aifactory/core';
import type { ChunkingOptions } from './ingestion/chunking.ts';
import { defaultChunking } from './ingestion/chunking.ts';
import type { JsonlOptions } from './ingestion/read-document.ts';
import type { PiiKind, PiiMaskingOptions } from './pii-masking.ts';
import { piiKinds } from './pii-masking.ts';
import type { IndexSettings } from './vector-index.ts';
import { defaultIndexSettings } from './vector-index.ts';

/** How a collection is chunked, masked and indexed; kept with the collection and reused by later ingests. */
export interface CollectionSettings {
  /** HNSW parameters; m and efConstruction apply from the next rebuild, efSearch at once. */
  index: IndexSettings;
  /** Chunk sizes. */
  chunking: ChunkingOptions;
  /** PII masking on ingest (default off). */
  piiMasking: PiiMaskingOptions;
  /** How JSONL records become text. */
  jsonl: JsonlOptions;
}

/** Settings of a new collection. */
export const defaultCollectionSettings: CollectionSettings = {
  index: defaultIndexSettings,
  chunking: defaultChunking,
  piiMasking: false,
  jsonl: {},
};

const collectionNamePattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const classificationPattern = /^[a-z0-9][a-z0-9_.:-]{0,62}$/;

/** Checks a collection name (it names index files too). */
export function validateCollectionName(name: string): string {
  if (typeof name !== 'string' || !collectionNamePattern.test(name)) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `Collection name '${String(name)}' is invalid; use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit.`,
    );
  }
  return name;
}

/** Normalises classification labels (trimmed, lower-case, unique, sorted). */
export function normalizeClassifications(labels: readonly unknown[], where: string): string[] {
  const result = new Set<string>();
  for (const label of labels) {
    const clean = String(label).trim().toLowerCase();
    if (!classificationPattern.test(clean)) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `Classification '${String(label)}' in ${where} is invalid; use lowercase letters, digits, '.', ':', '_' or '-' (e.g. public, internal, pii).`,
      );
    }
    result.add(clean);
  }
  return [...result].sort();
}

/** Merges stored settings with the overrides of one call, validating the result. */
export function mergeSettings(
  stored: Partial<CollectionSettings> | undefined,
  overrides: { index?: Partial<IndexSettings>; chunking?: Partial<ChunkingOptions>; piiMasking?: PiiMaskingOptions; jsonl?: JsonlOptions },
): CollectionSettings {
  const base = { ...defaultCollectionSettings, ...stored };
  const settings: CollectionSettings = {
    index: { ...defaultIndexSettings, ...base.index, ...overrides.index },
    chunking: { ...defaultChunking, ...base.chunking, ...overrides.chunking },
    piiMasking: overrides.piiMasking ?? base.piiMasking ?? false,
    jsonl: { ...base.jsonl, ...overrides.jsonl },
  };
  const { m, efConstruction, efSearch } = settings.index;
  integerIn('index.m', m, 2, 100);
  integerIn('index.efConstruction', efConstruction, 10, 4000);
  integerIn('index.efSearch', efSearch, 1, 4000);
  integerIn('chunking.size', settings.chunking.size, 100, 100_000);
  integerIn('chunking.overlap', settings.chunking.overlap, 0, settings.chunking.size - 1);
  if (typeof settings.piiMasking === 'object') {
    for (const kind of settings.piiMasking.kinds ?? []) {
      if (!piiKinds.includes(kind))
        throw new UserError(ErrorCode.InputInvalid, `PII kind '${String(kind)}' is unknown; known kinds: ${piiKinds.join(', ')}.`);
    }
  }
  for (const field of ['textField', 'titleField', 'idField'] as const) {
    const value = settings.jsonl[field];
    if (value !== undefined && (typeof value !== 'string' || !value))
      throw new UserError(ErrorCode.InputInvalid, `jsonl.${field} must be a non-empty field name.`);
  }
  return settings;
}

function integerIn(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UserError(
      ErrorCode.InputInvalid,
      `Collection setting ${field} must be an integer from ${min} to ${max}; got ${String(value)}.`,
    );
  }
}

/** The PII kinds a masking option covers. */
export function maskedKinds(options: PiiMaskingOptions): PiiKind[] {
  if (options === false) return [];
  return options === true ? [...piiKinds] : [...(options.kinds ?? piiKinds)];
}
