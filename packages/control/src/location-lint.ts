// Lint for conditions that compare a path, URL or host argument as plain text. `startsWith(
// "invoices/")` is fooled by `./invoices/x` and `reports/../invoices/x`; `== "api.example.com"`
// by `API.example.com.`. An argument is location-like when its name says so (path, file, dir,
// url, uri, host...) or its tool's input schema gives it a URI or host-name format.
import type { ASTNode } from '@marcbachmann/cel-js';
import { displayKey } from './condition.ts';
import { shapeChild, type Shape } from './context-shape.ts';

/** What kind of location an argument holds, and so which functions compare it. */
export type LocationKind = 'path' | 'url' | 'host';

/** A plain-text comparison of a location argument. */
export interface LocationComparison {
  /** Offset of the comparison in the expression. */
  start: number;
  /** The argument, e.g. `action.args.path`. */
  field: string;
  /** path, url or host. */
  kind: LocationKind;
  /** How it is compared: `startsWith()`, `==`... */
  how: string;
}

const textMethods = new Set(['startsWith', 'endsWith', 'contains', 'matches']);
const comparisons = new Set(['==', '!=', 'in']);

const urlWords = new Set(['url', 'urls', 'uri', 'uris', 'href', 'endpoint', 'link', 'links']);
const hostWords = new Set(['host', 'hosts', 'hostname', 'hostnames', 'domain', 'domains']);
const pathWords = new Set([
  'path',
  'paths',
  'filepath',
  'file',
  'files',
  'filename',
  'filenames',
  'dir',
  'dirs',
  'directory',
  'folder',
  'folders',
]);
const urlFormats = new Set(['uri', 'uri-reference', 'iri', 'iri-reference', 'url']);
const hostFormats = new Set(['hostname', 'idn-hostname']);

/** The location kind a field name suggests: `path`, `file_path`, `sourceFile`, `target_url`, `host`... */
export function locationKindOfName(name: string): LocationKind | undefined {
  // The last word of snake_case, kebab-case or camelCase: `profile` is not a file, `source_file` is.
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[_\-.\s]+/)
    .filter(Boolean);
  const last = words.at(-1) ?? '';
  if (urlWords.has(last)) return 'url';
  if (hostWords.has(last)) return 'host';
  if (pathWords.has(last)) return 'path';
  return undefined;
}

function locationKindOfShape(shape: Shape | undefined): LocationKind | undefined {
  if (!shape?.format) return undefined;
  if (urlFormats.has(shape.format)) return 'url';
  if (hostFormats.has(shape.format)) return 'host';
  return undefined;
}

/** The `action.args...` path a node reads, when it is a plain chain of field reads. */
export function argumentPath(node: ASTNode): string[] | undefined {
  const segments: string[] = [];
  let cursor: ASTNode = node;
  for (;;) {
    if (cursor.op === '.' || cursor.op === '.?') {
      const [object, field] = cursor.args as [ASTNode, string];
      segments.unshift(field);
      cursor = object;
    } else if (
      (cursor.op === '[]' || cursor.op === '[?]') &&
      (cursor.args as [ASTNode, ASTNode])[1].op === 'value' &&
      typeof (cursor.args as [ASTNode, ASTNode])[1].args === 'string'
    ) {
      const [object, index] = cursor.args as [ASTNode, ASTNode];
      segments.unshift(index.args as string);
      cursor = object;
    } else break;
  }
  if (cursor.op !== 'id' || cursor.args !== 'action' || segments[0] !== 'args' || segments.length < 2) return undefined;
  return ['action', ...segments];
}

/**
 * Finds comparisons of location arguments as plain text in a condition. `args` is the shape of
 * the tool's arguments, when known, so schema formats count too.
 */
export function locationComparisons(ast: ASTNode, args?: Shape): LocationComparison[] {
  const found: LocationComparison[] = [];
  const kindOf = (node: ASTNode): { field: string; kind: LocationKind } | undefined => {
    const segments = argumentPath(node);
    if (!segments) return undefined;
    let kind = locationKindOfName(segments.at(-1)!);
    if (!kind && args) {
      let shape: Shape | undefined = args;
      for (const segment of segments.slice(2)) shape = shape ? shapeChild(shape, segment) : undefined;
      kind = locationKindOfShape(shape);
    }
    return kind ? { field: displayKey(segments), kind } : undefined;
  };
  const visit = (node: ASTNode): void => {
    if (node.op === 'rcall') {
      const [name, receiver] = node.args as [string, ASTNode, ASTNode[]];
      const location = textMethods.has(name) ? kindOf(receiver) : undefined;
      if (location) found.push({ start: node.range.start, ...location, how: `${name}()` });
    } else if (comparisons.has(node.op)) {
      const [left, right] = node.args as [ASTNode, ASTNode];
      const isNull = (side: ASTNode): boolean => side.op === 'value' && side.args === null;
      const location = !isNull(left) && !isNull(right) ? (kindOf(left) ?? (node.op === 'in' ? undefined : kindOf(right))) : undefined;
      if (location) found.push({ start: node.range.start, ...location, how: node.op });
    }
    const children = node.args as unknown;
    const each = (child: unknown): void => {
      if (child && typeof child === 'object' && 'op' in child) visit(child as ASTNode);
      else if (Array.isArray(child)) for (const item of child) each(item);
    };
    each(children);
  };
  visit(ast);
  return found;
}

/** How a kind of location can be written differently, for lint messages. */
export const LOCATION_VARIANTS: Readonly<Record<LocationKind, string>> = {
  path: './, .., // and encoded separators',
  url: 'case, default ports, dot segments and user names',
  host: 'case, a trailing dot and IDNA',
};

/** The functions that compare a kind of location, for lint messages. */
export const LOCATION_FUNCTIONS: Readonly<Record<LocationKind, string>> = {
  path: 'path.within(…, "folder") or path.normalize(…)',
  url: 'url.within(…, "https://host/base/"), url.host(…) or url.normalize(…)',
  host: 'host.within(…, "example.com") or host.normalize(…)',
};

/** A division or remainder by a tool argument the tool's schema does not keep above zero. */
export interface UnboundedDivisor {
  /** Offset of the division in the expression. */
  start: number;
  /** The divisor, e.g. `action.args.quantity`. */
  field: string;
}

/**
 * Divisions by arguments whose schema (`args`) allows zero or less: zero fails the condition
 * (closed), but a negative divisor silently flips a comparison (`total / quantity > 1000`).
 */
export function unboundedDivisors(ast: ASTNode, args: Shape): UnboundedDivisor[] {
  const found: UnboundedDivisor[] = [];
  const visit = (node: ASTNode): void => {
    if (node.op === '/' || node.op === '%') {
      const divisor = (node.args as [ASTNode, ASTNode])[1];
      const segments = argumentPath(divisor);
      if (segments) {
        let shape: Shape | undefined = args;
        for (const segment of segments.slice(2)) shape = shape ? shapeChild(shape, segment) : undefined;
        const numeric = shape?.type.some((type) => type === 'number' || type === 'integer' || type === 'any') ?? false;
        if (shape && numeric && !shape.positive) found.push({ start: node.range.start, field: displayKey(segments) });
      }
    }
    const each = (child: unknown): void => {
      if (child && typeof child === 'object' && 'op' in child) visit(child as ASTNode);
      else if (Array.isArray(child)) for (const item of child) each(item);
    };
    each(node.args as unknown);
  };
  visit(ast);
  return found;
}
