// zod issues as one-sentence problems located in the YAML source: unknown keys (with the valid
// keys and a "did you mean"), wrong types, values outside an enum, missing keys.
import type { z } from 'zod';
import { closest } from './condition.ts';
import { formatPath, type SourceProblem, type YamlSource } from '@aifactory/core/yaml';

type Issue = z.core.$ZodIssue;

/** zod issues -> problems with positions and plain-language messages. */
export function issueProblems(issues: readonly Issue[], source: YamlSource, root: unknown, schema: unknown): SourceProblem[] {
  return issues.flatMap((issue) => oneIssue(issue, source, root, schema));
}

function oneIssue(issue: Issue, source: YamlSource, root: unknown, schema: unknown): SourceProblem[] {
  const path = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
  const here = formatPath(path) || 'the document';
  const input = valueAt(root, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(schema, path);
      return issue.keys.map((key) => {
        const suggestion = closest(key, allowed);
        return {
          message: `Unknown key '${key}' in ${here}${suggestion ? `; did you mean '${suggestion}'?` : '.'}${allowed.length > 0 ? ` Valid keys: ${allowed.join(', ')}.` : ''}`,
          location: source.locate([...path, key], { key: true }),
        };
      });
    }
    case 'invalid_type': {
      if (input === undefined) {
        const parent = path.slice(0, -1);
        return [{ message: `The required key '${String(path.at(-1))}' is missing.`, location: source.locate(parent) }];
      }
      return [{ message: `Expected ${expectedWords(issue.expected)}, got ${describeValue(input)}.`, location: source.locate(path) }];
    }
    case 'invalid_value': {
      const values = issue.values.map((value) => String(value));
      if (path.at(-1) === 'authority' || path.at(-2) === 'default' || path.at(-1) === 'default') {
        return [
          { message: `${describeValue(input)} is not an authority; use one of ${values.join(', ')}.`, location: source.locate(path) },
        ];
      }
      return [
        {
          message: `${describeValue(input)} is not allowed here; use ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}.`,
          location: source.locate(path),
        },
      ];
    }
    case 'invalid_union': {
      // Report the branch that fits the input's type (e.g. the per-kind map of `default`).
      const branches = issue.errors.filter((branch) => branch.length > 0);
      const fitting =
        branches.find((branch) => branch.every((inner) => inner.code !== 'invalid_type' || inner.path.length > 0)) ??
        branches.find((branch) => branch.some((inner) => inner.path.length > 0));
      if (fitting)
        return fitting.flatMap((inner) => oneIssue({ ...inner, path: [...issue.path, ...inner.path] } as Issue, source, root, schema));
      const expected = branches.flatMap((branch) =>
        branch.map((inner) =>
          inner.code === 'invalid_type'
            ? expectedWords(inner.expected)
            : inner.code === 'invalid_value'
              ? `one of ${inner.values.join(', ')}`
              : inner.message,
        ),
      );
      if (path.at(-1) === 'default' && typeof input === 'string') {
        return [
          {
            message: `${describeValue(input)} is not an authority; use one of autonomous, notify_human, require_approval, deny.`,
            location: source.locate(path),
          },
        ];
      }
      return [{ message: `Expected ${[...new Set(expected)].join(' or ')}, got ${describeValue(input)}.`, location: source.locate(path) }];
    }
    case 'too_small':
      if (issue.origin === 'string') return [{ message: 'Must not be empty.', location: source.locate(path) }];
      if (issue.origin === 'array') return [{ message: `Must list at least ${String(issue.minimum)}.`, location: source.locate(path) }];
      return [{ message: `Must be at least ${String(issue.minimum)}, got ${describeValue(input)}.`, location: source.locate(path) }];
    case 'too_big':
      return [
        {
          message: `Must be at most ${String(issue.maximum)}${issue.origin === 'string' ? ' characters long' : ''}.`,
          location: source.locate(path),
        },
      ];
    case 'invalid_format':
      return [
        {
          message: `${describeValue(input)} ${issue.message.startsWith('must') ? issue.message : `is malformed (${issue.message})`}.`,
          location: source.locate(path),
        },
      ];
    default:
      return [{ message: `${issue.message.replace(/\.$/, '')}.`, location: source.locate(path) }];
  }
}

function expectedWords(expected: string): string {
  const words: Record<string, string> = {
    string: 'text',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
    record: 'a mapping',
  };
  return words[expected] ?? expected;
}

/** Short words for a value in messages: `'text'`, `a list`, `missing`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'empty (null)';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  return String(value);
}

function valueAt(root: unknown, path: ReadonlyArray<string | number>): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/** Keys valid at a path of the document, for "did you mean" hints. */
function allowedKeys(schema: unknown, path: ReadonlyArray<string | number>): string[] {
  const shape = path.reduce<unknown>((current, segment) => {
    if (!current) return undefined;
    const unwrapped = unwrap(current);
    if (typeof segment === 'number') return (unwrapped as { element?: unknown }).element;
    return (unwrapped as { shape?: Record<string, unknown> }).shape?.[segment];
  }, schema);
  const object = shape ? unwrap(shape) : undefined;
  const keys = (object as { shape?: Record<string, unknown> } | undefined)?.shape;
  return keys ? Object.keys(keys) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as { unwrap?: () => unknown; options?: unknown[]; shape?: unknown; element?: unknown };
  for (let depth = 0; depth < 8; depth += 1) {
    if (current.shape || current.element) return current;
    if (typeof current.unwrap === 'function') current = current.unwrap() as typeof current;
    else if (Array.isArray(current.options)) {
      const withShape = current.options.find(
        (option) => (option as { shape?: unknown; element?: unknown }).shape || (option as { element?: unknown }).element,
      );
      if (!withShape) return current;
      current = withShape as typeof current;
    } else return current;
  }
  return current;
}
