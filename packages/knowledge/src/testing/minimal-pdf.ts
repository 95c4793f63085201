// Writes small, valid PDF files (one Helvetica text page per entry) for tests and examples, so
// no binary fixture has to be trusted blindly: the bytes are made here, in the open.

/** Builds a PDF whose page N shows the lines of pages[N]; text is limited to printable ASCII. */
export function minimalPdf(pages: string[][], options: { title?: string } = {}): Uint8Array {
  const objects: string[] = [];
  const pageCount = pages.length;
  // 1: catalog, 2: page tree, 3: font, then per page: page object and its content stream.
  objects.push('<< /Type /Catalog /Pages 2 0 R >>');
  const pageIds = pages.map((_, position) => 4 + position * 2);
  objects.push(`<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pageCount} >>`);
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  for (const [position, lines] of pages.entries()) {
    const contentId = pageIds[position]! + 1;
    objects.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${contentId} 0 R >>`,
    );
    const body = ['BT', '/F1 11 Tf', '14 TL', '56 740 Td', ...lines.map((line) => `(${escapePdfText(line)}) Tj T*`), 'ET'].join('\n');
    objects.push(`<< /Length ${body.length} >>\nstream\n${body}\nendstream`);
  }
  if (options.title !== undefined) objects.push(`<< /Title (${escapePdfText(options.title)}) >>`);
  let output = '%PDF-1.4\n';
  const offsets: number[] = [];
  for (const [position, object] of objects.entries()) {
    offsets.push(output.length);
    output += `${position + 1} 0 obj\n${object}\nendobj\n`;
  }
  const xrefOffset = output.length;
  output += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) output += `${String(offset).padStart(10, '0')} 00000 n \n`;
  const info = options.title !== undefined ? ` /Info ${objects.length} 0 R` : '';
  output += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R${info} >>\nstartxref\n${xrefOffset}\n%%EOF\n`;
  return new TextEncoder().encode(output);
}

function escapePdfText(text: string): string {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new RangeError(`minimalPdf supports printable ASCII only; got ${JSON.stringify(text)}.`);
  return text.replace(/[\\()]/g, (character) => `\\${character}`);
}
