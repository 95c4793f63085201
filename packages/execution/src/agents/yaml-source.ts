// A YAML document kept with its source positions, so any later complaint about a value can name
// the file, line and column it came from.
import { UserError, type ErrorCode, type SourceLocation } from '@aifactory/core';
import { LineCounter, isMap, isScalar, parseDocument, type Document, type Node } from 'yaml';

/** A path into a document: keys and array indexes. */
export type FieldPath = ReadonlyArray<string | number>;

/** A parsed YAML document with a way back to its source. */
export interface YamlSource {
  /** The document as plain data. */
  value: unknown;
  /** Where the value at `path` is; with `key`, where the key of the last segment is. Falls back to the nearest parent present. */
  locate(path: FieldPath, options?: { key?: string }): SourceLocation;
}

/** Renders a field path the way messages show it: `spec.tools[0].args[1]`. */
export function formatFieldPath(path: FieldPath): string {
  return path.reduce<string>(
    (text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment),
    '',
  );
}

/** Parses YAML text; a syntax error becomes a UserError with `code` naming file, line and column. */
export function parseYamlSource(text: string, file: string, code: ErrorCode, what: string): YamlSource {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const positionOf = (offset: number): { line: number; column: number } => {
    const position = lineCounter.linePos(offset);
    return { line: position.line, column: position.col };
  };
  const firstError = document.errors[0];
  if (firstError) {
    throw new UserError(code, `${what} is not valid YAML: ${firstError.message.split('\n')[0]}`, {
      location: { file, ...positionOf(firstError.pos[0]) },
    });
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new UserError(code, `${what} cannot be read: ${(error as Error).message}`, { location: { file }, cause: error });
  }
  return {
    value,
    locate(path, options = {}) {
      const formatted = formatFieldPath(options.key === undefined ? path : [...path, options.key]);
      return { file, ...positionOf(findOffset(document, path, options.key)), ...(formatted ? { path: formatted } : {}) };
    },
  };
}

function findOffset(document: Document, path: FieldPath, key: string | undefined): number {
  if (key !== undefined) {
    const parent = document.getIn(path, true) as Node | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
      const keyNode = pair?.key as Node | undefined;
      if (keyNode?.range) return keyNode.range[0];
    }
  }
  for (let length = path.length; length >= 0; length--) {
    const node = (length === 0 ? document.contents : document.getIn(path.slice(0, length), true)) as Node | null | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return node.range[0];
  }
  // An empty document: point at its start.
  return 0;
}
