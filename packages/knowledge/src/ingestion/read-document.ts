// One reader per media type, chosen by file extension. Every reader either returns text with
// positions or throws UnreadableFileError with a reason; ingest reports it and goes on.
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { decodeText } from './decode-text.ts';
import type { DocumentPart, ExtractedDocument, MediaType } from './extracted-document.ts';
import { UnreadableFileError } from './extracted-document.ts';
import { htmlToMarkdown } from './html-to-markdown.ts';

/** How JSONL records become text. */
export interface JsonlOptions {
  /** Field holding the text to index (default `text`). */
  textField?: string;
  /** Field prepended as a first line, e.g. the question of an FAQ entry. */
  titleField?: string;
  /** Field naming the record in citations (default: `id` when present). */
  idField?: string;
}

const extensions: Record<string, MediaType> = {
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.txt': 'text/plain',
  '.text': 'text/plain',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.pdf': 'application/pdf',
  '.jsonl': 'application/jsonl',
  '.ndjson': 'application/jsonl',
};

/** File extensions ingest reads. */
export const supportedExtensions: readonly string[] = Object.keys(extensions);

/** The media type of a file by its extension, or undefined when it is not read. */
export function mediaTypeOf(file: string): MediaType | undefined {
  const extension = path.extname(file).toLowerCase();
  return Object.hasOwn(extensions, extension) ? extensions[extension] : undefined;
}

/** Extracts a document's text from its bytes. */
export async function readDocument(
  bytes: Uint8Array,
  mediaType: MediaType,
  options: { jsonl?: JsonlOptions } = {},
): Promise<ExtractedDocument> {
  switch (mediaType) {
    case 'text/markdown':
      return readMarkdown(decodeText(bytes));
    case 'text/plain':
      return { mediaType, parts: [{ kind: 'text', text: decodeText(bytes), firstLine: 1 }] };
    case 'text/html': {
      const { title, markdown } = htmlToMarkdown(decodeText(bytes));
      return { mediaType, ...(title ? { title } : {}), parts: [{ kind: 'markdown', text: markdown, firstLine: null }] };
    }
    case 'application/pdf':
      return readPdf(bytes);
    case 'application/jsonl':
      return readJsonl(decodeText(bytes), options.jsonl ?? {});
  }
}

function readMarkdown(text: string): ExtractedDocument {
  const frontMatter = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!frontMatter) return { mediaType: 'text/markdown', parts: [{ kind: 'markdown', text, firstLine: 1 }] };
  let fields: unknown;
  try {
    fields = parseYaml(frontMatter[1]!);
  } catch (error) {
    throw new UnreadableFileError(`front matter is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const record = fields !== null && typeof fields === 'object' && !Array.isArray(fields) ? (fields as Record<string, unknown>) : {};
  const title = typeof record.title === 'string' ? record.title : undefined;
  const declared = record.classifications ?? record.classification;
  const classifications = (Array.isArray(declared) ? declared : declared === undefined ? [] : [declared]).map(String);
  const body = text.slice(frontMatter[0].length);
  const firstLine = 1 + (frontMatter[0].match(/\n/g)?.length ?? 0);
  return {
    mediaType: 'text/markdown',
    ...(title ? { title } : {}),
    ...(classifications.length > 0 ? { classifications } : {}),
    parts: [{ kind: 'markdown', text: body, firstLine }],
  };
}

async function readPdf(bytes: Uint8Array): Promise<ExtractedDocument> {
  if (!startsWith(bytes, '%PDF-')) throw new UnreadableFileError('not a PDF file (no %PDF- header)');
  let pages: string[];
  let title: string | undefined;
  // pdf.js (2.4 MB) loads only when a PDF is read, not with every process that can ingest.
  const { extractText, getDocumentProxy, getMeta } = await import('unpdf');
  try {
    // pdf.js wants a plain Uint8Array (not a Buffer) and takes ownership of it: hand it a copy.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    pages = (await extractText(pdf, { mergePages: false })).text;
    const info = (await getMeta(pdf)).info as Record<string, unknown>;
    if (typeof info.Title === 'string' && info.Title.trim()) title = info.Title.trim();
    await pdf.loadingTask.destroy();
  } catch (error) {
    throw new UnreadableFileError(`broken PDF: ${(error as Error).message}`);
  }
  const parts: DocumentPart[] = pages.map((text, position) => ({ kind: 'page', text, page: position + 1 }));
  if (!parts.some((part) => part.text.trim())) throw new UnreadableFileError('PDF has no extractable text (a scanned image? OCR it first)');
  return { mediaType: 'application/pdf', ...(title ? { title } : {}), parts };
}

function readJsonl(text: string, options: JsonlOptions): ExtractedDocument {
  const textField = options.textField ?? 'text';
  const parts: DocumentPart[] = [];
  for (const [position, raw] of text.split('\n').entries()) {
    const line = position + 1;
    if (!raw.trim()) continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (error) {
      throw new UnreadableFileError(`line ${line}: not valid JSON (${(error as Error).message})`);
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record))
      throw new UnreadableFileError(`line ${line}: expected a JSON object`);
    const fields = record as Record<string, unknown>;
    const body = Object.hasOwn(fields, textField) ? fields[textField] : undefined;
    if (typeof body !== 'string')
      throw new UnreadableFileError(
        `line ${line}: field '${textField}' is missing or not a string (configure the JSONL text field: jsonl.textField, or --text-field on the command line)`,
      );
    const heading =
      options.titleField && typeof fields[options.titleField] === 'string' ? `${fields[options.titleField] as string}\n\n` : '';
    const idField = options.idField ?? 'id';
    const id =
      Object.hasOwn(fields, idField) && (typeof fields[idField] === 'string' || typeof fields[idField] === 'number')
        ? String(fields[idField])
        : undefined;
    parts.push({ kind: 'record', text: heading + body, line, ...(id !== undefined ? { id } : {}) });
  }
  return { mediaType: 'application/jsonl', parts };
}

function startsWith(bytes: Uint8Array, prefix: string): boolean {
  // PDFs may carry a little junk before the header; pdf.js accepts it within the first 1 KiB.
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 1024));
  return head.includes(prefix);
}
