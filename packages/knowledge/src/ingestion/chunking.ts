// Cuts extracted documents into chunks that respect structure: Markdown (and HTML) by heading
// first, then @langchain/textsplitters within a section; PDFs per page; JSONL per record. Each
// chunk knows where it came from (heading path, line range, page, record) for its citation.
import { MarkdownTextSplitter, RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import type { DocumentPart, ExtractedDocument } from './extracted-document.ts';

/** Where a chunk sits in its document. */
export interface ChunkLocation {
  /** Headings from the top down to the chunk's section. */
  headingPath?: string[];
  /** 1-based inclusive line range in the source file. */
  lines?: { from: number; to: number };
  /** 1-based PDF page. */
  page?: number;
  /** JSONL record: its line and id. */
  record?: { line: number; id?: string };
}

/** Chunk sizes in characters. */
export interface ChunkingOptions {
  /** Target maximum chunk length (default 1000). */
  size: number;
  /** Characters repeated between consecutive chunks of one section (default 150). */
  overlap: number;
}

/** Default chunking: about a paragraph or two per chunk. */
export const defaultChunking: ChunkingOptions = { size: 1000, overlap: 150 };

/** A chunk before it has an id, a label or a vector. */
export interface DraftChunk {
  content: string;
  location: ChunkLocation;
}

interface Section {
  headingPath: string[];
  headingLine?: string;
  text: string;
  /** Line of the section's first line in the file, or null when unknown. */
  firstLine: number | null;
}

const headingPattern = /^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$/;
const fencePattern = /^ {0,3}(`{3,}|~{3,})/;

/** Splits a document into chunks in document order. */
export async function chunkDocument(document: ExtractedDocument, options: ChunkingOptions = defaultChunking): Promise<DraftChunk[]> {
  const splitterOptions = { chunkSize: options.size, chunkOverlap: Math.min(options.overlap, Math.floor(options.size / 2)) };
  const markdownSplitter = new MarkdownTextSplitter(splitterOptions);
  const textSplitter = new RecursiveCharacterTextSplitter(splitterOptions);
  const chunks: DraftChunk[] = [];
  for (const part of document.parts) chunks.push(...(await chunkPart(part, markdownSplitter, textSplitter)));
  return chunks;
}

async function chunkPart(
  part: DocumentPart,
  markdownSplitter: MarkdownTextSplitter,
  textSplitter: RecursiveCharacterTextSplitter,
): Promise<DraftChunk[]> {
  switch (part.kind) {
    case 'markdown': {
      const chunks: DraftChunk[] = [];
      for (const section of markdownSections(part.text, part.firstLine)) {
        for (const piece of await splitWithLines(markdownSplitter, section.text, section.firstLine)) {
          // Every chunk of a section starts with the section's heading, so a continuation chunk
          // still says what it is about to both the embedder and the keyword index.
          const content =
            section.headingLine && !piece.text.startsWith(section.headingLine) ? `${section.headingLine}\n\n${piece.text}` : piece.text;
          chunks.push({
            content,
            location: {
              ...(section.headingPath.length > 0 ? { headingPath: section.headingPath } : {}),
              ...(piece.lines ? { lines: piece.lines } : {}),
            },
          });
        }
      }
      return chunks;
    }
    case 'text':
      return (await splitWithLines(textSplitter, part.text, part.firstLine)).map((piece) => ({
        content: piece.text,
        location: piece.lines ? { lines: piece.lines } : {},
      }));
    case 'page':
      return (await textSplitter.splitText(part.text))
        .filter((text) => text.trim())
        .map((text) => ({ content: text.trim(), location: { page: part.page } }));
    case 'record':
      return (await textSplitter.splitText(part.text))
        .filter((text) => text.trim())
        .map((text) => ({
          content: text.trim(),
          location: { record: { line: part.line, ...(part.id !== undefined ? { id: part.id } : {}) } },
        }));
  }
}

/** Sections of Markdown by ATX heading, outside fenced code; sections holding only a heading are dropped. */
export function markdownSections(text: string, firstLine: number | null): Section[] {
  const lines = text.split('\n');
  const sections: Section[] = [];
  const stack: Array<{ level: number; title: string }> = [];
  let current: { headingPath: string[]; headingLine?: string; start: number; lines: string[] } = { headingPath: [], start: 0, lines: [] };
  let fence: string | null = null;
  const close = () => {
    const body = current.lines.join('\n');
    const withoutHeading = current.headingLine ? current.lines.slice(1).join('\n') : body;
    if (withoutHeading.trim()) {
      sections.push({
        headingPath: current.headingPath,
        ...(current.headingLine ? { headingLine: current.headingLine } : {}),
        text: body,
        firstLine: firstLine === null ? null : firstLine + current.start,
      });
    }
  };
  for (const [position, line] of lines.entries()) {
    const fenceMatch = fencePattern.exec(line);
    if (fenceMatch) {
      const marker = fenceMatch[1]!;
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = null;
    }
    const heading = fence === null && !fenceMatch ? headingPattern.exec(line) : null;
    if (!heading) {
      current.lines.push(line);
      continue;
    }
    close();
    const level = heading[1]!.length;
    const title = heading[2]!.trim();
    while (stack.length > 0 && stack[stack.length - 1]!.level >= level) stack.pop();
    stack.push({ level, title });
    current = { headingPath: stack.map((entry) => entry.title), headingLine: line.trim(), start: position, lines: [line] };
  }
  close();
  return sections;
}

/** Splits text and finds each piece's line range (the splitter trims, so pieces are located by search). */
async function splitWithLines(
  splitter: RecursiveCharacterTextSplitter,
  text: string,
  firstLine: number | null,
): Promise<Array<{ text: string; lines?: { from: number; to: number } }>> {
  const pieces = (await splitter.splitText(text)).map((piece) => piece.trim()).filter(Boolean);
  let cursor = 0;
  // Pieces come in order, so newlines before each are counted incrementally.
  let scanned = 0;
  let linesBefore = 0;
  return pieces.map((piece) => {
    const found = text.indexOf(piece, cursor);
    if (firstLine === null || found < 0) return { text: piece };
    cursor = found + 1;
    linesBefore += countNewlines(text, scanned, found);
    scanned = found;
    const from = firstLine + linesBefore;
    return { text: piece, lines: { from, to: from + countNewlines(piece, 0, piece.length) } };
  });
}

function countNewlines(text: string, start: number, end: number): number {
  let count = 0;
  for (let position = start; position < end; position++) if (text.charCodeAt(position) === 10) count++;
  return count;
}
