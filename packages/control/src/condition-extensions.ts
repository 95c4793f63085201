// What conditions get beyond cel-js's standard library, and the guards that keep an evaluation
// bounded and type-safe:
// - `matches` with RE2 syntax in linear time (safe-regex.ts) instead of JavaScript's RegExp;
// - a cost limit per evaluation, counted like cel-go's runtime cost (one unit per expression
//   node evaluated, string and regex work by size), so no input can make one decision expensive;
// - comparing values of different types (`"12345" == 12345`) is an error rather than false, and
//   a number that is NaN or infinite (0.0/0.0, 1.0/0.0, NaN in the input) is an error rather than
//   a value, so such a condition fails and decide() fails closed;
// - `path.*`, `url.*` and `host.*` functions (path-functions.ts).
// cel-js has no cost tracking and no way to replace a built-in overload, so two things here
// reach into the environment's own evaluator: its `run` (through which every sub-expression is
// evaluated) is wrapped to count and check, and the `string.matches` declaration of this
// environment's registry gets the RE2 handler. verifyExtensions() proves both took effect when
// the environment is built, so a cel-js upgrade that moves them fails loudly, never silently.
import type { Environment } from '@marcbachmann/cel-js';
import {
  hostWithin,
  isAbsolutePath,
  normalizeHost,
  normalizePath,
  normalizeUrl,
  pathWithin,
  urlHost,
  urlWithin,
} from './path-functions.ts';
import { regexMatches } from './safe-regex.ts';

/** Cost units one condition may spend per evaluation; cel-go's unit (Kubernetes allows 1,000,000 per expression). */
export const CONDITION_COST_LIMIT = 1_000_000;

/** Thrown when a condition's evaluation exceeds its cost limit. */
export class ConditionCostError extends Error {
  /** The limit that was exceeded. */
  readonly limit: number;
  constructor(limit: number) {
    super(`the condition exceeded its cost limit of ${limit.toLocaleString('en-US')} units per evaluation`);
    this.name = 'ConditionCostError';
    this.limit = limit;
  }
}

interface Meter {
  active: boolean;
  used: number;
  limit: number;
}

// decide() is synchronous, so one meter serves every evaluation; it is saved and restored around
// each, in case a function ever evaluates a condition inside another.
const meter: Meter = { active: false, used: 0, limit: CONDITION_COST_LIMIT };

/** Runs one evaluation under a fresh cost budget; throws ConditionCostError when it runs out. */
export function meteredEvaluation<T>(limit: number, evaluation: () => T): T {
  const saved = { active: meter.active, used: meter.used, limit: meter.limit };
  meter.active = true;
  meter.used = 0;
  meter.limit = limit;
  try {
    return evaluation();
  } catch (error) {
    // Whatever error surfaced (cel-js may report a later one), running out of budget is the cause.
    if (meter.used > meter.limit) throw new ConditionCostError(limit);
    throw error;
  } finally {
    meter.active = saved.active;
    meter.used = saved.used;
    meter.limit = saved.limit;
  }
}

/** Charges work done outside expression nodes (string and regex functions). */
function charge(units: number): void {
  if (!meter.active) return;
  meter.used += units;
  if (meter.used > meter.limit) throw new ConditionCostError(meter.limit);
}

/** cel-go's cost of traversing a string: a tenth of a unit per character. */
function traversal(text: string): number {
  return Math.ceil((1 + text.length) * 0.1);
}

interface Declaration {
  signature: string;
  handler: (...args: never[]) => unknown;
}

interface Evaluator {
  run(node: EvaluatedNode, context: unknown): unknown;
  registry: {
    functionCandidates(receiver: boolean, name: string, arity: number): { declarations: Declaration[] };
    operatorCandidates(operator: string): { declarations: Declaration[] };
  };
}

interface EvaluatedNode {
  op: string;
  start: number;
  end: number;
  input: string;
  evaluate(evaluator: Evaluator, node: EvaluatedNode, context: unknown): unknown;
}

function meteredRun(this: Evaluator, node: EvaluatedNode, context: unknown): unknown {
  if (meter.active && ++meter.used > meter.limit) throw new ConditionCostError(meter.limit);
  const value = node.evaluate(this, node, context);
  if (typeof value === 'number' && !Number.isFinite(value)) throw nonFinite(node, value);
  return value;
}

function nonFinite(node: EvaluatedNode, value: number): Error {
  const source = node.input.slice(node.start, node.end);
  const text = source.length > 60 ? `${source.slice(0, 57)}...` : source;
  if (node.op === '/' || node.op === '%') return new Error(`division by zero in ${text}`);
  return new Error(`${text} is ${String(value)}, not a number a policy can compare`);
}

const typeWords: Record<string, string> = {
  bool: 'true or false',
  int: 'a number',
  uint: 'a number',
  double: 'a number',
  string: 'a string',
  bytes: 'bytes',
  list: 'a list',
  map: 'an object',
  'google.protobuf.Timestamp': 'a time',
  'google.protobuf.Duration': 'a duration',
};
const numericTypes = new Set(['int', 'uint', 'double']);

function valueWord(value: unknown): string {
  if (
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    (value !== null && typeof value === 'object' && 'valueOf' in value && typeof value.valueOf() === 'bigint')
  )
    return 'a number';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'true or false';
  if (Array.isArray(value) || value instanceof Set) return 'a list';
  if (value instanceof Date) return 'a time';
  if (value instanceof Uint8Array) return 'bytes';
  return 'an object';
}

function refuseComparison(left: unknown, right: unknown): never {
  // cel-js may hand a mirrored overload its operands swapped, so the words are in a fixed order.
  const [first, second] = [valueWord(left), valueWord(right)].sort();
  throw new Error(`compares ${first} with ${second}, and values of different types are never compared`);
}

/** Divisions with a literal int on one side (mixed arithmetic, see condition.ts) refuse a zero divisor. */
export function divide(left: number, right: number): number {
  if (right === 0) throw new Error('division by zero');
  return left / right;
}

class PathFunctions {}
class UrlFunctions {}
class HostFunctions {}

/** Adds the functions, overloads and guards above to an environment; call once, before any parse. */
export function installExtensions(environment: Environment): void {
  // Values of different types are never equal or unequal: the comparison is an error.
  // cel-js derives `!=` and the mirrored `==` from each registration.
  const types = Object.keys(typeWords);
  for (const [index, left] of types.entries()) {
    for (const right of types.slice(index + 1)) {
      if (numericTypes.has(left) && numericTypes.has(right)) continue;
      environment.registerOperator(`${left} == ${right}: bool`, refuseComparison);
    }
  }
  environment.registerType('aifactory.path', PathFunctions).registerConstant('path', 'aifactory.path', new PathFunctions());
  environment.registerType('aifactory.url', UrlFunctions).registerConstant('url', 'aifactory.url', new UrlFunctions());
  environment.registerType('aifactory.host', HostFunctions).registerConstant('host', 'aifactory.host', new HostFunctions());
  const unary =
    <T>(apply: (text: string) => T) =>
    (_namespace: unknown, text: string): T => {
      charge(traversal(text));
      return apply(text);
    };
  const binary =
    <T>(apply: (text: string, base: string) => T) =>
    (_namespace: unknown, text: string, base: string): T => {
      charge(traversal(text) + traversal(base));
      return apply(text, base);
    };
  environment
    .registerFunction('aifactory.path.normalize(string): string', unary(normalizePath), {
      description: 'A path with ./, duplicate slashes and .. resolved; fails on encoded or look-alike separators.',
    })
    .registerFunction('aifactory.path.within(string, string): bool', binary(pathWithin), {
      description: 'Whether a path is the base or inside it, both normalised.',
    })
    .registerFunction('aifactory.path.isAbsolute(string): bool', unary(isAbsolutePath), {
      description: 'Whether a path is absolute (/, ~ or a drive).',
    })
    .registerFunction('aifactory.url.normalize(string): string', unary(normalizeUrl), {
      description: 'The WHATWG normal form of an absolute URL.',
    })
    .registerFunction('aifactory.url.host(string): string', unary(urlHost), {
      description: 'The host of a URL, lower case, IDNA, no trailing dot.',
    })
    .registerFunction('aifactory.url.within(string, string): bool', binary(urlWithin), {
      description: "Whether a URL has the base URL's scheme, host and port and a path at or below its path.",
    })
    .registerFunction('aifactory.host.normalize(string): string', unary(normalizeHost), {
      description: 'A host name lower case, IDNA, no trailing dot.',
    })
    .registerFunction('aifactory.host.within(string, string): bool', binary(hostWithin), {
      description: 'Whether a host is the domain or one of its subdomains.',
    });
}

/** Wires the RE2 `matches` and the metered evaluator into a built environment, and proves both work. */
export function bindEvaluator(environment: Environment): void {
  const probe = environment.parse('true');
  probe.check();
  let evaluator: Evaluator | undefined;
  (probe.ast as unknown as { evaluate: (found: Evaluator) => boolean }).evaluate = (found) => {
    evaluator = found;
    return true;
  };
  probe({});
  if (!evaluator || typeof evaluator.run !== 'function' || typeof evaluator.registry?.functionCandidates !== 'function') {
    throw new Error('cel-js no longer exposes its evaluator as control/src/condition-extensions.ts expects; conditions cannot be bounded.');
  }
  evaluator.run = meteredRun;
  const candidates = evaluator.registry.functionCandidates(true, 'matches', 1);
  candidates.declarations = candidates.declarations.map((declaration) =>
    declaration.signature === 'string.matches(string): bool'
      ? (Object.create(declaration, {
          handler: {
            value: (text: string, pattern: string): boolean => {
              charge(traversal(text) * Math.ceil(pattern.length * 0.25));
              return regexMatches(text, pattern);
            },
          },
        }) as Declaration)
      : declaration,
  );
  // Membership is equality too: `"12345" in [12345]` is an error, not false, when no element of
  // the list has the value's type (a list of mixed types is searched as CEL says).
  const membership = evaluator.registry.operatorCandidates('in');
  membership.declarations = membership.declarations.map((declaration) => {
    if (declaration.signature !== 'V in list<V>: bool') return declaration;
    const original = declaration.handler as (value: unknown, list: unknown, ...rest: unknown[]) => unknown;
    return Object.create(declaration, {
      handler: {
        value: (value: unknown, list: unknown, ...rest: unknown[]): unknown => {
          const found = original(value, list, ...rest);
          if (found !== false || value === null || !(Array.isArray(list) || list instanceof Set)) return found;
          const kind = valueWord(value);
          let other: string | undefined;
          for (const element of list as Iterable<unknown>) {
            if (element === null) continue;
            const elementKind = valueWord(element);
            if (elementKind === kind) return found;
            other ??= elementKind;
          }
          if (other !== undefined)
            refuseComparison(
              value,
              [...(list as Iterable<unknown>)].find((element) => element !== null),
            );
          return found;
        },
      },
    }) as Declaration;
  });
  verifyExtensions(environment);
}

function verifyExtensions(environment: Environment): void {
  // `(?P<name>...)` is RE2 syntax JavaScript's RegExp rejects.
  let re2: boolean;
  try {
    re2 = environment.evaluate('"x".matches("(?P<n>x)")') === true;
  } catch {
    re2 = false;
  }
  let metered = false;
  try {
    meteredEvaluation(3, () => environment.evaluate('[1, 2, 3, 4].all(x, x > 0)'));
  } catch (error) {
    metered = error instanceof ConditionCostError;
  }
  let typedMembership = false;
  try {
    environment.evaluate('action.value in [1]', { action: { value: '1' } });
  } catch {
    typedMembership = true;
  }
  const missing = [re2 ? '' : 'RE2 matches', metered ? '' : 'cost meter', typedMembership ? '' : 'typed membership'].filter(Boolean);
  if (missing.length > 0)
    throw new Error(`cel-js did not take the ${missing.join(', ')} (control/src/condition-extensions.ts); conditions cannot be bounded.`);
}
