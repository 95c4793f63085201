import { describe, expect, it } from 'vitest';
import { chunkDocument, markdownSections } from '../src/ingestion/chunking.ts';
import { decodeText } from '../src/ingestion/decode-text.ts';
import { htmlToMarkdown } from '../src/ingestion/html-to-markdown.ts';
import { readDocument } from '../src/ingestion/read-document.ts';
import { minimalPdf } from '../src/testing/index.ts';

const encode = (text: string) => new TextEncoder().encode(text);

describe('chunking', () => {
  it('splits Markdown by heading, keeps the heading path, and ignores headings inside code fences', () => {
    const sections = markdownSections(
      [
        'Intro line.',
        '# Guide',
        '',
        'Text.',
        '```',
        '# not a heading',
        '```',
        '## Setup',
        'Install it.',
        '### Linux',
        'apt install.',
        '## Usage',
        'Run it.',
      ].join('\n'),
      1,
    );
    expect(sections.map((section) => [section.headingPath.join(' > '), section.firstLine])).toEqual([
      ['', 1],
      ['Guide', 2],
      ['Guide > Setup', 8],
      ['Guide > Setup > Linux', 10],
      ['Guide > Usage', 12],
    ]);
  });

  it('drops sections that hold only a heading', () => {
    expect(markdownSections('# Title\n## Part\n\nBody.', 1).map((section) => section.headingPath)).toEqual([['Title', 'Part']]);
  });

  it('starts every chunk of a long section with its heading and reports the line range of each piece', async () => {
    const paragraphs = Array.from({ length: 6 }, (_, position) => `Paragraph ${position} ${'word '.repeat(30).trim()}.`);
    const text = `# Manual\n\n## Long part\n\n${paragraphs.join('\n\n')}\n`;
    const pieces = await chunkDocument(
      { mediaType: 'text/markdown', parts: [{ kind: 'markdown', text, firstLine: 1 }] },
      { size: 400, overlap: 0 },
    );
    expect(pieces.length).toBeGreaterThan(2);
    for (const piece of pieces) {
      expect(piece.content.startsWith('## Long part')).toBe(true);
      expect(piece.location.headingPath).toEqual(['Manual', 'Long part']);
    }
    const lines = text.split('\n');
    for (const piece of pieces) {
      const { from, to } = piece.location.lines!;
      const firstBodyLine = piece.content.split('\n').find((line) => line.startsWith('Paragraph'))!;
      expect(lines.slice(from - 1, to).join('\n')).toContain(firstBodyLine);
    }
  });

  it('cuts PDFs per page and JSONL per record', async () => {
    const pdf = await chunkDocument({
      mediaType: 'application/pdf',
      parts: [
        { kind: 'page', text: 'One', page: 1 },
        { kind: 'page', text: ' ', page: 2 },
        { kind: 'page', text: 'Three', page: 3 },
      ],
    });
    expect(pdf.map((piece) => piece.location)).toEqual([{ page: 1 }, { page: 3 }]);
    const records = await chunkDocument({ mediaType: 'application/jsonl', parts: [{ kind: 'record', text: 'Answer', line: 4, id: 'q9' }] });
    expect(records).toEqual([{ content: 'Answer', location: { record: { line: 4, id: 'q9' } } }]);
  });
});

describe('readers', () => {
  it('renders HTML headings, lists and entities as Markdown and drops scripts and styles', () => {
    const { title, markdown } = htmlToMarkdown(
      '<!doctype html><html><head><title> Team &amp; Co </title><style>h1{color:red}</style></head><body><h1>About   us</h1><p>We <b>build</b>\n tools.</p><script>alert(1)</script><h3>Offices</h3><ul><li>Berlin</li><li>Lisbon</li></ul></body></html>',
    );
    expect(title).toBe('Team & Co');
    expect(markdown).toBe('# About us\n\nWe build tools.\n\n### Offices\n\n- Berlin\n- Lisbon');
  });

  it('reads Markdown front matter: title and classifications, and keeps line numbers of the body', async () => {
    const document = await readDocument(
      encode('---\ntitle: Pay\nclassifications:\n  - pii\n  - internal\n---\n# Pay\n\nSalaries.'),
      'text/markdown',
    );
    expect(document).toMatchObject({ title: 'Pay', classifications: ['pii', 'internal'], parts: [{ kind: 'markdown', firstLine: 7 }] });
    await expect(readDocument(encode('---\ntitle: [unclosed\n---\nx'), 'text/markdown')).rejects.toThrow(/front matter is not valid YAML/);
  });

  it('reads PDF pages and the PDF title, and names a broken PDF', async () => {
    const document = await readDocument(minimalPdf([['First page'], ['Second (page)']], { title: 'Two pages' }), 'application/pdf');
    expect(document).toMatchObject({
      title: 'Two pages',
      parts: [
        { kind: 'page', text: 'First page', page: 1 },
        { kind: 'page', text: 'Second (page)', page: 2 },
      ],
    });
    await expect(readDocument(encode('%PDF-1.7\n1 0 obj garbage'), 'application/pdf')).rejects.toThrow(/^broken PDF: /);
    await expect(readDocument(minimalPdf([[], []]), 'application/pdf')).rejects.toThrow(/no extractable text/);
  });

  it('reads JSONL with configurable fields and names the line of a bad record', async () => {
    const text = '{"id": 7, "q": "Why?", "a": "Because."}\n\n{"id": "x", "q": "How?", "a": "Like this."}\n';
    const document = await readDocument(encode(text), 'application/jsonl', { jsonl: { textField: 'a', titleField: 'q' } });
    expect(document.parts).toEqual([
      { kind: 'record', text: 'Why?\n\nBecause.', line: 1, id: '7' },
      { kind: 'record', text: 'How?\n\nLike this.', line: 3, id: 'x' },
    ]);
    await expect(readDocument(encode('{"a": 1}'), 'application/jsonl', { jsonl: { textField: 'a' } })).rejects.toThrow(
      /^line 1: field 'a' is missing or not a string/,
    );
    await expect(readDocument(encode('[1]'), 'application/jsonl')).rejects.toThrow(/^line 1: expected a JSON object/);
  });

  it('decodes UTF-8 and UTF-16 with a byte order mark and refuses anything else', () => {
    expect(decodeText(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9]))).toBe('hé');
    expect(decodeText(new Uint8Array([0xff, 0xfe, 0x68, 0x00, 0xe9, 0x00]))).toBe('hé');
    expect(() => decodeText(new Uint8Array([0x61, 0x62, 0xe9, 0x63]))).toThrow(
      /not valid UTF-8 text \(unknown encoding, first invalid byte near offset 2\)/,
    );
  });
});
