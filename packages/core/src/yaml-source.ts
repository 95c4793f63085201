// Reads a YAML document with positions, so that every problem found later (shape, CEL, globs)
// can name the file, line, column and field path it comes from. The one YAML reader of every
// definition file: policies, policy tests, lint input, agents, models, notification channels,
// model scripts, eval suites, prompts.
import { ErrorCode, UserError, type SourceLocation } from './errors.ts';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

/** One problem in a source file. */
export interface SourceProblem {
  /** One sentence: what is wrong and what would be right. */
  message: string;
  /** File, line, column and field path. */
  location: SourceLocation;
}

/** A path into a document: map keys and sequence indexes. */
export type DocumentPath = ReadonlyArray<string | number>;

/** Renders a path as `spec.rules[2].when`. */
export function formatPath(path: DocumentPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text;
}

/** How strictly a YamlSource reads its text. */
export interface YamlSourceOptions {
  /**
   * Whether the YAML parser's warnings (an unresolved tag, say) are problems that stop the
   * document being read (the default, as policies, policy tests, models, prompts and eval suites
   * always had it) or are only listed in `warnings` (as agents, notification channels and model
   * scripts always had it: parseYamlSource).
   */
  warningsAreProblems?: boolean;
  /**
   * YAML 1.2's rules that unambiguous content may break (a comment without a space before it,
   * a flow key over two lines) as errors (the default), or tolerated, as model scripts always had it.
   */
  strict?: boolean;
}

/** A parsed YAML document that can point at its own fields. */
export class YamlSource {
  /** File path or label. */
  readonly file: string;
  /** Source text. */
  readonly text: string;
  /** The document as plain data (undefined when the YAML itself is broken). */
  readonly value: unknown;
  /** YAML syntax problems; when non-empty, value is undefined. */
  readonly problems: SourceProblem[];
  /** The YAML parser's warnings, when they are not problems (`warningsAreProblems: false`). */
  readonly warnings: SourceProblem[];
  readonly #document: Document;
  readonly #lines: LineCounter;

  constructor(text: string, file: string, options: YamlSourceOptions = {}) {
    this.file = file;
    this.text = text;
    this.#lines = new LineCounter();
    this.#document = parseDocument(text, {
      lineCounter: this.#lines,
      prettyErrors: false,
      uniqueKeys: true,
      strict: options.strict ?? true,
    });
    const located = (error: { message: string; pos: [number, number] }): SourceProblem => ({
      message: `${yamlMessage(error.message)}.`,
      location: { file, ...this.#position(error.pos[0]) },
    });
    const warnings = this.#document.warnings.map(located);
    const warningsAreProblems = options.warningsAreProblems ?? true;
    this.problems = [...this.#document.errors.map(located), ...(warningsAreProblems ? warnings : [])];
    this.warnings = warningsAreProblems ? [] : warnings;
    let value: unknown;
    if (this.problems.length === 0) {
      try {
        // Aliases are expanded a bounded number of times (YAML "billion laughs").
        value = this.#document.toJS({ maxAliasCount: 100 });
      } catch (error) {
        this.problems.push({
          message: `${yamlMessage(error instanceof Error ? error.message : String(error))}.`,
          location: { file, line: 1, column: 1 },
        });
      }
    }
    this.value = value;
  }

  /** File, line and column of a field (the key itself when `key` is true), falling back to its nearest existing parent. */
  locate(path: DocumentPath, options: { key?: boolean } = {}): SourceLocation {
    let node: unknown = this.#document.contents;
    let keyNode: Node | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) =>
            (isScalar(item.key) ? item.key.value : item.key) === segment ||
            (isScalar(item.key) && String(item.key.value) === String(segment)),
        );
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value;
        if (node === null || node === undefined) break;
      } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
        node = node.items[segment];
        keyNode = undefined;
      } else break;
    }
    const target = options.key && keyNode ? keyNode : (node as Node | null)?.range ? (node as Node) : keyNode;
    const offset = target?.range?.[0] ?? 0;
    const formatted = formatPath(path);
    // The document itself has no field path to show.
    return { file: this.file, ...this.#position(offset), ...(formatted ? { path: formatted } : {}) };
  }

  /** Offset of a scalar's text in the file and its raw source, for mapping positions inside it (CEL). */
  scalarSource(path: DocumentPath): { offset: number; raw: string } | undefined {
    let node: unknown = this.#document.contents;
    for (const segment of path) {
      if (isMap(node)) node = node.get(segment, true);
      else if (isSeq(node) && typeof segment === 'number') node = node.items[segment];
      else return undefined;
    }
    if (!isScalar(node) || !node.range) return undefined;
    return { offset: node.range[0], raw: this.text.slice(node.range[0], node.range[1]) };
  }

  /** The parsed syntax tree, for readers that walk nodes themselves (model scripts). */
  get document(): Document {
    return this.#document;
  }

  /** Line and column of an offset in the file. */
  position(offset: number): { line: number; column: number } {
    return this.#position(offset);
  }

  /** Positions of every key and sequence item, by dotted path. */
  keyLocations(): Record<string, SourceLocation> {
    const locations: Record<string, SourceLocation> = Object.create(null) as Record<string, SourceLocation>;
    const visit = (node: unknown, path: Array<string | number>): void => {
      if (isMap(node)) {
        for (const pair of node.items) {
          const key = isScalar(pair.key) ? pair.key.value : undefined;
          if (typeof key !== 'string' && typeof key !== 'number') continue;
          const childPath = [...path, String(key)];
          const keyRange = (pair.key as Node | null)?.range;
          if (keyRange) locations[formatPath(childPath)] = { file: this.file, ...this.#position(keyRange[0]), path: formatPath(childPath) };
          visit(pair.value, childPath);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, index) => {
          const childPath = [...path, index];
          const range = (item as Node | null)?.range;
          if (range) locations[formatPath(childPath)] = { file: this.file, ...this.#position(range[0]), path: formatPath(childPath) };
          visit(item, childPath);
        });
      }
    };
    visit(this.#document.contents, []);
    return locations;
  }

  #position(offset: number): { line: number; column: number } {
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col };
  }
}

/** yaml's messages sometimes end with a period or carry a code prefix; keep one clean sentence. */
function yamlMessage(message: string): string {
  const firstLine = message.split('\n')[0] ?? message;
  return `YAML: ${firstLine.replace(/\.$/, '').replace(/ at line \d+, column \d+:?$/, '')}`;
}

/**
 * Parses YAML text for a reader that stops at the first syntax error: throws a UserError with
 * `code`, saying `<what> is not valid YAML: <problem>` at the problem's file, line and column. The
 * parser's warnings do not stop it (they are in `warnings`), as these readers (agents, notification
 * channels, model scripts) always had it; `strict: false` tolerates what YAML 1.2 may (model scripts).
 */
export function parseYamlSource(text: string, file: string, code: ErrorCode, what: string, options: { strict?: boolean } = {}): YamlSource {
  const source = new YamlSource(text, file, { ...options, warningsAreProblems: false });
  const [first] = source.problems;
  if (first) {
    const message = first.message.replace(/^YAML: /, '').replace(/\.$/, '');
    throw new UserError(code, `${what} is not valid YAML: ${message}`, { location: first.location });
  }
  return source;
}

/** The error parsePolicy and friends throw: the first problem as the message, all of them in details. */
export function problemsError(problems: SourceProblem[], subject = 'policy', code: ErrorCode = ErrorCode.PolicyInvalid): UserError {
  const [first] = problems;
  if (!first) return new UserError(code, `The ${subject} is invalid.`);
  return new UserError(code, problemsMessage(problems), {
    location: first.location,
    details: { problems: problems.map((problem) => ({ message: problem.message, location: problem.location })) },
  });
}

/** Problems of one file in reading order (line, then column); sorts in place and returns the array. */
export function sortProblems<T extends { location: SourceLocation }>(problems: T[]): T[] {
  return problems.sort(
    (left, right) => (left.location.line ?? 0) - (right.location.line ?? 0) || (left.location.column ?? 0) - (right.location.column ?? 0),
  );
}

/** One sentence for a list of problems: the first one's message and how many more there are. */
export function problemsMessage(problems: ReadonlyArray<{ message: string }>): string {
  const first = problems[0]?.message ?? 'Invalid.';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return `${first.replace(/\.$/, '')}${more}.`;
}

/** The problems carried by an error from problemsError (or a single one from any AiFactoryError-like error). */
export function problemsOf(error: unknown): SourceProblem[] {
  const details = (error as { details?: { problems?: unknown } } | null)?.details;
  if (details && Array.isArray(details.problems)) return details.problems as SourceProblem[];
  const location = (error as { location?: SourceLocation } | null)?.location ?? {};
  return [{ message: error instanceof Error ? error.message : String(error), location }];
}
