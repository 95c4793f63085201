// The shape every reader produces: a document's text in the parts chunking keeps apart, each
// with enough position to cite it (lines, page, record).

/** Media types the knowledge plane reads. */
export type MediaType = 'text/markdown' | 'text/plain' | 'text/html' | 'application/pdf' | 'application/jsonl';

/** One part of a document's text. */
export type DocumentPart =
  /** Markdown (from .md, or HTML rendered to Markdown); chunked by heading. `firstLine` is null when lines do not map to the file (HTML). */
  | { kind: 'markdown'; text: string; firstLine: number | null }
  /** Plain text starting at a line of the file. */
  | { kind: 'text'; text: string; firstLine: number }
  /** The text of one PDF page (1-based). */
  | { kind: 'page'; text: string; page: number }
  /** One JSONL record, by line and optional id. */
  | { kind: 'record'; text: string; line: number; id?: string };

/** Text pulled out of one file. */
export interface ExtractedDocument {
  mediaType: MediaType;
  /** Title from front matter, <title> or PDF metadata. */
  title?: string;
  /** Classification labels the document declares itself (Markdown front matter). */
  classifications?: string[];
  parts: DocumentPart[];
}

/** A file that cannot be ingested, with a reason a person can act on. */
export class UnreadableFileError extends Error {
  override readonly name = 'UnreadableFileError';
}
