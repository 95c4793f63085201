// Fuzz: mutated policy documents give a policy or a clean AiFactoryError (with a location and a
// one-line message), never another exception or a hang.
import { readFileSync } from 'node:fs';
import { AiFactoryError } from '@aifactory/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import { compilePolicies, decide, parsePolicy } from '../src/index.ts';
import { action } from './helpers.ts';

const seeds = [
  '../../../policies/finance-ops/policy.yaml',
  '../../../policies/customer-support/policy.yaml',
  '../../../policies/data-access/policy.yaml',
  './fixtures/v1/complete.yaml',
].map((path) => readFileSync(new URL(path, import.meta.url), 'utf8'));
const yamlNoise = [
  ':',
  '{',
  '}',
  '[',
  ']',
  '&a',
  '*a',
  '!!binary',
  '|',
  '>',
  '-',
  "'",
  '"',
  '#',
  '%',
  '@',
  '`',
  '\t',
  '\n',
  '  ',
  '---',
  '...',
  '? ',
  '\\',
  '${',
  '<<: *a',
  '\u0000',
  '\uFEFF',
  'ü',
];

/** Parses one document; returns 'policy' or 'error' and fails the test on anything else. */
function parseSafely(text: string): 'policy' | 'error' {
  const started = performance.now();
  try {
    const policy = parsePolicy(text, 'fuzz.yaml');
    const decision = decide(compilePolicies([policy]), action('tool', 'payments.refund', { amount: 50 }));
    expect(['autonomous', 'notify_human', 'require_approval', 'deny']).toContain(decision.authority);
    return 'policy';
  } catch (error) {
    if (!(error instanceof AiFactoryError))
      throw new Error(`Not a clean error for:\n${text}\n${String((error as Error)?.stack ?? error)}`, { cause: error });
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.location?.file).toBe('fuzz.yaml');
    expect(error.message).not.toContain('\n');
    expect(error.format().length).toBeGreaterThan(0);
    return 'error';
  } finally {
    expect(performance.now() - started).toBeLessThan(2_000);
  }
}

const textMutation = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...yamlNoise), fc.string({ maxLength: 8 })),
  }),
  fc.record({ kind: fc.constant('swap-lines' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate-line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function applyText(
  text: string,
  mutation: fc.Arbitrary<unknown> extends never
    ? never
    : { kind: string; at: number; length?: number; text?: string; other?: number; by?: number },
): string {
  const at = mutation.at % Math.max(1, text.length);
  const lines = text.split('\n');
  const line = mutation.at % lines.length;
  switch (mutation.kind) {
    case 'delete':
      return text.slice(0, at) + text.slice(at + (mutation.length ?? 1));
    case 'insert':
      return text.slice(0, at) + (mutation.text ?? '') + text.slice(at);
    case 'swap-lines': {
      const other = (mutation.other ?? 0) % lines.length;
      [lines[line], lines[other]] = [lines[other]!, lines[line]!];
      return lines.join('\n');
    }
    case 'duplicate-line':
      lines.splice(line, 0, lines[line]!);
      return lines.join('\n');
    case 'indent': {
      const by = mutation.by ?? 0;
      lines[line] = by >= 0 ? ' '.repeat(by) + lines[line] : lines[line]!.replace(new RegExp(`^ {0,${-by}}`), '');
      return lines.join('\n');
    }
    default:
      return text.slice(0, at);
  }
}

/** Every path to a value in a plain JSON-like tree. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((item, index) => paths(item, [...prefix, index]))];
  if (value && typeof value === 'object') return [prefix, ...Object.entries(value).flatMap(([key, item]) => paths(item, [...prefix, key]))];
  return [prefix];
}

describe('fuzzing parsePolicy', () => {
  it('turns 700 text-mutated documents into policies or clean errors', () => {
    const outcomes = { policy: 0, error: 0 };
    fc.assert(
      fc.property(fc.nat({ max: seeds.length - 1 }), fc.array(textMutation, { minLength: 1, maxLength: 4 }), (seed, mutations) => {
        const text = mutations.reduce((current, mutation) => applyText(current, mutation), seeds[seed]!);
        outcomes[parseSafely(text)] += 1;
      }),
      { numRuns: 700, seed: 20_251_123 },
    );
    expect(outcomes.error).toBeGreaterThan(100);
  });

  it('turns 500 structurally mutated documents (wrong types, odd keys, huge values) into policies or clean errors', () => {
    const trees = seeds.map((text) => parseDocument(text).toJS() as Record<string, unknown>);
    const outcomes = { policy: 0, error: 0 };
    const replacement = fc.oneof(
      fc.anything({ maxDepth: 3 }),
      fc.constantFrom(
        '__proto__',
        'constructor',
        'deny',
        'allow',
        '*',
        '',
        'action.args.amount >',
        'now.getHours() > 3',
        '"x" in data.classifications',
        '[a-',
        '{a,b}',
        'db.drop*',
        -1,
        0,
        1e308,
        Number.NaN,
        null,
        true,
      ),
      fc.string({ maxLength: 300 }),
    );
    fc.assert(
      fc.property(
        fc.nat({ max: trees.length - 1 }),
        fc.array(fc.tuple(fc.nat(), replacement, fc.boolean()), { minLength: 1, maxLength: 3 }),
        (seed, edits) => {
          const tree = structuredClone(trees[seed]!);
          for (const [index, value, asKey] of edits) {
            const all = paths(tree).filter((path) => path.length > 0);
            const path = all[index % all.length]!;
            const parent = path
              .slice(0, -1)
              .reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], tree) as Record<string | number, unknown>;
            const key = path.at(-1)!;
            if (asKey && !Array.isArray(parent) && typeof value === 'string') {
              Object.defineProperty(parent, value, { value: parent[key], enumerable: true, configurable: true, writable: true });
              delete parent[key];
            } else parent[key] = value;
          }
          let text: string;
          try {
            text = stringify(tree);
          } catch {
            return;
          }
          outcomes[parseSafely(text)] += 1;
        },
      ),
      { numRuns: 500, seed: 4_242 },
    );
    expect(outcomes.policy + outcomes.error).toBeGreaterThan(400);
  });
});
