// Bytes to text, refusing what is not valid Unicode instead of silently filling it with U+FFFD.
import { UnreadableFileError } from './extracted-document.ts';

/** Decodes UTF-8 (or UTF-16 with a byte order mark); anything else is an unknown encoding. */
export function decodeText(bytes: Uint8Array): string {
  let label = 'utf-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) label = 'utf-16le';
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) label = 'utf-16be';
  try {
    // The decoder drops a leading byte order mark by itself (ignoreBOM: false).
    return new TextDecoder(label, { fatal: true }).decode(bytes);
  } catch {
    throw new UnreadableFileError(
      `not valid ${label.toUpperCase()} text (unknown encoding, first invalid byte near offset ${firstInvalidUtf8Offset(bytes)}); convert it to UTF-8`,
    );
  }
}

// Where decoding failed, so a person can find the byte in a hex editor.
function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let offset = 0;
  while (offset < bytes.length) {
    const byte = bytes[offset]!;
    const length =
      byte < 0x80 ? 1 : byte >= 0xc2 && byte < 0xe0 ? 2 : byte >= 0xe0 && byte < 0xf0 ? 3 : byte >= 0xf0 && byte < 0xf5 ? 4 : 0;
    if (length === 0) return offset;
    for (let next = 1; next < length; next++) {
      const continuation = bytes[offset + next];
      if (continuation === undefined || (continuation & 0xc0) !== 0x80) return offset;
    }
    offset += length;
  }
  return offset;
}
