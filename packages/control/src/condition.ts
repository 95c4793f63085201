// Rule conditions: CEL compiled once at load through @marcbachmann/cel-js, with a static pass
// over the syntax tree that (1) checks every field a condition reads against the documented
// context (and, for lint, against tool input schemas), (2) checks comparisons for mismatched
// types, and (3) records which paths a condition reads, so a decision can show the values its
// condition saw.
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import { bindEvaluator, CONDITION_COST_LIMIT, divide, installExtensions, meteredEvaluation } from './condition-extensions.ts';
import { contextShape, describeShape, shapeAllows, shapeChild, shapeItems, type Shape, type ValueType } from './context-shape.ts';
import { regexSyntaxProblem } from './safe-regex.ts';

/** A problem in a condition, with its position inside the expression (0-based offsets). */
export interface ConditionProblem {
  /** One sentence. */
  message: string;
  /** Offset of the offending part in the expression. */
  start: number;
  /** End offset (exclusive). */
  end: number;
}

/** A field path a condition reads, e.g. `action.args.amount`. */
export interface ConditionPath {
  /** Dotted display key, as it appears in Decision values. */
  key: string;
  /** Root variable then field names. */
  segments: readonly string[];
}

/** A compiled condition, ready to evaluate. */
export interface CompiledCondition {
  /** The CEL source. */
  expression: string;
  /** Evaluates against an activation of the context variables, within the cost limit; throws on run-time errors (ConditionCostError when over the limit). */
  evaluate: (activation: Record<string, unknown>) => unknown;
  /** Paths the condition reads, for the values a decision reports. */
  paths: readonly ConditionPath[];
  /** Whether the condition reads `now`. */
  readsNow: boolean;
  /** The syntax tree, for later type checks against tool schemas. */
  ast: ASTNode;
}

/** Thrown by compileCondition. */
export class ConditionError extends Error {
  /** Every problem found, first one in `message`. */
  readonly problems: ConditionProblem[];
  constructor(problems: ConditionProblem[]) {
    super(problems[0]?.message ?? 'Invalid condition.');
    this.name = 'ConditionError';
    this.problems = problems;
  }
}

/** The variables a condition can read. */
export const CONTEXT_VARIABLES = ['action', 'agent', 'principal', 'run', 'data', 'model', 'eval', 'now'] as const;

const numericOperators = ['+', '-', '*', '/'] as const;

/**
 * One environment for every condition: building one is expensive, parsing with it is cheap and
 * re-entrant. Numbers from JSON arrive as CEL doubles while literals like `100` are ints, so
 * mixed arithmetic is promoted to double (`action.args.amount * 2` works as a risk officer expects).
 */
function createEnvironment(): Environment {
  const environment = new Environment({
    enableOptionalTypes: true,
    homogeneousAggregateLiterals: false,
    limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 1_000, maxMapEntries: 1_000, maxCallArguments: 32 },
  })
    .registerVariable('action', 'map', { description: 'The action: kind, name, args.' })
    .registerVariable('agent', 'map', { description: 'The agent: id, team, tags.' })
    .registerVariable('principal', 'map', { description: 'On whose behalf: id, roles.' })
    .registerVariable('run', 'map', { description: 'Run counters: steps, tool_calls, tokens, cost_usd, elapsed_ms.' })
    .registerVariable('data', 'map', { description: 'Data touched so far: classifications, collections.' })
    .registerVariable('model', 'map', {
      description:
        'The model registry entry of the model a model action calls: registered, id, version, owner, classifications, residency.',
    })
    .registerVariable('eval', 'map', {
      description: 'The recorded evaluation of what a promotion promotes: found, passed, scores, suite, record.',
    })
    .registerVariable('now', 'google.protobuf.Timestamp', { description: 'Decision time.' });
  for (const operator of numericOperators) {
    const apply = (left: number, right: number): number =>
      operator === '+' ? left + right : operator === '-' ? left - right : operator === '*' ? left * right : divide(left, right);
    environment.registerOperator(`double ${operator} int: double`, (left: number, right: bigint) => apply(left, Number(right)));
    environment.registerOperator(`int ${operator} double: double`, (left: bigint, right: number) => apply(Number(left), right));
  }
  installExtensions(environment);
  bindEvaluator(environment);
  return environment;
}

let sharedEnvironment: Environment | undefined;
function environment(): Environment {
  sharedEnvironment ??= createEnvironment();
  return sharedEnvironment;
}

/** Parses, type-checks and analyses a condition; throws ConditionError with positions on any problem. */
export function compileCondition(expression: string): CompiledCondition {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = environment().parse(expression);
  } catch (error) {
    throw new ConditionError([celProblem(error, expression)]);
  }
  const analysis = analyzeCondition(parsed.ast, contextShape());
  if (analysis.problems.length > 0) throw new ConditionError(analysis.problems);
  let checked: ReturnType<typeof parsed.check>;
  try {
    checked = parsed.check();
  } catch (error) {
    throw new ConditionError([celProblem(error, expression)]);
  }
  if (!checked.valid) throw new ConditionError([celProblem(checked.error, expression)]);
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    throw new ConditionError([
      {
        message: `A condition must be true or false, but this one gives ${/^[aeiou]/.test(checked.type ?? '') ? 'an' : 'a'} ${checked.type}.`,
        start: 0,
        end: expression.length,
      },
    ]);
  }
  const evaluate = (activation: Record<string, unknown>): unknown => meteredEvaluation(CONDITION_COST_LIMIT, () => parsed(activation));
  return { expression, evaluate, paths: analysis.paths, readsNow: analysis.readsNow, ast: parsed.ast };
}

/** Turns an error from cel-js into a one-sentence problem with a position. */
export function celProblem(error: unknown, expression: string): ConditionProblem {
  const candidate = error as { summary?: string; message?: string; range?: { start: number; end: number } } | undefined;
  const summary = candidate?.summary ?? (candidate?.message ?? String(error)).split('\n')[0] ?? 'invalid expression';
  const start = Math.max(0, Math.min(candidate?.range?.start ?? 0, expression.length));
  const end = Math.max(start, Math.min(candidate?.range?.end ?? expression.length, expression.length));
  return { message: `CEL: ${summary.replace(/\.$/, '')}.`, start, end };
}

/** What the static pass found. */
export interface ConditionAnalysis {
  /** Paths read, deduplicated, in order of appearance. */
  paths: ConditionPath[];
  /** Whether `now` is read. */
  readsNow: boolean;
  /** Fields that do not exist and comparisons between mismatched types. */
  problems: ConditionProblem[];
}

/**
 * Walks a condition's syntax tree against the shapes of the context variables. Reads inside
 * `has(...)`, behind `.?`, or on the right of `has(x) && ...` are allowed to be missing.
 */
export function analyzeCondition(ast: ASTNode, shapes: Readonly<Record<string, Shape>>): ConditionAnalysis {
  const paths = new Map<string, ConditionPath>();
  const problems: ConditionProblem[] = [];
  let readsNow = false;

  interface Scope {
    bound: ReadonlyMap<string, Shape>;
    guarded: ReadonlySet<string>;
  }

  /** Resolves a select chain; returns its shape (or undefined when unknown) and records the path. */
  function resolve(node: ASTNode, scope: Scope, tolerateMissingLeaf: boolean): Shape | undefined {
    const chain: Array<{ name: string; node: ASTNode; optional: boolean }> = [];
    let cursor: ASTNode = node;
    for (;;) {
      if (cursor.op === '.' || cursor.op === '.?') {
        const [object, field] = cursor.args as [ASTNode, string];
        chain.unshift({ name: field, node: cursor, optional: cursor.op === '.?' });
        cursor = object;
      } else if (
        (cursor.op === '[]' || cursor.op === '[?]') &&
        (cursor.args as [ASTNode, ASTNode])[1].op === 'value' &&
        typeof (cursor.args as [ASTNode, ASTNode])[1].args === 'string'
      ) {
        const [object, index] = cursor.args as [ASTNode, ASTNode];
        chain.unshift({ name: index.args as string, node: cursor, optional: cursor.op === '[?]' });
        cursor = object;
      } else break;
    }
    if (cursor.op !== 'id') {
      visit(cursor, scope);
      return undefined;
    }
    const root = cursor.args as string;
    const boundShape = scope.bound.get(root);
    let shape: Shape | undefined = boundShape ?? (Object.hasOwn(shapes, root) ? shapes[root] : undefined);
    if (!boundShape) {
      if (root === 'now') readsNow = true;
      if ((CONTEXT_VARIABLES as readonly string[]).includes(root)) {
        const segments = [root, ...chain.map((step) => step.name)];
        const key = displayKey(segments);
        if (!paths.has(key)) paths.set(key, { key, segments });
      }
    }
    let walked = root;
    for (let index = 0; index < chain.length && shape; index += 1) {
      const step = chain[index]!;
      const next = shapeChild(shape, step.name);
      const isLeaf = index === chain.length - 1;
      const key = `${walked}.${step.name}`;
      if (next === undefined) {
        const guarded = step.optional || (isLeaf && tolerateMissingLeaf) || scope.guarded.has(key);
        if (!guarded) {
          const fields = shape.properties ? Object.keys(shape.properties) : [];
          const suggestion = closest(step.name, fields);
          const end = step.node.range.end;
          const start =
            step.node.op === '.' || step.node.op === '.?' ? Math.max(step.node.range.start, end - step.name.length) : step.node.range.start;
          problems.push({
            message: `${walked} has no field '${step.name}'${suggestion ? `; did you mean '${suggestion}'?` : '.'}${fields.length > 0 ? ` Fields: ${fields.join(', ')}.` : ''}`,
            start,
            end,
          });
        }
        return undefined;
      }
      shape = next;
      walked = key;
    }
    return shape;
  }

  /** The static type of a simple operand (literal or path), or undefined. */
  function operandType(node: ASTNode, scope: Scope): { shape: Shape; label: string } | undefined {
    if (node.op === 'value') {
      const type = literalType(node.args);
      return type
        ? { shape: { type: [type], ...(type === 'null' ? {} : { enum: [normalizeLiteral(node.args)] }) }, label: literalLabel(node.args) }
        : undefined;
    }
    if (node.op === '-_' && (node.args as ASTNode).op === 'value') {
      const type = literalType((node.args as ASTNode).args);
      return type ? { shape: { type: [type] }, label: `-${literalLabel((node.args as ASTNode).args)}` } : undefined;
    }
    if (node.op === 'list') {
      const items = (node.args as ASTNode[]).map((item) => operandType(item, scope));
      const itemTypes = items.every(Boolean) ? [...new Set(items.flatMap((item) => item!.shape.type))] : undefined;
      const values = items.every((item) => item?.shape.enum) ? items.flatMap((item) => item!.shape.enum!) : undefined;
      return {
        shape: { type: ['list'], ...(itemTypes ? { items: { type: itemTypes, ...(values ? { enum: values } : {}) } } : {}) },
        label: 'a list',
      };
    }
    if (node.op === '.' || node.op === '.?' || node.op === '[]' || node.op === '[?]' || node.op === 'id') {
      const shape = resolve(node, scope, false);
      return shape && !shape.type.includes('any') ? { shape, label: sourceText(node) } : undefined;
    }
    visit(node, scope);
    return undefined;
  }

  function checkComparison(node: ASTNode, scope: Scope): void {
    const [leftNode, rightNode] = node.args as [ASTNode, ASTNode];
    const left = operandType(leftNode, scope);
    const right = operandType(rightNode, scope);
    if (!left || !right) return;
    const operator = node.op;
    if (operator === 'in') {
      if (right.shape.type.includes('list') && right.shape.items && !right.shape.items.type.includes('any')) {
        if (!compatible(left.shape.type, right.shape.items.type)) {
          problems.push(
            mismatch(
              node,
              `${left.label} (${describeShape(left.shape)}) can never be in ${right.label}, which holds ${describeShape(right.shape.items)} values`,
            ),
          );
        } else checkEnum(node, left.shape, right.shape.items, left.label, right.label);
      } else if (right.shape.type.every((type) => type !== 'list' && type !== 'map' && type !== 'string' && type !== 'any')) {
        problems.push(mismatch(node, `'in' needs a list or map on its right, but ${right.label} is ${describeShape(right.shape)}`));
      }
      return;
    }
    if (!compatible(left.shape.type, right.shape.type)) {
      problems.push(
        mismatch(node, `compares ${left.label} (${describeShape(left.shape)}) with ${right.label} (${describeShape(right.shape)})`),
      );
      return;
    }
    if (operator === '==' || operator === '!=') checkEnum(node, left.shape, right.shape, left.label, right.label);
    else if (left.shape.type.every((type) => type === 'boolean' || type === 'map' || type === 'list' || type === 'null')) {
      problems.push(
        mismatch(node, `orders ${left.label}, which is ${describeShape(left.shape)}; only numbers, strings and times can be ordered`),
      );
    }
  }

  function checkEnum(node: ASTNode, left: Shape, right: Shape, leftLabel: string, rightLabel: string): void {
    if (left.enum && right.enum && !left.enum.some((value) => right.enum!.some((other) => literalEquals(value, other)))) {
      const [field, literal] = left.enum.length > right.enum.length ? [left, rightLabel] : [right, leftLabel];
      problems.push(
        mismatch(node, `${literal} is never one of the allowed values ${field.enum!.map((value) => JSON.stringify(value)).join(', ')}`),
      );
    }
  }

  function mismatch(node: ASTNode, text: string): ConditionProblem {
    return { message: `Type mismatch: ${text}.`, start: node.range.start, end: node.range.end };
  }

  function checkReceiver(node: ASTNode, scope: Scope): void {
    const [name, receiver, args] = node.args as [string, ASTNode, ASTNode[]];
    const expected = receiverTypes[name];
    if (expected && !(receiver.op === 'id' && receiver.args === 'cel')) {
      const typed = operandType(receiver, scope);
      if (typed && !typed.shape.type.some((type) => expected.includes(type))) {
        problems.push(
          mismatch(node, `${name}() is called on ${typed.label}, which is ${describeShape(typed.shape)}, not ${expected.join(' or ')}`),
        );
      }
    } else if (!(receiver.op === 'id' && receiver.args === 'cel')) visit(receiver, scope);
    for (const argument of args) visit(argument, scope);
    // A literal pattern RE2 cannot compile is a mistake in the policy, not a run-time failure.
    const pattern = args[0];
    if (name === 'matches' && pattern?.op === 'value' && typeof pattern.args === 'string') {
      const problem = regexSyntaxProblem(pattern.args);
      if (problem) problems.push({ message: problem, start: pattern.range.start, end: pattern.range.end });
    }
  }

  function visitMacro(node: ASTNode, scope: Scope): boolean {
    const [name, receiver, args] = node.args as [string, ASTNode, ASTNode[]];
    const macro = ['all', 'exists', 'exists_one', 'map', 'filter'].includes(name);
    const bind = name === 'bind' && receiver.op === 'id' && receiver.args === 'cel';
    if (!macro && !bind) return false;
    const variable = args[0]?.op === 'id' ? (args[0].args as string) : undefined;
    if (!variable) return false;
    let variableShape: Shape = { type: ['any'] };
    if (bind) {
      const initial = args[1] ? operandType(args[1], scope) : undefined;
      if (initial) variableShape = initial.shape;
    } else {
      const collection = operandType(receiver, scope);
      if (collection) variableShape = shapeItems(collection.shape) ?? { type: ['any'] };
    }
    const bound = new Map(scope.bound);
    bound.set(variable, variableShape);
    const inner: Scope = { bound, guarded: scope.guarded };
    for (const argument of args.slice(bind ? 2 : 1)) visit(argument, inner);
    return true;
  }

  function hasPaths(node: ASTNode, into: Set<string>): void {
    if (node.op === 'call' && (node.args as [string, ASTNode[]])[0] === 'has') {
      const target = (node.args as [string, ASTNode[]])[1][0];
      if (target) into.add(sourceKey(target));
    } else if (node.op === '&&') for (const side of node.args as [ASTNode, ASTNode]) hasPaths(side, into);
  }

  function visit(node: ASTNode, scope: Scope): void {
    switch (node.op) {
      case 'value':
        return;
      case 'id':
      case '.':
      case '.?':
      case '[]':
      case '[?]':
        if ((node.op === '[]' || node.op === '[?]') && (node.args as [ASTNode, ASTNode])[1].op !== 'value') {
          visit((node.args as [ASTNode, ASTNode])[0], scope);
          visit((node.args as [ASTNode, ASTNode])[1], scope);
          return;
        }
        resolve(node, scope, false);
        return;
      case 'call': {
        const [name, args] = node.args as [string, ASTNode[]];
        if (name === 'has' && args[0]) {
          resolve(args[0], scope, true);
          return;
        }
        for (const argument of args) visit(argument, scope);
        return;
      }
      case 'rcall':
        if (!visitMacro(node, scope)) checkReceiver(node, scope);
        return;
      case '&&': {
        const [left, right] = node.args as [ASTNode, ASTNode];
        visit(left, scope);
        const guarded = new Set(scope.guarded);
        hasPaths(left, guarded);
        visit(right, { bound: scope.bound, guarded });
        return;
      }
      case '?:': {
        const [condition, then, otherwise] = node.args as [ASTNode, ASTNode, ASTNode];
        visit(condition, scope);
        const guarded = new Set(scope.guarded);
        hasPaths(condition, guarded);
        visit(then, { bound: scope.bound, guarded });
        visit(otherwise, scope);
        return;
      }
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
      case 'in':
        checkComparison(node, scope);
        return;
      case 'list':
        for (const item of node.args as ASTNode[]) visit(item, scope);
        return;
      case 'map':
        for (const [key, value] of node.args as Array<[ASTNode, ASTNode]>) {
          visit(key, scope);
          visit(value, scope);
        }
        return;
      case '!_':
      case '-_':
        visit(node.args as ASTNode, scope);
        return;
      default: {
        const args = node.args as unknown;
        if (Array.isArray(args))
          for (const child of args) if (child && typeof child === 'object' && 'op' in child) visit(child as ASTNode, scope);
      }
    }
  }

  visit(ast, { bound: new Map(), guarded: new Set() });
  return { paths: [...paths.values()], readsNow, problems };
}

/** Methods whose receiver must have one of these types. */
const receiverTypes: Record<string, ValueType[]> = {
  startsWith: ['string'],
  endsWith: ['string'],
  contains: ['string'],
  matches: ['string'],
  lowerAscii: ['string'],
  upperAscii: ['string'],
  trim: ['string'],
  indexOf: ['string'],
  lastIndexOf: ['string'],
  substring: ['string'],
  getFullYear: ['timestamp'],
  getMonth: ['timestamp'],
  getDayOfMonth: ['timestamp'],
  getDayOfWeek: ['timestamp'],
  getDayOfYear: ['timestamp'],
  getHours: ['timestamp'],
  getMinutes: ['timestamp'],
  getSeconds: ['timestamp'],
  getMilliseconds: ['timestamp'],
};

function compatible(left: readonly ValueType[], right: readonly ValueType[]): boolean {
  if (left.includes('any') || right.includes('any') || left.includes('null') || right.includes('null')) return true;
  const numeric = (types: readonly ValueType[]): boolean => types.includes('number') || types.includes('integer');
  if (numeric(left) && numeric(right)) return true;
  return left.some((type) => right.includes(type) || shapeAllows({ type: right as ValueType[] }, type));
}

function literalType(value: unknown): ValueType | undefined {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'bigint') return 'integer';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (value === null) return 'null';
  if (value && typeof value === 'object' && 'value' in value && typeof (value as { value: unknown }).value === 'bigint') return 'integer';
  return undefined;
}

function normalizeLiteral(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value && typeof value === 'object' && 'value' in value) return Number((value as { value: bigint }).value);
  return value;
}

function literalEquals(left: unknown, right: unknown): boolean {
  return normalizeLiteral(left) === normalizeLiteral(right);
}

function literalLabel(value: unknown): string {
  if (typeof value === 'bigint') return String(value);
  if (value && typeof value === 'object' && 'value' in value) return `${String((value as { value: bigint }).value)}u`;
  return JSON.stringify(value) ?? String(value);
}

function sourceText(node: ASTNode): string {
  return node.input.slice(node.range.start, node.range.end);
}

function sourceKey(node: ASTNode): string {
  const parts: string[] = [];
  let cursor: ASTNode = node;
  while (cursor.op === '.' || cursor.op === '.?') {
    const [object, field] = cursor.args as [ASTNode, string];
    parts.unshift(field);
    cursor = object;
  }
  if (cursor.op === 'id') parts.unshift(cursor.args as string);
  return parts.join('.');
}

const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `action.args.amount`, or `action.args["a-b"]` for keys that are not identifiers. */
export function displayKey(segments: readonly string[]): string {
  let key = '';
  for (const segment of segments) {
    if (key === '') key = segment;
    else key += identifierPattern.test(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`;
  }
  return key;
}

/** The closest of the candidates to a misspelt name, if any is close. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(left: string, right: string): number {
  if (left.length > 64 || right.length > 64) return Number.POSITIVE_INFINITY;
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let row = 1; row <= left.length; row += 1) {
    const current = [row];
    for (let column = 1; column <= right.length; column += 1) {
      const cost = left[row - 1] === right[column - 1] ? 0 : 1;
      current[column] = Math.min(previous[column]! + 1, current[column - 1]! + 1, previous[column - 1]! + cost);
    }
    previous = current;
  }
  return previous[right.length]!;
}
