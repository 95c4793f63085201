// `factory knowledge`: ingest documents into collections, search them with citations, list
// collections and rebuild their indexes. Index files live under the workspace data directory.
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import {
  createKnowledgeBase,
  embedderFromId,
  supportedExtensions,
  type CollectionInfo,
  type Embedder,
  type IngestProgress,
  type IngestSummary,
  type KnowledgeBase,
  type SearchMode,
  type SearchResult,
} from '@aifactory/knowledge';
import type { Store } from '@aifactory/store';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, ExitCode, withJson, type CommonOptions } from '../command-kit.ts';
import { openWorkspaceStore, workspaceDataDir } from '@aifactory/workspace/config';

/** What the knowledge commands take from whoever wires the CLI together (tests pass their own). */
export interface KnowledgeCommandOptions {
  /** Opens the store (default: the workspace store from the environment). */
  openStore?: () => Promise<Store>;
  /** Data directory holding index files (default: the workspace data directory). */
  dataDir?: () => string;
  /** Where progress goes (default: stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

interface IngestCommandOptions extends CommonOptions {
  collection: string;
  classification?: string[];
  maskPii?: boolean;
  textField?: string;
  titleField?: string;
  idField?: string;
  embeddingModel?: string;
  chunkSize?: string;
  chunkOverlap?: string;
  strict?: boolean;
}

interface SearchCommandOptions extends CommonOptions {
  topK: string;
  mode: string;
  exclude?: string[];
}

interface RebuildCommandOptions extends CommonOptions {
  m?: string;
  efConstruction?: string;
  efSearch?: string;
  reembed?: boolean;
}

/** Registers the `factory knowledge` commands. */
export function registerKnowledgeCommands(program: Command, options: KnowledgeCommandOptions = {}): void {
  const openStore = options.openStore ?? (() => openWorkspaceStore());
  const dataDir = options.dataDir ?? (() => workspaceDataDir());

  /** Opens the store and a knowledge base embedding with the collection's own model (or the one asked for). */
  async function withKnowledge<T>(
    collection: string | undefined,
    requestedModel: string | undefined,
    run: (knowledge: KnowledgeBase) => Promise<T>,
  ): Promise<T> {
    const store = await openStore();
    try {
      const directory = dataDir();
      let embedder: Embedder = embedderFromId(requestedModel ?? 'local');
      if (collection && !requestedModel) {
        // Search and rebuild must embed with the model the collection was built with.
        const probe = createKnowledgeBase(store, { dataDir: directory, embedder });
        const existing = (await probe.listCollections()).find((entry) => entry.name === collection);
        await probe.close();
        if (existing && existing.embeddingModel !== embedder.id) embedder = embedderFromId(existing.embeddingModel);
      }
      const knowledge = createKnowledgeBase(store, { dataDir: directory, embedder });
      try {
        return await run(knowledge);
      } finally {
        await knowledge.close();
      }
    } finally {
      await store.close();
    }
  }

  const knowledge = program
    .command('knowledge')
    .description('Company knowledge for agents: ingest documents, search them with citations, maintain indexes.')
    .addHelpText(
      'after',
      `\nIndexes live in <data dir>/knowledge/<collection>.hnsw (AIFACTORY_HOME, default ./.factory); metadata in the store.\nExamples:\n  factory knowledge ingest ./docs --collection handbook --classification internal\n  factory knowledge search handbook "parental leave"\n  factory knowledge list`,
    );

  withJson(
    knowledge
      .command('ingest')
      .description(
        `Ingest a folder (recursively) or a file into a collection: ${supportedExtensions.join(' ')}. Unchanged files are skipped, changed ones re-embedded, deleted ones removed.`,
      )
      .argument('<source>', 'folder or file to ingest')
      .requiredOption('-c, --collection <name>', 'collection to ingest into (created on first use)')
      .option('--classification <label...>', 'label every document of this ingest (public, internal, pii, ...)')
      .option(
        '--mask-pii',
        'mask emails, phone numbers, card numbers, IBANs, SSNs and IP addresses before indexing (kept for later ingests)',
      )
      .option('--text-field <field>', 'JSONL: field holding the text (default: text)')
      .option('--title-field <field>', 'JSONL: field prepended as a title, e.g. question')
      .option('--id-field <field>', 'JSONL: field naming the record in citations (default: id)')
      .option(
        '--embedding-model <id>',
        'embedding model of a new collection: local (default), local:hashing-v1-<dims>, openai:<model>[:<dims>] (OPENAI_API_KEY, OPENAI_BASE_URL)',
      )
      .option('--chunk-size <characters>', 'target chunk length (default 1000)')
      .option('--chunk-overlap <characters>', 'characters repeated between chunks (default 150)')
      .option('--strict', 'exit 1 when any file was skipped'),
  ).action(
    action(async (source: string, commandOptions: IngestCommandOptions) => {
      const chunking = {
        ...(commandOptions.chunkSize !== undefined ? { size: integerOption('--chunk-size', commandOptions.chunkSize) } : {}),
        ...(commandOptions.chunkOverlap !== undefined ? { overlap: integerOption('--chunk-overlap', commandOptions.chunkOverlap) } : {}),
      };
      const jsonl = {
        ...(commandOptions.textField ? { textField: commandOptions.textField } : {}),
        ...(commandOptions.titleField ? { titleField: commandOptions.titleField } : {}),
        ...(commandOptions.idField ? { idField: commandOptions.idField } : {}),
      };
      const progress = commandOptions.json ? undefined : createProgressRenderer(options.progressStream ?? process.stderr);
      const summary = await withKnowledge(commandOptions.collection, commandOptions.embeddingModel, (base) =>
        base.ingest(source, {
          collection: commandOptions.collection,
          ...(commandOptions.classification ? { classifications: commandOptions.classification } : {}),
          ...(commandOptions.maskPii ? { piiMasking: true } : {}),
          ...(Object.keys(chunking).length > 0 ? { chunking } : {}),
          ...(Object.keys(jsonl).length > 0 ? { jsonl } : {}),
          ...(progress ? { onProgress: progress } : {}),
        }),
      );
      emit(commandOptions, summary, renderIngestSummary);
      return commandOptions.strict && summary.skipped > 0 ? ExitCode.CheckFailed : ExitCode.Ok;
    }),
  );

  withJson(
    knowledge
      .command('search')
      .description('Search one or more collections (comma-separated) and show cited chunks, best first.')
      .argument('<collection>', 'collection name, or several as a,b')
      .argument('<query>', 'what to look for')
      .option('-k, --top-k <n>', 'number of results', '5')
      .option('--mode <mode>', 'hybrid (vector + keyword), vector or keyword', 'hybrid')
      .option('--exclude <label...>', 'leave out documents carrying any of these classifications'),
  ).action(
    action(async (collectionArgument: string, query: string, commandOptions: SearchCommandOptions) => {
      const names = collectionArgument
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      const topK = integerOption('--top-k', commandOptions.topK);
      if (!['hybrid', 'vector', 'keyword'].includes(commandOptions.mode))
        throw new UserError(ErrorCode.InputInvalid, `--mode '${commandOptions.mode}' is unknown; use hybrid, vector or keyword.`);
      const started = performance.now();
      const results = await withKnowledge(names[0], undefined, (base) =>
        base.search(names, query, {
          topK,
          mode: commandOptions.mode as SearchMode,
          ...(commandOptions.exclude ? { filter: { excludeClassifications: commandOptions.exclude } } : {}),
        }),
      );
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      emit(commandOptions, { query, collections: names, results, durationMs }, (value) => renderSearchResults(value.results, value.query));
    }),
  );

  withJson(knowledge.command('list').description('List collections with their model, labels and counts.')).action(
    action(async (commandOptions: CommonOptions) => {
      const collections = await withKnowledge(undefined, undefined, (base) => base.listCollections());
      emit(commandOptions, { collections }, (value) => renderCollections(value.collections));
    }),
  );

  withJson(
    knowledge
      .command('rebuild')
      .description(
        "Rebuild a collection's vector index from the vectors in the store: drops deleted entries and applies new HNSW settings.",
      )
      .argument('<collection>', 'collection to rebuild')
      .option('--m <n>', 'HNSW links per node (default 16)')
      .option('--ef-construction <n>', 'HNSW build candidate list (default 200)')
      .option('--ef-search <n>', 'HNSW search candidate list (default 100)')
      .option('--reembed', 'embed every chunk again instead of reusing stored vectors'),
  ).action(
    action(async (collection: string, commandOptions: RebuildCommandOptions) => {
      const index = {
        ...(commandOptions.m !== undefined ? { m: integerOption('--m', commandOptions.m) } : {}),
        ...(commandOptions.efConstruction !== undefined
          ? { efConstruction: integerOption('--ef-construction', commandOptions.efConstruction) }
          : {}),
        ...(commandOptions.efSearch !== undefined ? { efSearch: integerOption('--ef-search', commandOptions.efSearch) } : {}),
      };
      const summary = await withKnowledge(collection, undefined, (base) =>
        base.rebuild(collection, {
          ...(Object.keys(index).length > 0 ? { index } : {}),
          ...(commandOptions.reembed ? { reembed: true } : {}),
        }),
      );
      emit(
        commandOptions,
        summary,
        (value) =>
          `Rebuilt ${pc.bold(value.collection)}: ${value.vectors} vectors, ${value.reclaimed} deleted entries dropped, ${value.embedded} chunks embedded, in ${formatDuration(value.durationMs)}.`,
      );
    }),
  );

  withJson(
    knowledge
      .command('delete')
      .description('Delete a collection: its documents, chunks and index files.')
      .argument('<collection>', 'collection to delete')
      .option('--yes', 'confirm the deletion'),
  ).action(
    action(async (collection: string, commandOptions: CommonOptions & { yes?: boolean }) => {
      if (!commandOptions.yes)
        throw new UserError(ErrorCode.InputInvalid, `Deleting collection '${collection}' cannot be undone; add --yes to confirm.`);
      const existed = await withKnowledge(undefined, undefined, (base) => base.deleteCollection(collection));
      if (!existed) throw new UserError(ErrorCode.NotFound, `Collection '${collection}' does not exist.`);
      emit(commandOptions, { deleted: collection }, () => `Deleted collection ${pc.bold(collection)}.`);
    }),
  );
}

function integerOption(flag: string, value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed))
    throw new UserError(ErrorCode.InputInvalid, `${flag} must be a whole number; got '${value}'.`);
  return parsed;
}

/**
 * Progress for ingest: a redrawn bar with counts and rates on a terminal, one plain line per
 * file otherwise (logs, CI). Hand-written rather than cli-progress because it is a dozen lines
 * and the workspace does not otherwise depend on it.
 */
export function createProgressRenderer(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  now: () => number = () => performance.now(),
): (event: IngestProgress) => void {
  const tty = stream.isTTY === true;
  let started = now();
  let lastDraw = 0;
  return (event) => {
    switch (event.type) {
      case 'ingest.started':
        started = now();
        if (!tty) stream.write(`Ingesting ${event.files} files from ${event.root} into ${event.collection}\n`);
        return;
      case 'file.processed': {
        if (!tty) {
          const detail =
            event.outcome === 'skipped' ? `: ${event.reason}` : event.outcome === 'unchanged' ? '' : ` (${event.chunks} chunks)`;
          stream.write(`[${event.processed}/${event.files}] ${event.outcome} ${event.path}${detail}\n`);
          return;
        }
        if (event.outcome === 'skipped') stream.write(`\r\x1b[2K${pc.yellow('skipped')} ${event.path}: ${event.reason}\n`);
        const time = now();
        if (event.processed < event.files && time - lastDraw < 80) return;
        lastDraw = time;
        const seconds = Math.max((time - started) / 1000, 0.001);
        const width = 24;
        const filled = Math.round((event.processed / Math.max(event.files, 1)) * width);
        const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
        const line = `${bar} ${event.processed}/${event.files} files · ${event.chunksWritten} chunks · ${(event.processed / seconds).toFixed(1)} files/s · ${(event.chunksWritten / seconds).toFixed(0)} chunks/s`;
        const columns = stream.columns && stream.columns > 40 ? stream.columns : 120;
        stream.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
        return;
      }
      case 'document.removed':
        stream.write(`${tty ? '\r\x1b[2K' : ''}removed ${event.path} (${event.chunks} chunks)\n`);
        return;
      case 'ingest.completed':
        if (tty) stream.write('\n');
        return;
    }
  };
}

function renderIngestSummary(summary: IngestSummary): string {
  const lines = [
    `${pc.bold(summary.collection)} (${summary.embeddingModel}): ${summary.added} added, ${summary.updated} updated, ${summary.removed} removed, ${summary.unchanged} unchanged, ${summary.skipped} skipped${summary.ignored > 0 ? `, ${summary.ignored} ignored (unsupported type)` : ''}`,
    `chunks: ${summary.chunks.added} written (${summary.chunks.embedded} embedded, ${summary.chunks.reused} reused), ${summary.chunks.removed} removed, ${summary.chunks.total} in the collection; ${formatDuration(summary.durationMs)}`,
  ];
  const masked = Object.entries(summary.masked);
  if (masked.length > 0) lines.push(`masked: ${masked.map(([kind, count]) => `${count} ${kind}`).join(', ')}`);
  for (const error of summary.errors) lines.push(`${pc.yellow('skipped')} ${error.path}: ${error.reason}`);
  return lines.join('\n');
}

function renderSearchResults(results: SearchResult[], query: string): string {
  if (results.length === 0) return `No results for "${query}".`;
  return results
    .map((result, position) => {
      const content = result.content.replace(/\s+/g, ' ').trim();
      const excerpt = content.length > 320 ? `${content.slice(0, 317)}...` : content;
      const labels = result.classifications.length > 0 ? ` [${result.classifications.join(', ')}]` : '';
      return [
        `${pc.bold(`${position + 1}.`)} ${pc.cyan(result.citation.text)}${labels}  ${pc.dim(`score ${result.score.toFixed(3)}`)}`,
        `   ${excerpt}`,
        pc.dim(
          `   ${result.chunkId} · ${result.citation.collection} · v${result.citation.documentVersion} · sha256:${result.contentHash.slice(0, 12)}`,
        ),
      ].join('\n');
    })
    .join('\n\n');
}

function renderCollections(collections: CollectionInfo[]): string {
  if (collections.length === 0) return 'No collections yet: factory knowledge ingest <folder> --collection <name>';
  const rows = collections.map((entry) => [
    entry.name,
    entry.embeddingModel,
    String(entry.documents),
    String(entry.chunks),
    entry.classifications.join(', ') || '-',
    displayPath(entry.indexFile),
  ]);
  const header = ['NAME', 'MODEL', 'DOCS', 'CHUNKS', 'LABELS', 'INDEX'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (row: string[]) =>
    row
      .map((cell, column) => (column === 2 || column === 3 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [pc.bold(format(header)), ...rows.map(format)].join('\n');
}

function formatDuration(milliseconds: number): string {
  return milliseconds < 1000 ? `${milliseconds} ms` : `${(milliseconds / 1000).toFixed(1)} s`;
}

function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}
